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

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/rie"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapitest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
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
	fn, err := rie.Start(ctx, bootstrap, append(moto.Env(),
		"LWA_SECRET_ID="+lwaSecretName,
		"SKILL_SECRET_PREFIX="+prefix,
		"SMAPI_ENDPOINT="+fake.SMAPIURL(),
		"LWA_TOKEN_URL="+fake.TokenURL(),
		"SYNC_CONCURRENCY=8",
		"AWS_LAMBDA_FUNCTION_NAME=alexa-skill-credentials-demo",
	), logw)
	if err != nil {
		return err
	}
	defer fn.Stop()

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
		Skills, Updated, Unchanged, Failed int
		Results                            []struct{ SkillID, Status, Error, RequestID string }
		ErrorMessage                       string
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("result %s: %w", b, err)
	}
	if sum.ErrorMessage != "" {
		return fmt.Errorf("the function failed: %s", sum.ErrorMessage)
	}
	fmt.Printf("  result: %d skills: %d updated, %d unchanged, %d failed\n", sum.Skills, sum.Updated, sum.Unchanged, sum.Failed)
	for _, r := range sum.Results {
		fmt.Printf("    %-55s %-9s request id %s %s\n", r.SkillID, r.Status, r.RequestID, r.Error)
	}
	return nil
}

// printSecrets shows each skill secret's AWSCURRENT value with the client
// secret masked.
func printSecrets(ctx context.Context, api *secretsmanager.Client) error {
	fmt.Println("  skill secrets in Secrets Manager (AWSCURRENT, clientSecret masked):")
	for _, id := range skills {
		out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(prefix + id), VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			return err
		}
		var v map[string]string
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil {
			return err
		}
		versions, err := api.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(prefix + id), IncludeDeprecated: aws.Bool(true)})
		if err != nil {
			return err
		}
		fmt.Printf("    %s%s  clientId=%s clientSecret=%s  (%d versions)\n", prefix, id, v["clientId"], mask(v["clientSecret"]), len(versions.Versions))
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
