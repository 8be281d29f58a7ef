package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/logbuf"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/rie"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const (
	lwaSecret  = "lwa-secret-E2E-NEVER-PRINTED"
	refresh    = "Atzr|E2E-NEVER-PRINTED"
	rotatedRT  = "Atzr|E2E-ROTATED-NEVER-PRINTED"
	skillSecPf = "skill-secret-E2E-NEVER-PRINTED-"
	// The stack's names (cdk.json), which the permission check requires.
	prefix  = "alexa/skill-messaging/"
	lwaName = "alexa/skill-credentials/lwa"
)

// moto is the package's server. The end-to-end tests use the stack's names
// (the permission check requires them), so each resets it first and they run
// one at a time.
var moto *motoserver.Server

// TestMain starts moto for the package and, after the tests, stops it,
// removes the built bootstrap and fails the package when a full run left a
// grant of the stack unused (checkUnused, permissions_test.go).
func TestMain(m *testing.M) {
	s, err := motoserver.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	moto = s
	code := m.Run()
	s.Stop()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 && fullRun() && !checkUnused(os.Stdout) {
		code = 1
	}
	os.Exit(code)
}

// builtBootstrap builds the real function once for the package's tests
// (into buildDir, removed when they end) and returns its path.
func builtBootstrap(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var (
	buildDir  string
	buildOnce = sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "alexa-skill-credentials-bootstrap-test-")
		if err != nil {
			return "", err
		}
		buildDir = dir
		return rie.Build(context.Background(), dir)
	})
)

