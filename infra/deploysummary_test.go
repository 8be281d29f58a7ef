package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeploySyncSummary runs `make deploy-sync-summary`, which `make deploy`
// runs after the deploy, against a stand-in aws CLI that answers like the
// real one (describe-stack-resources and filter-log-events with --output
// text and json), and checks what it prints.
func TestDeploySyncSummary(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: the CDK CLI needs Node.js 20+")
	}
	line := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	summary := func(skills, updated, unchanged, failed int, errText string) string {
		m := map[string]any{"level": "INFO", "msg": "sync finished", "run": "deploy", "skills": skills, "updated": updated,
			"unchanged": unchanged, "failed": failed, "duration_ms": 812, "FullRunFailed": 0}
		if errText != "" {
			m["level"], m["error"] = "ERROR", errText
		}
		return line(m)
	}
	const failure = "credential sync: 1 skill(s) failed: [amzn1.ask.skill.x: get skill messaging credentials for skill amzn1.ask.skill.x: SMAPI answered HTTP 404 (request id 7f3a)]"
	tests := []struct {
		name         string
		before, now  string
		messages     []string
		want         []string
		wantLogsCall bool
	}{
		{"unchanged", "deploy-sync-aaa", "deploy-sync-aaa", nil,
			[]string{"deploy-time sync: not run (the function's code and configuration and the skill list are unchanged)"}, false},
		{"synced", "deploy-sync-aaa", "deploy-sync-bbb", []string{summary(3, 2, 1, 0, "")},
			[]string{"deploy-time sync: 3 skill(s): 2 updated, 1 unchanged, 0 failed (812 ms)"}, true},
		{"first deploy, placeholder", "", "deploy-sync-aaa", []string{
			summary(0, 0, 0, 0, "credential sync: LWA secret alexa/skill-credentials/lwa is not filled in"),
			line(map[string]any{"level": "WARN", "msg": "deploy-time sync skipped", "run": "deploy", "reason": "nothing synced: the LWA secret lwa is not filled in yet; fill it in (make fill-lwa-secret, docs/deploy.md#fill-the-lwa-secret) and run make sync"}),
		}, []string{"deploy-time sync: 0 skill(s): 0 updated, 0 unchanged, 0 failed (812 ms)", "  nothing synced: the LWA secret lwa is not filled in yet; fill it in (make fill-lwa-secret, docs/deploy.md#fill-the-lwa-secret) and run make sync"}, true},
		{"a skill failed", "deploy-sync-aaa", "deploy-sync-bbb", []string{summary(2, 1, 0, 1, failure)},
			[]string{"deploy-time sync: 2 skill(s): 1 updated, 0 unchanged, 1 failed (812 ms)", "  " + failure}, true},
		{"log not in yet", "deploy-sync-aaa", "deploy-sync-bbb", nil,
			[]string{"deploy-time sync: its summary is not in /aws/lambda/sync yet; see it later with: aws logs tail /aws/lambda/sync --since 1h --filter-pattern '{ $.run = \"deploy\" }'"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			msgs, _ := json.Marshal(append([]string{}, tt.messages...))
			write(t, filepath.Join(dir, "events.json"), string(msgs))
			// A stale outputs.json naming another log group is never read:
			// the log group is the deployed stack's output.
			write(t, filepath.Join(dir, "outputs.json"), `{"AlexaSkillCredentials": {"SyncFunctionLogGroup": "/aws/lambda/stale"}}`)
			write(t, filepath.Join(bin, "aws"), `#!/bin/sh
echo "$*" >> "`+dir+`/calls"
case "$*" in
  "cloudformation describe-stack-resources "*) echo "`+tt.now+`" ;;
  "cloudformation describe-stacks --stack-name AlexaSkillCredentials --output text --query Stacks[0].Outputs[?OutputKey=='SyncFunctionLogGroup'].OutputValue") echo /aws/lambda/sync ;;
  "logs filter-log-events "*) cat "`+dir+`/events.json" ;;
  *) echo "unexpected: aws $*" >&2; exit 2 ;;
esac
`)
			if err := os.Chmod(filepath.Join(bin, "aws"), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make", "-s", "--no-print-directory", "deploy-sync-summary", "CDK_OUT="+dir,
				"DEPLOY_SYNC_BEFORE="+tt.before, "DEPLOY_START=1764100000000", "SUMMARY_POLLS=2", "SUMMARY_INTERVAL=0")
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make deploy-sync-summary: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w+"\n") {
					t.Errorf("output:\n%s\nwant a line %q", out, w)
				}
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			logsCall := strings.Contains(string(calls), `logs filter-log-events --log-group-name /aws/lambda/sync --start-time 1764100000000 --filter-pattern { $.run = "deploy" } --query events[].message --output json`)
			if logsCall != tt.wantLogsCall {
				t.Errorf("aws calls:\n%s\nread the deploy run's log lines since the deploy's start: %v; want %v", calls, logsCall, tt.wantLogsCall)
			}
		})
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
