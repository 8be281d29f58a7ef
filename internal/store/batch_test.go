package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// batchSpy passes every call to moto and records the BatchGetSecretValue
// and GetSecretValue calls; edit, when set, changes a batch answer before the
// store sees it (to script what AWS answers and moto does not).
type batchSpy struct {
	API
	mu     sync.Mutex
	events []string
	edit   func(in *secretsmanager.BatchGetSecretValueInput, out *secretsmanager.BatchGetSecretValueOutput)
}

func (s *batchSpy) record(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *batchSpy) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func (s *batchSpy) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	s.record("batch")
	out, err := s.API.BatchGetSecretValue(ctx, in, opts...)
	if err == nil && s.edit != nil {
		s.edit(in, out)
	}
	return out, err
}

func (s *batchSpy) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.record("get " + aws.ToString(in.SecretId) + " " + aws.ToString(in.VersionStage))
	return s.API.GetSecretValue(ctx, in, opts...)
}

func readAll(t *testing.T, s *Store, spy *batchSpy, prefix string, ids []string) map[string]SkillValue {
	t.Helper()
	got := map[string]SkillValue{}
	err := s.ReadSkills(context.Background(), prefix, ids, func(page []SkillValue) {
		spy.record(fmt.Sprintf("page %d", len(page)))
		for _, v := range page {
			if _, dup := got[v.SkillID]; dup {
				t.Errorf("skill %s handed over twice", v.SkillID)
			}
			got[v.SkillID] = v
		}
	})
	if err != nil {
		t.Fatalf("ReadSkills: %v", err)
	}
	return got
}

func TestReadSkillsByPrefix(t *testing.T) {
	api := moto.ResetT(t)
	prefix := "batch-" + t.Name() + "/skills/"
	// 45 secrets: pages of 20, 20 and 5.
	for i := range 45 {
		create(t, api, fmt.Sprintf("%samzn1.ask.skill.%03d", prefix, i), fmt.Sprintf(`{"skillId":"amzn1.ask.skill.%03d"}`, i))
	}
	create(t, api, strings.TrimSuffix(prefix, "/")+"-other", `{}`)
	spy := &batchSpy{API: api}
	// Real Secrets Manager's name filter is a case-insensitive prefix
	// match (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Filter.html:
	// "name: Prefix match, not case-sensitive"); moto's is case-sensitive.
	// The first answer gets the look-alikes AWS would add.
	spy.edit = func(in *secretsmanager.BatchGetSecretValueInput, out *secretsmanager.BatchGetSecretValueOutput) {
		if in.NextToken != nil {
			return
		}
		for _, n := range []string{strings.ToUpper(prefix) + "amzn1.ask.skill.upper", strings.Replace(prefix, "skills", "Skills", 1) + "amzn1.ask.skill.mixed"} {
			out.SecretValues = append(out.SecretValues, types.SecretValueEntry{Name: aws.String(n), SecretString: aws.String(`{}`),
				VersionId: aws.String("v-lookalike"), VersionStages: []string{StageCurrent}})
		}
	}
	got := readAll(t, New(spy), spy, prefix, nil)

	if len(got) != 45 {
		t.Fatalf("ReadSkills handed over %d secrets; want the 45 under the exact prefix", len(got))
	}
	for i := range 45 {
		id := fmt.Sprintf("amzn1.ask.skill.%03d", i)
		v := got[id]
		if v.Err != nil || v.Name != prefix+id || v.VersionID == "" || v.Value.Reveal() != fmt.Sprintf(`{"skillId":%q}`, id) {
			t.Fatalf("skill %s = %+v; want its name, version and value", id, v)
		}
	}
	// Each page is handed over before the next call: work on it can start.
	if want := []string{"batch", "page 20", "batch", "page 20", "batch", "page 5"}; !slices.Equal(spy.events, want) {
		t.Fatalf("calls and pages = %v; want %v", spy.events, want)
	}
}