// TestBootstrapUnderRuntimeAPI builds the real bootstrap and runs it under
// the Runtime Interface Emulator against moto and the fake Amazon.
func TestBootstrapUnderRuntimeAPI(t *testing.T) {
	ctx := context.Background()
	moto.ResetT(t)
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient("amzn1.application-oa2-client.e2e", lwaSecret, refresh)

	api := moto.SecretsManager()
	mustCreate := secretCreator(ctx, t, api)
	// By ARN, as the stack passes it.
	lwaARN := mustCreate(lwaName, lwaValue)
	var skills []string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("amzn1.ask.skill.%08d-2222-4222-8222-222222222222", i)
		skills = append(skills, id)
		mustCreate(prefix+id, fmt.Sprintf(`{"skillId":%q}`, id))
		fake.SetSkill(id, fmt.Sprintf("amzn1.application-oa2-client.skill-%d", i), fmt.Sprintf("%s%d", skillSecPf, i))
	}

	bootstrap := builtBootstrap(t)
	env := recordAWS(t, append(moto.Env(),
		"LWA_SECRET_ID="+lwaARN,
		"SKILL_SECRET_PREFIX="+prefix,
		"SMAPI_ENDPOINT="+fake.SMAPIURL(),
		"LWA_TOKEN_URL="+fake.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=e2e-sync",
		"SYNC_CONCURRENCY=2",
	))
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
		for _, s := range []string{lwaSecret, refresh, rotatedRT, skillSecPf, "Atza|"} {
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

	fake.RotateRefreshToken(rotatedRT) // LWA hands out a new refresh token: the function saves it
	// SYNC_CONCURRENCY reaches the running syncer: with answers taking
	// 500 ms, the three fetches overlap as far as it allows (the run's
	// pacer sets no rate before broad throttling; the default of 8 would
	// have all three in flight).
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
	if lwa, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &lwaARN}); err != nil || !strings.Contains(aws.ToString(lwa.SecretString), rotatedRT) {
		t.Fatalf("the rotated refresh token was not saved to the LWA secret (%v)", err)
	}
	if one := invoke(fmt.Sprintf(`{"skillIds":[%q]}`, skills[1])); one["skills"] != 1.0 || one["unchanged"] != 1.0 {
		t.Fatalf("{\"skillIds\"} invocation = %v; want 1 unchanged", one)
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
	for _, s := range []string{lwaSecret, refresh, rotatedRT, skillSecPf, "Atza|"} {
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
	bootstrap := builtBootstrap(t)
	logs := &logbuf.Buffer{}
	fn, err := rie.Start(ctx, bootstrap, []string{"AWS_REGION=us-east-1", "SKILL_SECRET_PREFIX=" + prefix}, logs)
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
	// Each failed run over every skill is reported as such at once, for
	// the run-level alarm.
	// The function's log lines reach the buffer after its answers.
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := logs.WaitFor(wait, `"FullRunFailed":1`, 2); err != nil {
		t.Errorf("%v:\n%s", err, logs.String())
	}
	if n := strings.Count(logs.String(), `"FullRunFailed":1`); n != 2 {
		t.Errorf("%d summary lines with FullRunFailed 1; want 2:\n%s", n, logs.String())
	}
}

// TestBootstrapDiscoversUnderRuntimeAPI runs the real bootstrap with vendor
// discovery and a declared-skills file, as the stack configures it, against
// moto and the fake Amazon: the existing secret is synced, the discovered and
// the declared skill without secrets get theirs (tagged, with the key and a
// rotation schedule), the discovered skill SMAPI has no credentials for is
// skipped, and a second invocation creates and writes nothing. Its AWS calls
// are checked against the function role of the stack with vendor discovery
// (recordAWS), with the stack's names, key and function ARN, so that the
// creation policy's conditions are evaluated on the values the deployed
// function sends.
func TestBootstrapDiscoversUnderRuntimeAPI(t *testing.T) {
	ctx := context.Background()
	moto.ResetT(t)
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient("amzn1.application-oa2-client.e2e", lwaSecret, refresh)
	stack, err := stackIAM()
	if err != nil {
		t.Fatal(err)
	}
	api := moto.SecretsManager()
	mustCreate := secretCreator(ctx, t, api)
	lwaARN := mustCreate(lwaName, lwaValue)
	id := func(i int) string { return fmt.Sprintf("amzn1.ask.skill.%08d-5555-4555-8555-555555555555", i) }
	existing, found, noCreds, declared := id(1), id(2), id(3), id(4)
	mustCreate(prefix+existing, fmt.Sprintf(`{"skillId":%q}`, existing))
	fake.AddVendor("M1E2EVENDOR", "E2E")
	fake.ListSkill("M1E2EVENDOR", existing, "development", "live")
	fake.ListSkill("M1E2EVENDOR", found, "development", "live")
	fake.ListSkill("M1E2EVENDOR", noCreds)
	fake.SetListPageSize(2)
	for i, s := range []string{existing, found, declared} {
		fake.SetSkill(s, fmt.Sprintf("amzn1.application-oa2-client.skill-%d", i), fmt.Sprintf("%s%d", skillSecPf, i))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "skill-ids.json"), []byte(`["`+declared+`"]`), 0o644); err != nil {
		t.Fatal(err)
	}
	// moto accepts only a rotation function registered in it: register the
	// stack's, so that the request names the ARN the deployed function
	// sends (its own, from the invocation context).
	fnARN := stack.DiscoveryFunction.FunctionARN
	rotationARN, err := moto.RegisterFunction(ctx, fnARN[strings.LastIndex(fnARN, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	key := stack.DiscoveryFunction.Environment["SKILL_SECRET_KMS_KEY_ID"]

	bootstrap := builtBootstrap(t)
	out := &logbuf.Buffer{}
	fn, err := rie.Start(ctx, bootstrap, recordAWS(t, append(moto.Env(),
		"LWA_SECRET_ID="+lwaARN,
		"SKILL_SECRET_PREFIX="+prefix,
		"SMAPI_ENDPOINT="+fake.SMAPIURL(),
		"LWA_TOKEN_URL="+fake.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=e2e-sync",
		"SKILL_DISCOVERY=vendor",
		"SKILL_SECRET_KMS_KEY_ID="+key,
		"SKILL_SECRET_ROTATION_DAYS=30",
		// moto runs no Lambda and knows only functions registered in it; in
		// the stack this variable is unset and the function is its own
		// rotation function (its ARN from the invocation context).
		"SKILL_SECRET_ROTATION_LAMBDA_ARN="+rotationARN,
		"LAMBDA_TASK_ROOT="+dir,
		// The declared skills' file of a stack with more skills than it
		// creates secrets for; their secrets are made under the same
		// creation policy.
		"SKILL_IDS_FILE=skill-ids.json",
	)), out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	invoke := func() map[string]any {
		t.Helper()
		b, err := fn.Invoke(ctx, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("result %s: %v", b, err)
		}
		return m
	}
	first := invoke()
	if first["skills"] != 4.0 || first["updated"] != 3.0 || first["created"] != 2.0 || first["skipped"] != 1.0 || first["failed"] != 0.0 {
		t.Fatalf("first invocation = %v; want 4 skills: 3 updated (2 created), 1 skipped", first)
	}
	for _, s := range []string{found, declared} {
		d, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(prefix + s)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(d.KmsKeyId) != key || len(d.Tags) != 1 || aws.ToString(d.Tags[0].Key) != "alexa-skill-credentials:managed" || !aws.ToBool(d.RotationEnabled) {
			t.Errorf("created secret of %s: key %q, tags %v, rotation %v; want the key, the managed tag and rotation", s, aws.ToString(d.KmsKeyId), d.Tags, aws.ToBool(d.RotationEnabled))
		}
	}
	if _, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(prefix + noCreds)}); err == nil {
		t.Errorf("a secret was created for %s, which has no credentials", noCreds)
	}
	if second := invoke(); second["unchanged"] != 3.0 || second["updated"] != 0.0 || second["created"] != nil || second["skipped"] != 1.0 {
		t.Fatalf("second invocation = %v; want 3 unchanged, 1 skipped, nothing created", second)
	}
	logs := out.String()
	for _, s := range []string{lwaSecret, refresh, skillSecPf, "Atza|"} {
		if strings.Contains(logs, s) {
			t.Fatalf("function output leaks a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"msg":"skills discovered"`) {
		t.Fatalf("no discovery log line:\n%s", logs)
	}
}

func TestInvokedFunctionARN(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:sync:live"
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{InvokedFunctionArn: arn})
	if got := invokedFunctionARN(ctx); got != arn {
		t.Errorf("invokedFunctionARN = %q; want %q", got, arn)
	}
	if got := invokedFunctionARN(context.Background()); got != "" {
		t.Errorf("invokedFunctionARN outside Lambda = %q; want empty", got)
	}
}

// lwaValue is the end-to-end tests' LWA secret, for the fake's client.
var lwaValue = fmt.Sprintf(`{"clientId":"amzn1.application-oa2-client.e2e","clientSecret":%q,"refreshToken":%q}`, lwaSecret, refresh)

// secretCreator returns a function that creates a secret in api and returns
// its ARN, failing the test on error.
func secretCreator(ctx context.Context, t *testing.T, api *secretsmanager.Client) func(name, value string) string {
	return func(name, value string) string {
		t.Helper()
		out, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
}
