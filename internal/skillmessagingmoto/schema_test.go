package skillmessagingmoto

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

const schemaFile = "../../schema/skill-secret.schema.json"

// TestSkillSecretSchema validates what the sync writes (store.SkillSecret's
// value, the one writer of skill secrets) and the not-synced placeholder
// against schema/skill-secret.schema.json, and proves the schema refuses
// what readers must not take for credentials.
func TestSkillSecretSchema(t *testing.T) {
	sch, err := jsonschema.Compile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	const skill = "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
	written := store.SkillSecret{SkillID: skill, ClientID: "amzn1.application-oa2-client.0f1e", ClientSecret: secret.Value("s3cr3t-NEVER-PRINTED")}.Value()
	legacy := store.SkillSecret{SkillID: "amzn1.echo-sdk-ams.app.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", ClientID: "c", ClientSecret: "s"}.Value()
	tests := []struct {
		name, value string
		valid       bool
	}{
		{"what the sync writes", written, true},
		{"legacy skill id", legacy, true},
		{"not synced yet", fmt.Sprintf(`{"skillId":%q}`, skill), true},
		{"extra key", strings.Replace(written, `{`, `{"updatedAt":"2026-01-01",`, 1), false},
		{"empty secret", store.SkillSecret{SkillID: skill, ClientID: "c"}.Value(), false},
		{"blank client id", store.SkillSecret{SkillID: skill, ClientID: " ", ClientSecret: "s"}.Value(), false},
		{"client id without secret", fmt.Sprintf(`{"skillId":%q,"clientId":"c"}`, skill), false},
		{"bad skill id", store.SkillSecret{SkillID: "amzn1.ask.skill.x", ClientID: "c", ClientSecret: "s"}.Value(), false},
		{"no skill id", `{"clientId":"c","clientSecret":"s"}`, false},
		{"not an object", `["c","s"]`, false},
	}
	for _, tc := range tests {
		var v any
		if err := json.Unmarshal([]byte(tc.value), &v); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err := sch.Validate(v)
		if (err == nil) != tc.valid {
			t.Errorf("%s: Validate = %v; want valid %v", tc.name, err, tc.valid)
		}
	}
}

// TestReadmeSnippets runs the Python snippet of the README
// (examples/python/skill_secret.py, boto3) against moto, on a secret the
// sync's writer filled, one not synced yet, and one with an AWSPENDING
// version of other credentials; and checks that the README holds both
// snippets verbatim (the Node.js one needs the AWS SDK v3, which the
// repository does not install; it is syntax-checked with node --check when
// node is present, as make test's machines have it for the CDK).
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"../../examples/python/skill_secret.py", "../../examples/node/skillSecret.mjs"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), string(b)) {
			t.Errorf("README.md does not hold %s verbatim", f)
		}
	}
	if node, err := exec.LookPath("node"); err == nil {
		if out, err := exec.Command(node, "--check", "../../examples/node/skillSecret.mjs").CombinedOutput(); err != nil {
			t.Errorf("node --check: %v\n%s", err, out)
		}
	}

	ctx := context.Background()
	api := moto.SecretsManager()
	const prefix = "snippet/"
	synced := "amzn1.ask.skill.00000000-0000-4000-8000-0000000000b1"
	unsynced := "amzn1.ask.skill.00000000-0000-4000-8000-0000000000b2"
	for name, value := range map[string]string{
		prefix + synced:   store.SkillSecret{SkillID: synced, ClientID: "client-current", ClientSecret: "secret-current"}.Value(),
		prefix + unsynced: fmt.Sprintf(`{"skillId":%q}`, unsynced),
	} {
		if _, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(prefix + synced),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-0000000000bb"), VersionStages: []string{"AWSPENDING"},
		SecretString: aws.String(store.SkillSecret{SkillID: synced, ClientID: "client-pending", ClientSecret: "secret-pending"}.Value())}); err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("../../examples/python")
	script := fmt.Sprintf(`import json, skill_secret
print(json.dumps([skill_secret.skill_credentials(%q), skill_secret.skill_credentials(%q), skill_secret.skill_credentials(%q)]))`,
		prefix+synced, prefix+unsynced, prefix+synced)
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = append(os.Environ(), moto.Env()...)
	cmd.Env = append(cmd.Env, "AWS_DEFAULT_REGION="+motoserver.Region, "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 snippet: %v\n%s", err, out)
	}
	want := `[["client-current", "secret-current"], null, ["client-current", "secret-current"]]`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("the Python snippet read %s; want %s", got, want)
	}
}