// TestReadSkillsRereadsCurrent makes moto answer a batch read with a version
// that is not AWSCURRENT. moto answers with the version a create or a
// PutSecretValue last made current, and UpdateSecretVersionStage (a
// rotation's finishSecret) does not change that: after a rotation moto's
// batch answer is the AWSPREVIOUS version. AWS answers a batch read with
// AWSCURRENT; the store depends on neither and re-reads by stage any answer
// whose stages lack AWSCURRENT.
func TestReadSkillsRereadsCurrent(t *testing.T) {
	api := moto.ResetT(t)
	ctx := context.Background()
	prefix := "batch-" + t.Name() + "/"
	id := "amzn1.ask.skill.rotated"
	create(t, api, prefix+id, `{"skillId":"before rotation"}`)
	create(t, api, prefix+"amzn1.ask.skill.still", `{"skillId":"still"}`)
	_, old := current(t, api, prefix+id)
	token := "rotation-token-000000000000000000000001"
	if _, err := api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(prefix + id),
		SecretString: aws.String(`{"skillId":"after rotation"}`), ClientRequestToken: &token, VersionStages: []string{StagePending}}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(prefix + id),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: &token, RemoveFromVersionId: &old}); err != nil {
		t.Fatal(err)
	}
	raw, err := api.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{prefix + id}})
	if err != nil || len(raw.SecretValues) != 1 || slices.Contains(raw.SecretValues[0].VersionStages, StageCurrent) {
		t.Fatalf("precondition: moto's batch answer %+v, %v; want a version without AWSCURRENT", raw, err)
	}

	spy := &batchSpy{API: api}
	got := readAll(t, New(spy), spy, prefix, nil)
	want, version := current(t, api, prefix+id)
	if v := got[id]; v.Err != nil || v.Value.Reveal() != want || v.VersionID != version {
		t.Fatalf("rotating skill = %+v; want AWSCURRENT %s (version %s)", v, want, version)
	}
	if v := got["amzn1.ask.skill.still"]; v.Value.Reveal() != `{"skillId":"still"}` {
		t.Fatalf("other skill = %+v", v)
	}
	if n := spy.count("get " + prefix + id + " AWSCURRENT"); n != 1 || spy.count("get") != 1 {
		t.Fatalf("events %v; want exactly one re-read, of the rotating secret by AWSCURRENT", spy.events)
	}
}

func TestReadSkillsByIDs(t *testing.T) {
	api := moto.ResetT(t)
	prefix := "batch-" + t.Name() + "/"
	var ids []string
	for i := range 25 {
		id := fmt.Sprintf("amzn1.ask.skill.%03d", i)
		create(t, api, prefix+id, fmt.Sprintf(`{"skillId":%q}`, id))
		ids = append(ids, id)
	}
	create(t, api, prefix+"amzn1.ask.skill.not-asked", `{}`)
	ids = append(ids, "amzn1.ask.skill.missing", "amzn1.ask.skill.000") // a duplicate is read once
	spy := &batchSpy{API: api}
	got := readAll(t, New(spy), spy, prefix, ids)

	if len(got) != 26 || spy.count("batch") != 2 {
		t.Fatalf("ReadSkills handed over %d secrets in %d calls; want 25 and the missing one in 2 calls", len(got), spy.count("batch"))
	}
	if _, ok := got["amzn1.ask.skill.not-asked"]; ok {
		t.Fatal("a secret that was not asked for was handed over")
	}
	miss := got["amzn1.ask.skill.missing"]
	if !IsNotFound(miss.Err) || !strings.Contains(miss.Err.Error(), prefix+"amzn1.ask.skill.missing") || miss.Value != "" {
		t.Fatalf("missing skill = %+v; want a not-found error naming the secret", miss)
	}
	if v := got["amzn1.ask.skill.024"]; v.Err != nil || v.Value.Reveal() != `{"skillId":"amzn1.ask.skill.024"}` {
		t.Fatalf("skill 024 = %+v", v)
	}
}

