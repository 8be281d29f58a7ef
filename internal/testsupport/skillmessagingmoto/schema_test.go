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

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

const schemaFile = "../../../schema/skill-secret.schema.json"

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

// TestReadmeSnippets runs the README's snippets against moto: the Python
// one (examples/python/skill_secret.py) with boto3, the Node.js one
// (examples/node/skillSecret.mjs) with the AWS SDK v3 pinned in
// examples/node/package-lock.json (make test installs it with npm ci). Each
// reads a secret the sync's writer filled that also has an AWSPENDING
// version of other credentials, one not synced yet, and the first again
// (from its cache). It also checks that docs/skill-lambdas.md holds both snippets
// verbatim.
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile("../../../docs/skill-lambdas.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"../../../examples/python/skill_secret.py", "../../../examples/node/skillSecret.mjs"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), string(b)) {
			t.Errorf("docs/skill-lambdas.md does not hold %s verbatim", f)
		}
	}

	ctx := context.Background()
	api := moto.ResetT(t)
	prefix := "snippet/"
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
	ids := []string{prefix + synced, prefix + unsynced, prefix + synced}

	t.Run("python", func(t *testing.T) {
		dir, _ := filepath.Abs("../../../examples/python")
		script := fmt.Sprintf(`import json, skill_secret
print(json.dumps([skill_secret.skill_credentials(%q), skill_secret.skill_credentials(%q), skill_secret.skill_credentials(%q)]))`,
			ids[0], ids[1], ids[2])
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
	})

	t.Run("node", func(t *testing.T) {
		node, err := exec.LookPath("node")
		if err != nil {
			t.Fatal("node not found: the Node.js snippet runs on Node.js 20+ (README.md, \"The two commands\")")
		}
		snippet, _ := filepath.Abs("../../../examples/node/skillSecret.mjs")
		if _, err := os.Stat(filepath.Join(filepath.Dir(snippet), "node_modules", "@aws-sdk", "client-secrets-manager")); err != nil {
			t.Fatalf("the AWS SDK v3 the Node.js snippet imports is not installed: run make test, or npm ci --prefix examples/node (%v)", err)
		}
		args, _ := json.Marshal(append([]string{snippet}, ids...))
		script := `import { pathToFileURL } from "node:url";
const [snippet, ...ids] = ` + string(args) + `;
const { skillCredentials } = await import(pathToFileURL(snippet).href);
const out = [];
for (const id of ids) out.push(await skillCredentials(id));
console.log(JSON.stringify(out));`
		cmd := exec.Command(node, "--input-type=module", "-e", script)
		cmd.Env = append(os.Environ(), moto.Env()...)
		var stderr strings.Builder
		cmd.Stderr = &stderr // the SDK's warnings (Node.js version) go there
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node snippet: %v\n%s%s", err, out, stderr.String())
		}
		want := `[{"clientId":"client-current","clientSecret":"secret-current"},null,{"clientId":"client-current","clientSecret":"secret-current"}]`
		if got := strings.TrimSpace(string(out)); got != want {
			t.Fatalf("the Node.js snippet read %s; want %s", got, want)
		}
	})
}
