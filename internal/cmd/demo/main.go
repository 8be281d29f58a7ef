// Command demo runs the whole job locally with no AWS account: moto's Secrets
// Manager and the fake Amazon on loopback, and the real bootstrap under the
// Runtime Interface Emulator. Run it with `make demo`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/rie"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

const (
	lwaSecretName = "alexa/lwa"
	prefix        = "alexa/skill-messaging/"
)

var skills = []string{
	"amzn1.ask.skill.6f1c2a9e-0b1d-4e8a-9c3f-1a2b3c4d5e01",
	"amzn1.ask.skill.6f1c2a9e-0b1d-4e8a-9c3f-1a2b3c4d5e02",
	"amzn1.ask.skill.6f1c2a9e-0b1d-4e8a-9c3f-1a2b3c4d5e03",
}

// demoVendor and discovered are the vendor and the skills only discovery
// finds.
const demoVendor = "M1DEMOVENDOR"

var discovered = []string{
	"amzn1.ask.skill.6f1c2a9e-0b1d-4e8a-9c3f-1a2b3c4d5e04",
	"amzn1.ask.skill.6f1c2a9e-0b1d-4e8a-9c3f-1a2b3c4d5e05",
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	step("Starting moto's Secrets Manager and the fake LWA + SMAPI on loopback")
	moto, err := motoserver.Start(ctx)
	if err != nil {
		return err
	}
	defer moto.Stop()
	fake := smapitest.New()
	defer fake.Close()
	fmt.Printf("  moto:  %s\n  fake:  %s (SMAPI %s, LWA %s)\n", moto.URL, fake.URL, fake.SMAPIURL(), fake.TokenURL())

	step("Creating the LWA secret and three skill secrets (as the stack does)")
	const lwaClientID = "amzn1.application-oa2-client.demo"
	fake.AddClient(lwaClientID, "demo-lwa-client-secret", "Atzr|demo-refresh-token")
	api := moto.SecretsManager()
	create := func(name, value string) error {
		_, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
		if err == nil {
			fmt.Println("  created", name)
		}
		return err
	}
	if err := create(lwaSecretName, `{"clientId":"`+lwaClientID+`","clientSecret":"demo-lwa-client-secret","refreshToken":"Atzr|demo-refresh-token"}`); err != nil {
		return err
	}
	for i, id := range skills {
		if err := create(prefix+id, `{"skillId":"`+id+`"}`); err != nil {
			return err
		}
		fake.SetSkill(id, fmt.Sprintf("amzn1.application-oa2-client.skill%d", i+1), fmt.Sprintf("demo-skill-%d-secret-version-1", i+1))
	}

	step("Building bootstrap and starting it under the Lambda Runtime Interface Emulator")
	dir, err := os.MkdirTemp("", "skill-credentials-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstrap, err := rie.Build(ctx, dir)
	if err != nil {
		return err
	}
	logs, logw := io.Pipe()
	defer logw.Close()
	go printLogs(logs)
	env := append(moto.Env(),
		"LWA_SECRET_ID="+lwaSecretName,
		"SKILL_SECRET_PREFIX="+prefix,
		"SMAPI_ENDPOINT="+fake.SMAPIURL(),
		"LWA_TOKEN_URL="+fake.TokenURL(),
		"SYNC_CONCURRENCY=8",
		"AWS_LAMBDA_FUNCTION_NAME=alexa-skill-credentials-demo",
	)
	fn, err := rie.Start(ctx, bootstrap, env, logw)
	if err != nil {
		return err
	}
	defer func() { fn.Stop() }()

	step("Run 1: scheduled sync of every skill")
	if err := invoke(ctx, fn, `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`); err != nil {
		return err
	}
	if err := printSecrets(ctx, api); err != nil {
		return err
	}

	step("Amazon issues new credentials for skill 2; run 2")
	fake.SetSkill(skills[1], "amzn1.application-oa2-client.skill2", "demo-skill-2-secret-version-2")
	if err := invoke(ctx, fn, `{}`); err != nil {
		return err
	}
	if err := printSecrets(ctx, api); err != nil {
		return err
	}

	step("Vendor discovery: the vendor lists the three skills (each in two stages) and two more, over pages of two")
	fake.AddVendor(demoVendor, "Demo Vendor")
	fake.SetListPageSize(2)
	for _, id := range skills {
		fake.ListSkill(demoVendor, id, "development", "live")
	}
	fake.ListSkill(demoVendor, discovered[0], "development")
	fake.ListSkill(demoVendor, discovered[1], "development")
	fake.SetSkill(discovered[0], "amzn1.application-oa2-client.skill4", "demo-skill-4-secret-version-1")
	fmt.Printf("  %s has messaging credentials; %s has none yet (SMAPI answers 404)\n", discovered[0], discovered[1])
	rotationARN, err := moto.RotationFunctionARN(ctx)
	if err != nil {
		return err
	}
	fn.Stop()
	fn, err = rie.Start(ctx, bootstrap, append(env,
		"SKILL_DISCOVERY=vendor",
		"SKILL_SECRET_KMS_KEY_ID=alias/alexa-skill-credentials-demo",
		"SKILL_SECRET_ROTATION_DAYS=30",
		// moto runs no Lambda: the rotation function is one registered in
		// its Lambda API. In the stack it is the function itself.
		"SKILL_SECRET_ROTATION_LAMBDA_ARN="+rotationARN,
	), logw)
	if err != nil {
		return err
	}
	fmt.Println("  restarted the function with SKILL_DISCOVERY=vendor")

	step("Run 3: discovery creates the missing secret, skips the skill without credentials")
	if err := invoke(ctx, fn, `{}`); err != nil {
		return err
	}
	if err := printSecrets(ctx, api); err != nil {
		return err
	}
	step("Run 4: discovery again: nothing created, nothing written")
	if err := invoke(ctx, fn, `{}`); err != nil {
		return err
	}
	if err := printSecrets(ctx, api); err != nil {
		return err
	}
	step("Done: moto, the fake and the emulator are stopped and the build directory removed")
	return nil
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

func invoke(ctx context.Context, fn *rie.Function, payload string) error {
	b, err := fn.Invoke(ctx, []byte(payload))
	if err != nil {
		return err
	}
	var sum struct {
		Skills, Updated, Unchanged, Failed, Skipped, Created int
		Results                                              []struct {
			SkillID, Status, Error, Reason, RequestID string
			Created                                   bool
		}
		ErrorMessage string
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("result %s: %w", b, err)
	}
	if sum.ErrorMessage != "" {
		return fmt.Errorf("the function failed: %s", sum.ErrorMessage)
	}
	fmt.Printf("  result: %d skills: %d updated (%d created), %d unchanged, %d failed, %d skipped\n", sum.Skills, sum.Updated, sum.Created, sum.Unchanged, sum.Failed, sum.Skipped)
	for _, r := range sum.Results {
		note := r.Error + r.Reason
		if r.Created {
			note = "secret created " + note
		}
		fmt.Printf("    %-55s %-9s request id %s %s\n", r.SkillID, r.Status, r.RequestID, note)
	}
	return nil
}

// printSecrets shows each skill secret's AWSCURRENT value with the client
// secret masked, and whether the function created it.
func printSecrets(ctx context.Context, api *secretsmanager.Client) error {
	fmt.Println("  skill secrets in Secrets Manager (AWSCURRENT, clientSecret masked):")
	p := secretsmanager.NewListSecretsPaginator(api, &secretsmanager.ListSecretsInput{
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, e := range page.SecretList {
			name := aws.ToString(e.Name)
			out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: aws.String("AWSCURRENT")})
			if err != nil {
				return err
			}
			var v map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil {
				return err
			}
			versions, err := api.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: &name, IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				return err
			}
			note := ""
			for _, t := range e.Tags {
				if aws.ToString(t.Key) == "alexa-skill-credentials:managed" {
					note = fmt.Sprintf(", tagged %s=%s", aws.ToString(t.Key), aws.ToString(t.Value))
				}
			}
			if e.RotationRules != nil && aws.ToBool(e.RotationEnabled) {
				note += fmt.Sprintf(", rotation every %d days", aws.ToInt64(e.RotationRules.AutomaticallyAfterDays))
			}
			fmt.Printf("    %s  clientId=%s clientSecret=%s  (%d versions%s)\n", name, v["clientId"], mask(v["clientSecret"]), len(versions.Versions), note)
		}
	}
	return nil
}

func mask(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%s… (%d chars)", strings.Repeat("*", 8), len(s))
}

// printLogs shows the function's JSON log lines, indented.
func printLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "{") {
			fmt.Println("    [function log]", line)
		}
	}
}