// TestReadSkillsPerSecretError scripts what AWS answers for a secret it
// cannot decrypt (an entry of Errors naming the secret by ARN, next to the
// values it could read): that skill gets the error, the others their values.
func TestReadSkillsPerSecretError(t *testing.T) {
	api := moto.ResetT(t)
	prefix := "batch-" + t.Name() + "/"
	for _, id := range []string{"amzn1.ask.skill.a", "amzn1.ask.skill.b"} {
		create(t, api, prefix+id, `{}`)
	}
	spy := &batchSpy{API: api}
	spy.edit = func(_ *secretsmanager.BatchGetSecretValueInput, out *secretsmanager.BatchGetSecretValueOutput) {
		out.SecretValues = slices.DeleteFunc(out.SecretValues, func(e types.SecretValueEntry) bool { return strings.HasSuffix(aws.ToString(e.Name), ".b") })
		out.Errors = append(out.Errors, types.APIErrorType{
			SecretId:  aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:" + prefix + "amzn1.ask.skill.b-AbCdEf"),
			ErrorCode: aws.String("DecryptionFailure"), Message: aws.String("Access to KMS is not allowed")})
	}
	got := readAll(t, New(spy), spy, prefix, nil)
	if a := got["amzn1.ask.skill.a"]; a.Err != nil || a.Value.Reveal() != `{}` {
		t.Fatalf("skill a = %+v; want its value", a)
	}
	b := got["amzn1.ask.skill.b"]
	if b.Err == nil || IsNotFound(b.Err) || !strings.Contains(b.Err.Error(), "DecryptionFailure") || !strings.Contains(b.Err.Error(), prefix+"amzn1.ask.skill.b") {
		t.Fatalf("skill b = %+v; want its DecryptionFailure naming the secret", b)
	}
}

func TestReplaceSkill(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	prefix := "batch-" + t.Name() + "/"
	id := "amzn1.ask.skill.x"
	create(t, api, prefix+id, `{"skillId":"amzn1.ask.skill.x"}`)
	read := func() SkillValue {
		var v SkillValue
		if err := s.ReadSkills(context.Background(), prefix, []string{id}, func(p []SkillValue) { v = p[0] }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := SkillSecret{SkillID: id, ClientID: "client-1", ClientSecret: "secret-1"}
	if changed, err := s.ReplaceSkill(context.Background(), read(), v); err != nil || !changed {
		t.Fatalf("first ReplaceSkill = %v, %v; want a write", changed, err)
	}
	if got, _ := current(t, api, prefix+id); got != v.Value() {
		t.Fatalf("value = %s; want %s", got, v.Value())
	}
	if changed, err := s.ReplaceSkill(context.Background(), read(), v); err != nil || changed {
		t.Fatalf("unchanged ReplaceSkill = %v, %v; want no write", changed, err)
	}
	if n := versions(t, api, prefix+id); n != 2 {
		t.Fatalf("versions = %d; want 2", n)
	}
}

func TestSecretName(t *testing.T) {
	for in, want := range map[string]string{
		"alexa/skill/amzn1.ask.skill.x": "alexa/skill/amzn1.ask.skill.x",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:alexa/skill/amzn1.ask.skill.x-AbCdEf": "alexa/skill/amzn1.ask.skill.x",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:short-AbC":                            "short-AbC",
		"arn:aws:s3:::bucket": "arn:aws:s3:::bucket",
	} {
		if got := secretName(in); got != want {
			t.Errorf("secretName(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzSecretName: the name taken from a batch error's SecretId is always a
// part of it, and anything but an ARN is kept whole.
func FuzzSecretName(f *testing.F) {
	for _, s := range []string{"alexa/skill/amzn1.ask.skill.x", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:alexa/x-AbCdEf",
		"arn:aws:secretsmanager:::secret:-", "arn:", "arn:aws:s3:::bucket", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		name := secretName(id)
		if !strings.Contains(id, name) {
			t.Fatalf("secretName(%q) = %q, not a part of it", id, name)
		}
		if !strings.HasPrefix(id, "arn:") && name != id {
			t.Fatalf("secretName(%q) = %q; want it unchanged", id, name)
		}
	})
}
