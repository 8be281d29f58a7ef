package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/redacttest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

var moto *motoserver.Server

func TestMain(m *testing.M) { motoserver.RunTests(m, &moto) }

func create(t *testing.T, api *secretsmanager.Client, name, value string) {
	t.Helper()
	if _, err := api.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}); err != nil {
		t.Fatal(err)
	}
}

func current(t *testing.T, api *secretsmanager.Client, name string) (value, version string) {
	t.Helper()
	out, err := api.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: aws.String(StageCurrent)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString), aws.ToString(out.VersionId)
}

func versions(t *testing.T, api *secretsmanager.Client, name string) int {
	t.Helper()
	out, err := api.ListSecretVersionIds(context.Background(), &secretsmanager.ListSecretVersionIdsInput{SecretId: &name, IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Versions)
}

func TestListSkillSecrets(t *testing.T) {
	api := moto.ResetT(t)
	prefix := "list-" + t.Name() + "/skills/"
	// 120 secrets make the listing span two pages of 100.
	var want []string
	for i := range 120 {
		name := fmt.Sprintf("%samzn1.ask.skill.%03d", prefix, i)
		create(t, api, name, `{}`)
		want = append(want, name)
	}
	create(t, api, strings.ToUpper(prefix)+"amzn1.ask.skill.upper", `{}`)
	create(t, api, strings.TrimSuffix(prefix, "/")+"-other", `{}`)
	create(t, api, "unrelated/"+prefix, `{}`)

	refs, err := New(api).ListSkillSecrets(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != len(want) {
		t.Fatalf("ListSkillSecrets = %d secrets; want %d", len(refs), len(want))
	}
	for i, r := range refs {
		if r.Name != want[i] || r.SkillID != strings.TrimPrefix(want[i], prefix) {
			t.Fatalf("refs[%d] = %+v; want %s", i, r, want[i])
		}
	}
}

func TestWriteSkill(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	name := "write/" + t.Name()
	create(t, api, name, `{"skillId":"amzn1.ask.skill.x"}`)
	v := SkillSecret{SkillID: "amzn1.ask.skill.x", ClientID: "client-1", ClientSecret: "secret-1"}

	changed, err := s.WriteSkill(ctx, name, v)
	if err != nil || !changed {
		t.Fatalf("first WriteSkill = %v, %v; want a write", changed, err)
	}
	got, _ := current(t, api, name)
	if want := `{"skillId":"amzn1.ask.skill.x","clientId":"client-1","clientSecret":"secret-1"}`; got != want {
		t.Fatalf("value = %s; want %s", got, want)
	}
	if changed, err := s.WriteSkill(ctx, name, v); err != nil || changed {
		t.Fatalf("unchanged WriteSkill = %v, %v; want no write", changed, err)
	}
	if n := versions(t, api, name); n != 2 {
		t.Fatalf("versions = %d; want 2 (placeholder and one write)", n)
	}

	// A → B → A makes three versions: the request token depends on the
	// version replaced, not on the value alone.
	b := v
	b.ClientSecret = "secret-2"
	for _, next := range []SkillSecret{b, v} {
		if changed, err := s.WriteSkill(ctx, name, next); err != nil || !changed {
			t.Fatalf("WriteSkill = %v, %v; want a write", changed, err)
		}
	}
	got, _ = current(t, api, name)
	if !strings.Contains(got, `"secret-1"`) || versions(t, api, name) != 4 {
		t.Fatalf("after A→B→A current = %s with %d versions; want A and 4 versions", got, versions(t, api, name))
	}
}

func TestWriteSkillMissingSecret(t *testing.T) {
	_, err := New(moto.ResetT(t)).WriteSkill(context.Background(), "missing/"+t.Name(), SkillSecret{SkillID: "x", ClientID: "c", ClientSecret: "s"})
	if !IsNotFound(err) || !strings.Contains(err.Error(), "missing/"+t.Name()) {
		t.Fatalf("err = %v; want a not-found error naming the secret", err)
	}
}

func TestReadLWA(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	tests := []struct {
		name, value string
		wantErr     string
	}{
		{"complete", `{"clientId":"cid","clientSecret":"csec","refreshToken":"Atzr|rt","note":"kept"}`, ""},
		{"placeholder", `{"clientId":"","clientSecret":"","refreshToken":"","_instructions":"fill me"}`, "clientId, clientSecret, refreshToken empty or missing"},
		{"missing token", `{"clientId":"cid","clientSecret":"csec"}`, "refreshToken empty or missing"},
		{"not json", `Atzr|rt`, "not a JSON object"},
		{"array", `["x"]`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "lwa/" + t.Name()
			create(t, api, id, tt.value)
			l, err := s.ReadLWA(ctx, id)
			if tt.wantErr == "" {
				if err != nil || l.ClientID != "cid" || l.ClientSecret != "csec" || l.RefreshToken != "Atzr|rt" {
					t.Fatalf("ReadLWA = %+v, %v", l, err)
				}
				return
			}
			if !errors.Is(err, ErrLWANotConfigured) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), id) {
				t.Fatalf("ReadLWA error = %v; want ErrLWANotConfigured naming %s and %q", err, id, tt.wantErr)
			}
			if strings.Contains(err.Error(), "Atzr|rt") || strings.Contains(err.Error(), "csec") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
	if _, err := s.ReadLWA(ctx, "lwa/absent"); !IsNotFound(err) {
		t.Fatalf("ReadLWA(absent) = %v; want not found", err)
	}
}

func TestSaveRefreshTokenKeepsOtherKeys(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	id := "lwa/" + t.Name()
	create(t, api, id, `{"clientId":"cid","clientSecret":"csec","refreshToken":"Atzr|old","owner":"team-a"}`)
	l, err := s.ReadLWA(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRefreshToken(ctx, l, secret.Value("Atzr|new")); err != nil {
		t.Fatal(err)
	}
	got, _ := current(t, api, id)
	if want := `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|new"}`; got != want {
		t.Fatalf("LWA secret = %s; want %s", got, want)
	}
}

func TestRequestToken(t *testing.T) {
	a, b := RequestToken("v1", "x"), RequestToken("v2", "x")
	if a == b || a != RequestToken("v1", "x") || len(a) != 64 || a == RequestToken("v1", "y") {
		t.Fatalf("RequestToken is not a stable function of version and value: %s %s", a, b)
	}
}

// TestRedaction: no store type that holds a secret prints it, with any fmt
// verb, through either slog handler or as JSON. The LWA record keeps every
// key of the secret as raw JSON, the operator's own keys included.
func TestRedaction(t *testing.T) {
	api := moto.ResetT(t)
	id := "lwa/" + t.Name()
	create(t, api, id, `{"clientId":"cid","clientSecret":"csec-NEVER-PRINTED","refreshToken":"Atzr|rt-NEVER-PRINTED","apiKey":"extra-NEVER-PRINTED"}`)
	l, err := New(api).ReadLWA(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sk := SkillSecret{SkillID: "amzn1.ask.skill.x", ClientID: "c", ClientSecret: "skill-secret-NEVER-PRINTED"}
	sv := SkillValue{SkillSecretRef: SkillSecretRef{Name: "p/x", SkillID: "x"}, VersionID: "v", Value: secret.Value(sk.Value())}
	secrets := []string{"csec-NEVER-PRINTED", "Atzr|rt-NEVER-PRINTED", "extra-NEVER-PRINTED", "skill-secret-NEVER-PRINTED"}
	for name, v := range map[string]any{
		"LWASecret":    *l,
		"*LWASecret":   l,
		"SkillSecret":  sk,
		"*SkillSecret": &sk,
		"SkillValue":   sv,
		"*SkillValue":  &sv,
	} {
		redacttest.Check(t, name, v, secrets...)
	}
	if got := fmt.Sprint(l); !strings.Contains(got, id) || !strings.Contains(got, "cid") {
		t.Errorf("LWASecret prints %q; want its id and client id", got)
	}
}

// TestReadLWAWhilePending: the LWA secret is read by AWSCURRENT even when an
// AWSPENDING version holds other values (moto answers a read without a stage
// with the newest version).
func TestReadLWAWhilePending(t *testing.T) {
	api := moto.ResetT(t)
	id := "lwa/" + t.Name()
	create(t, api, id, `{"clientId":"cid","clientSecret":"csec","refreshToken":"Atzr|current"}`)
	token := "pending-token-0000000000000000000000001"
	if _, err := api.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &id, ClientRequestToken: &token,
		SecretString: aws.String(`{"clientId":"other","clientSecret":"other","refreshToken":"Atzr|pending"}`), VersionStages: []string{StagePending}}); err != nil {
		t.Fatal(err)
	}
	l, err := New(api).ReadLWA(context.Background(), id)
	if err != nil || l.ClientID != "cid" || l.RefreshToken.Reveal() != "Atzr|current" {
		t.Fatalf("ReadLWA = %v, %v; want the AWSCURRENT values", l, err)
	}
	_, version := current(t, api, id)
	if l.VersionID != version {
		t.Fatalf("VersionID = %s; want AWSCURRENT's %s", l.VersionID, version)
	}
}
