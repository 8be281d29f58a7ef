package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/logbuf"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/rie"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapitest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const (
	lwaSecret  = "lwa-secret-E2E-NEVER-PRINTED"
	refresh    = "Atzr|E2E-NEVER-PRINTED"
	skillSecPf = "skill-secret-E2E-NEVER-PRINTED-"
	prefix     = "alexa/skill-messaging/"
)

// TestBootstrapUnderRuntimeAPI builds the real bootstrap and runs it under
// the Runtime Interface Emulator against moto and the fake Amazon.
func TestBootstrapUnderRuntimeAPI(t *testing.T) {
	ctx := context.Background()
	moto := motoserver.StartT(t)
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient("amzn1.application-oa2-client.e2e", lwaSecret, refresh)

	api := moto.SecretsManager()
	mustCreate := func(name, value string) {
		if _, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate("alexa/lwa", fmt.Sprintf(`{"clientId":"amzn1.application-oa2-client.e2e","clientSecret":%q,"refreshToken":%q}`, lwaSecret, refresh))
	var skills []string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("amzn1.ask.skill.%08d-2222-4222-8222-222222222222", i)
		skills = append(skills, id)
		mustCreate(prefix+id, fmt.Sprintf(`{"skillId":%q}`, id))
		fake.SetSkill(id, fmt.Sprintf("amzn1.application-oa2-client.skill-%d", i), fmt.Sprintf("%s%d", skillSecPf, i))
	}

	bootstrap, err := rie.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := append(moto.Env(),
		"LWA_SECRET_ID=alexa/lwa",
		"SKILL_SECRET_PREFIX="+prefix,
		"SMAPI_ENDPOINT="+fake.SMAPIURL(),
		"LWA_TOKEN_URL="+fake.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=e2e-sync",
		"SYNC_CONCURRENCY=2",
	)
	out := &logbuf.Buffer{}
	fn, err := rie.Start(ctx, bootstrap, env, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)

	invoke := func(payload string) map[string]any {
		t.Helper()
		b, err := fn.Invoke(ctx, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{lwaSecret, refresh, skillSecPf, "Atza|"} {
			if strings.Contains(string(b), s) {
				t.Fatalf("invocation result leaks a secret: %s", b)
			}
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("result %s: %v", b, err)
		}
		return m
	}

	// SYNC_CONCURRENCY reaches the running syncer: with answers taking
	// 500 ms, the three fetches overlap as far as it allows (the run's
	// pacer starts them 100 ms apart; the default of 8 would have all three
	// in flight).
	fake.SetLatency(500 * time.Millisecond)
	first := invoke(`{}`)
	if first["updated"] != 3.0 || first["failed"] != 0.0 {
		t.Fatalf("first invocation = %v; want 3 updated", first)
	}
	if n := fake.MaxInFlight(); n != 2 {
		t.Fatalf("at most %d SMAPI requests were in flight; want SYNC_CONCURRENCY=2", n)
	}
	fake.SetLatency(0)
	out2, _ := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(prefix + skills[1]), VersionStage: aws.String("AWSCURRENT")})
	if want := fmt.Sprintf(`{"skillId":%q,"clientId":"amzn1.application-oa2-client.skill-2","clientSecret":"%s2"}`, skills[1], skillSecPf); aws.ToString(out2.SecretString) != want {
		t.Fatalf("skill secret = %s; want %s", aws.ToString(out2.SecretString), want)
	}
	if second := invoke(`{}`); second["unchanged"] != 3.0 || second["updated"] != 0.0 {
		t.Fatalf("second invocation = %v; want 3 unchanged", second)
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d; want 1 (token source built once per container)", n)
	}
	// Rotation: Secrets Manager stages a version and calls the four steps.
	fake.SetSkill(skills[0], "amzn1.application-oa2-client.skill-1", skillSecPf+"1-rotated")
	const token = "5e1f3c2a-0000-4000-8000-00000000e2e1"
	name := prefix + skills[0]
	if err := moto.EnableRotation(ctx, name, token); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		b, err := fn.Invoke(ctx, []byte(fmt.Sprintf(`{"Step":%q,"SecretId":%q,"ClientRequestToken":%q}`, step, name, token)))
		if err != nil || strings.Contains(string(b), "errorMessage") {
			t.Fatalf("%s: %s %v", step, b, err)
		}
	}
	stage := func(s string) string {
		out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: &s})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SecretString)
	}
	if got := stage("AWSCURRENT"); !strings.Contains(got, skillSecPf+"1-rotated") {
		t.Fatalf("AWSCURRENT after rotation = %s; want the rotated credentials", got)
	}
	if got := stage("AWSPREVIOUS"); !strings.Contains(got, `"`+skillSecPf+`1"`) {
		t.Fatalf("AWSPREVIOUS after rotation = %s; want the previous credentials", got)
	}

	fake.RemoveSkill(skills[2])
	failed := invoke(`{}`)
	if msg, _ := failed["errorMessage"].(string); !strings.Contains(msg, skills[2]) || !strings.Contains(msg, "HTTP 404") || strings.Contains(msg, skills[0]) {
		t.Fatalf("invocation with a failing skill = %v; want an error naming only that skill", failed)
	}

	logs := out.String()
	for _, s := range []string{lwaSecret, refresh, skillSecPf, "Atza|"} {
		if strings.Contains(logs, s) {
			t.Fatalf("function output leaks a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"msg":"sync finished"`) || !strings.Contains(logs, `"FunctionName":"e2e-sync"`) {
		t.Fatalf("function output lacks the summary line:\n%s", logs)
	}
}

// TestBootstrapConfigError checks a missing setting fails the invocation
// with the variable's name instead of crashing the container.
func TestBootstrapConfigError(t *testing.T) {
	ctx := context.Background()
	bootstrap, err := rie.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fn, err := rie.Start(ctx, bootstrap, []string{"AWS_REGION=us-east-1", "SKILL_SECRET_PREFIX=" + prefix}, &logbuf.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	for range 2 {
		b, err := fn.Invoke(ctx, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "LWA_SECRET_ID is not set") {
			t.Fatalf("result = %s; want an error naming LWA_SECRET_ID", b)
		}
	}
}
