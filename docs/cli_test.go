// Package docs holds the operator's and contributor's documents. Its test
// runs the AWS CLI commands of the operator docs against moto, as written.
package docs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
)

var moto *motoserver.Server

func TestMain(m *testing.M) { motoserver.RunTests(m, &moto) }

// marker, alone on a block's first line, marks a fenced sh block that
// TestOperatorCommandsRunAgainstMoto runs.
const marker = "# runs-against-moto"

// block is a fenced sh block of a document.
type block struct {
	file   string
	line   int // of the opening fence
	text   string
	marked bool
}

// shBlocks returns the fenced sh blocks of the documents the operator reads.
func shBlocks(t *testing.T) []block {
	t.Helper()
	files, _ := filepath.Glob("*.md")
	files = append(files, "../README.md")
	var blocks []block
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```sh" {
				continue
			}
			start := i
			var body []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				body = append(body, lines[i])
			}
			text := strings.Join(body, "\n")
			marked := len(body) > 0 && strings.TrimSpace(body[0]) == marker
			blocks = append(blocks, block{file: filepath.Base(f), line: start + 1, text: text, marked: marked})
		}
	}
	return blocks
}

// awsCommand matches the start of an AWS CLI command in a block.
var awsCommand = regexp.MustCompile(`(?m)^\s*(?:[a-z_]+=\$\()?aws ([a-z0-9-]+ [a-z0-9-]+)`)

// notRun lists the AWS CLI commands of unmarked blocks, each with why
// make test does not run it. A command in an unmarked block that is not
// listed here fails the test: nothing is left out silently.
var notRun = map[string]string{
	"lambda invoke":             "moto registers functions but cannot run them (that needs docker); make sync's code path is tested with a stand-in aws CLI in infra (TestMakeSyncPicksTheConfiguredStack)",
	"logs tail":                 "AWS CLI v2 only (v1, installed here, has no logs tail), and the log lines come from a deployed function",
	"kms schedule-key-deletion": "moto would serve it, but the block is the last, destructive step of removing everything; kept apart from the secrets' loop so nobody runs it by pasting that block",
	"iam put-role-policy":       "the role is the operator's skill Lambda role (<role>), not one the stack or moto has; the policy document beside it is checked by TestPolicyDocumentsAreComplete",
}

// placeholders are the test values of the documents' placeholders: the
// stack's outputs in angle brackets, and <skill id>.
type placeholders map[string]string

func (p placeholders) fill(t *testing.T, text string) string {
	t.Helper()
	for k, v := range p {
		text = strings.ReplaceAll(text, k, v)
	}
	if m := regexp.MustCompile(`<[A-Za-z][A-Za-z ]*>`).FindString(text); m != "" {
		t.Fatalf("placeholder %s has no test value:\n%s", m, text)
	}
	return text
}

// fixture prepares moto for one block and checks what the block did.
type fixture struct {
	// first is a line of the block, which identifies it.
	first string
	setup func(t *testing.T, e *env)
	check func(t *testing.T, e *env, out string)
}

// env is one block's moto state: names of its own, so blocks and runs
// (go test -count=2) share one moto without meeting.
type env struct {
	ph     placeholders
	prefix string
	skill  string
	lwa    string
	editor string // the value the stand-in editor writes
	// region is the CLI's region: moto's, except for SQS. AWS CLI v1 sends
	// SQS requests of a known region to its legacy endpoint
	// (awscli/customizations/overridesslcommonname.py, update_endpoint_url),
	// past AWS_ENDPOINT_URL; a region it does not know (moto accepts any)
	// keeps them on moto. CLI v2 has no such override.
	region string
	sm     *secretsmanager.Client
}

var runs int

// sqsRegion is the region of the SQS fixtures (see env.region).
const sqsRegion = "docs-test-1"

func newEnv(run, n int) *env {
	e := &env{
		prefix: fmt.Sprintf("docs-%d-%d/skills/", run, n),
		skill:  "amzn1.ask.skill.00000000-0000-4000-8000-0000000000d1",
		sm:     moto.SecretsManager(),
		region: motoserver.Region,
	}
	e.lwa = fmt.Sprintf("docs-%d-%d/lwa", run, n)
	e.editor = `{"clientId": "amzn1.application-oa2-client.docs", "clientSecret": "docs-secret", "refreshToken": "Atzr|docs"}`
	e.ph = placeholders{"<SkillSecretPrefix>": e.prefix, "<skill id>": e.skill}
	return e
}

func (e *env) createSecret(t *testing.T, name, value string, tags ...types.Tag) string {
	t.Helper()
	out, err := e.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value), Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func (e *env) describe(t *testing.T, id string) *secretsmanager.DescribeSecretOutput {
	t.Helper()
	out, err := e.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out
}

func (e *env) value(t *testing.T, id string) string {
	t.Helper()
	out, err := e.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return aws.ToString(out.SecretString)
}

// The fixtures prepare and check moto with the SDK, in e's region; only the
// blocks run the AWS CLI (each start of it costs about a second of CPU).

func (e *env) sqs() *sqs.Client {
	cfg := moto.Config()
	cfg.Region = e.region
	return sqs.NewFromConfig(cfg)
}

// queue creates a queue named after e's prefix and name, holding one message
// with body and attributes, and returns its URL.
func (e *env) queue(t *testing.T, name, body string, attrs map[string]sqstypes.MessageAttributeValue) string {
	t.Helper()
	ctx := context.Background()
	q, err := e.sqs().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(strings.NewReplacer("/", "-").Replace(e.prefix) + name)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sqs().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body), MessageAttributes: attrs}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl)
}

// cliEnv is the environment of the aws CLI: moto's endpoint and fake
// credentials, no configuration or pager of this machine's user, and an
// editor that writes value into the file it is given.
func cliEnv(t *testing.T, value, region string) []string {
	dir := t.TempDir()
	editor := filepath.Join(dir, "editor")
	if err := os.WriteFile(filepath.Join(dir, "value"), []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(editor, []byte("#!/bin/sh\ncp '"+filepath.Join(dir, "value")+"' \"$1\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), moto.Env()...)
	return append(env, "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region, "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "EDITOR="+editor)
}

var fixtures = []fixture{
	{
		first: `aws secretsmanager put-secret-value --secret-id '<LwaSecretArn>' --secret-string "file://$f"`,
		setup: func(t *testing.T, e *env) {
			e.ph["<LwaSecretArn>"] = e.createSecret(t, e.lwa, `{"clientId": "", "clientSecret": "", "refreshToken": ""}`)
		},
		check: func(t *testing.T, e *env, _ string) {
			if got := e.value(t, e.lwa); got != e.editor {
				t.Errorf("the LWA secret holds %q; want what the editor wrote", got)
			}
		},
	},
	{
		first: `aws secretsmanager rotate-secret --secret-id '<SkillSecretPrefix><skill id>' \`,
		setup: func(t *testing.T, e *env) {
			e.createSecret(t, e.prefix+e.skill, `{"skillId": "`+e.skill+`"}`)
			arn, err := moto.RegisterFunction(context.Background(), "docs-sync-function")
			if err != nil {
				t.Fatal(err)
			}
			e.ph["<SyncFunctionArn>"] = arn
		},
		check: func(t *testing.T, e *env, out string) {
			d := e.describe(t, e.prefix+e.skill)
			if !aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) != e.ph["<SyncFunctionArn>"] ||
				d.RotationRules == nil || aws.ToInt64(d.RotationRules.AutomaticallyAfterDays) != 30 {
				t.Errorf("after the block: rotation %v by %s every %v days; want on, by the function, every 30",
					aws.ToBool(d.RotationEnabled), aws.ToString(d.RotationLambdaARN), d.RotationRules)
			}
			if !strings.Contains(out, e.ph["<SyncFunctionArn>"]) {
				t.Errorf("describe-secret printed %q; want the rotation function", out)
			}
		},
	},
	{
		first: `aws secretsmanager rotate-secret --secret-id '<SkillSecretPrefix><skill id>'`,
		setup: func(t *testing.T, e *env) {
			e.createSecret(t, e.prefix+e.skill, `{"skillId": "`+e.skill+`"}`)
			if err := moto.ConfigureRotation(context.Background(), e.prefix+e.skill, "00000000-0000-4000-8000-0000000000e1"); err != nil {
				t.Fatal(err)
			}
			// The schedule's configuration test staged a version; Secrets
			// Manager's own testSecret call would have finished it.
			if _, err := e.sm.UpdateSecretVersionStage(context.Background(), &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(e.prefix + e.skill),
				VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String("00000000-0000-4000-8000-0000000000e1")}); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, e *env, out string) {
			// Secrets Manager answers with the new version's id and labels
			// it AWSPENDING until the function's finishSecret step; moto,
			// which cannot run the function, labels it at once. Either way
			// it is a new version of this secret.
			var answer struct{ Name, VersionId string }
			if err := json.Unmarshal([]byte(out), &answer); err != nil || answer.Name != e.prefix+e.skill {
				t.Fatalf("rotate-secret printed %q (%v); want its JSON answer naming the secret", out, err)
			}
			stages := e.describe(t, e.prefix+e.skill).VersionIdsToStages
			if _, ok := stages[answer.VersionId]; !ok || answer.VersionId == "00000000-0000-4000-8000-0000000000e1" {
				t.Errorf("rotate-secret answered version %s; the secret's versions are %v: want a new one", answer.VersionId, stages)
			}
		},
	},
	{
		first: `aws secretsmanager create-secret --name '<SkillSecretPrefix><skill id>' \`,
		setup: func(t *testing.T, e *env) {
			key, err := kms.NewFromConfig(moto.Config()).CreateKey(context.Background(), &kms.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			e.ph["<KeyArn>"] = aws.ToString(key.KeyMetadata.Arn)
		},
		check: func(t *testing.T, e *env, _ string) {
			if got, want := e.value(t, e.prefix+e.skill), `{"skillId": "`+e.skill+`"}`; got != want {
				t.Errorf("the new secret holds %s; want %s", got, want)
			}
			if got := aws.ToString(e.describe(t, e.prefix+e.skill).KmsKeyId); got != e.ph["<KeyArn>"] {
				t.Errorf("the new secret's key is %q; want %s", got, e.ph["<KeyArn>"])
			}
		},
	},
	{
		first: `aws secretsmanager delete-secret --secret-id '<SkillSecretPrefix><skill id>' \`,
		setup: func(t *testing.T, e *env) { e.createSecret(t, e.prefix+e.skill, `{"skillId": "`+e.skill+`"}`) },
		check: func(t *testing.T, e *env, _ string) {
			if e.describe(t, e.prefix+e.skill).DeletedDate == nil {
				t.Error("the secret is not scheduled for deletion")
			}
		},
	},
	{
		first: `aws secretsmanager list-secrets --filters Key=name,Values='<SkillSecretPrefix>' \`,
		setup: func(t *testing.T, e *env) {
			e.createSecret(t, e.prefix+e.skill, `{"skillId": "`+e.skill+`"}`)
			e.createSecret(t, e.prefix+"amzn1.ask.skill.00000000-0000-4000-8000-0000000000d2", `{}`,
				types.Tag{Key: aws.String("alexa-skill-credentials:managed"), Value: aws.String("true")})
			e.createSecret(t, "elsewhere-"+e.prefix+e.skill, `{}`)
		},
		check: func(t *testing.T, e *env, out string) {
			want := e.prefix + e.skill + "\tNone\tNone\n" + e.prefix + "amzn1.ask.skill.00000000-0000-4000-8000-0000000000d2\ttrue\tNone"
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("list-secrets printed\n%s\nwant\n%s", got, want)
			}
		},
	},
	{
		first: `aws sqs receive-message --queue-url '<FailedRunsQueueUrl>' --max-number-of-messages 10 \`,
		setup: func(t *testing.T, e *env) {
			e.region = sqsRegion
			e.ph["<FailedRunsQueueUrl>"] = e.queue(t, "failed-runs", `{"requestContext":{"condition":"RetriesExhausted"}}`, nil)
		},
		check: func(t *testing.T, e *env, out string) {
			if !strings.Contains(out, "RetriesExhausted") {
				t.Errorf("receive-message printed %q; want the record", out)
			}
		},
	},
	{
		first: `aws sqs receive-message --queue-url '<DeadLetterQueueUrl>' --max-number-of-messages 10 \`,
		setup: func(t *testing.T, e *env) {
			e.region = sqsRegion
			e.ph["<DeadLetterQueueUrl>"] = e.queue(t, "dlq", `{"source":"aws.events"}`, map[string]sqstypes.MessageAttributeValue{
				"ERROR_CODE": {DataType: aws.String("String"), StringValue: aws.String("ResourceNotFoundException")}})
		},
		check: func(t *testing.T, e *env, out string) {
			if !strings.Contains(out, "ResourceNotFoundException") {
				t.Errorf("receive-message printed %q; want the ERROR_CODE attribute", out)
			}
			attrs, err := e.sqs().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.ph["<DeadLetterQueueUrl>"]),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
			if err != nil {
				t.Fatal(err)
			}
			if n := attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]; n != "0" {
				t.Errorf("%s messages left after purge-queue; want 0", n)
			}
		},
	},
	{
		first: `aws secretsmanager delete-secret --secret-id '<LwaSecretArn>' --force-delete-without-recovery`,
		setup: func(t *testing.T, e *env) {
			e.ph["<LwaSecretArn>"] = e.createSecret(t, e.lwa, `{}`)
			e.createSecret(t, e.prefix+e.skill, `{"skillId": "`+e.skill+`"}`)
			e.createSecret(t, e.prefix+"amzn1.ask.skill.00000000-0000-4000-8000-0000000000d2", `{}`,
				types.Tag{Key: aws.String("alexa-skill-credentials:managed"), Value: aws.String("true")})
			// The name filter ignores case; the loop must not delete this one.
			e.createSecret(t, strings.ToUpper(e.prefix)+e.skill, `{}`)
		},
		check: func(t *testing.T, e *env, _ string) {
			var left []string
			p := secretsmanager.NewListSecretsPaginator(e.sm, &secretsmanager.ListSecretsInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range page.SecretList {
					if n := aws.ToString(s.Name); strings.HasPrefix(strings.ToLower(n), strings.ToLower(e.prefix)) || n == e.lwa {
						left = append(left, n)
					}
				}
			}
			if want := []string{strings.ToUpper(e.prefix) + e.skill}; !slices.Equal(left, want) {
				t.Errorf("secrets left: %v; want only %v", left, want)
			}
		},
	},
}

// TestOperatorCommandsRunAgainstMoto runs every block of the operator docs
// marked "# runs-against-moto" with the AWS CLI on PATH against moto, its
// placeholders filled in with test values, and checks what it did. Each
// marked block has a fixture here and each fixture a block, so a changed
// command is run as written; every AWS CLI command of an unmarked block
// is listed in notRun with the reason.
//
// AWS CLI v1 and v2 both run these blocks: none uses an option only v2
// has (--cli-binary-format, logs tail), and those that do are unmarked.
func TestOperatorCommandsRunAgainstMoto(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("aws not found: the operator docs' commands run with the AWS CLI (v1 or v2): https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html")
	}
	used := map[int]bool{}
	for _, b := range shBlocks(t) {
		if !b.marked {
			for _, m := range awsCommand.FindAllStringSubmatch(b.text, -1) {
				if _, ok := notRun[m[1]]; !ok {
					t.Errorf("%s:%d: aws %s is in a block not marked %q and not in notRun: mark the block (and add its fixture) or list it with the reason", b.file, b.line, m[1], marker)
				}
			}
			continue
		}
		i := slices.IndexFunc(fixtures, func(f fixture) bool {
			return slices.ContainsFunc(strings.Split(b.text, "\n"), func(l string) bool { return strings.TrimSpace(l) == f.first })
		})
		if i < 0 {
			t.Errorf("%s:%d: a block marked %q has no fixture:\n%s", b.file, b.line, marker, b.text)
			continue
		}
		used[i] = true
		f := fixtures[i]
		runs++
		e := newEnv(runs, i)
		t.Run(fmt.Sprintf("%s:%d", b.file, b.line), func(t *testing.T) {
			t.Parallel() // each block has names of its own; the CLI's start-up dominates
			f.setup(t, e)
			script := e.ph.fill(t, b.text)
			cmd := exec.Command("sh", "-ec", script)
			cmd.Env = cliEnv(t, e.editor, e.region)
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("the block failed: %v\n%s\n%s\nscript:\n%s", err, out, stderr, script)
			}
			f.check(t, e, string(out))
		})
	}
	for c := range notRun {
		if !slices.ContainsFunc(shBlocks(t), func(b block) bool { return !b.marked && strings.Contains(b.text, "aws "+c) }) {
			t.Errorf("notRun lists aws %s, which no unmarked block holds any more: remove it", c)
		}
	}
	for i, f := range fixtures {
		if !used[i] {
			t.Errorf("fixture %q matches no marked block: the command changed or moved; update the fixture", f.first)
		}
	}
}

// TestPolicyDocumentsAreComplete checks every JSON block of the docs that
// holds IAM statements: it must be a whole policy document, an object with
// "Version": "2012-10-17" and a "Statement" list, as IAM accepts it (a bare
// list of statements is refused by put-role-policy and create-policy).
func TestPolicyDocumentsAreComplete(t *testing.T) {
	files, _ := filepath.Glob("*.md")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile("(?s)```json\n(.*?)\n\\s*```").FindAllStringSubmatch(string(b), -1) {
			if !strings.Contains(m[1], `"Effect"`) {
				continue
			}
			n++
			var doc struct {
				Version   string
				Statement []map[string]any
			}
			if err := json.Unmarshal([]byte(m[1]), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
				t.Errorf("%s: a policy that is not a whole document (Version 2012-10-17, Statement) (%v):\n%s", f, err, m[1])
			}
		}
	}
	if n < 3 {
		t.Errorf("%d policy documents in the docs; want the three (skill-lambdas.md, deploy.md, operations.md)", n)
	}
}
