package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeSyncPicksTheConfiguredStack runs `make sync` against a stand-in
// aws CLI with an outputs.json of two deployments (README "Deploy",
// "Several developer accounts"): the function invoked is the one of the
// stack named by STACK, by -c stackName in CDK_FLAGS, or by cdk.json; a
// stack that outputs.json does not hold is looked up in CloudFormation by
// its name.
func TestMakeSyncPicksTheConfiguredStack(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: the CDK CLI needs Node.js 20+")
	}
	tests := []struct {
		name     string
		args     []string
		wantCall string // the aws call that names the function
		wantFn   string
	}{
		{"cdk.json", nil, "", "fn-default"},
		{"CDK_FLAGS", []string{"CDK_FLAGS=-c alarmEmail=ops@example.com -c stackName=AgencyB"}, "", "fn-agency-b"},
		{"CDK_FLAGS --context", []string{"CDK_FLAGS=--context stackName=AgencyB"}, "", "fn-agency-b"},
		{"STACK", []string{"STACK=AgencyB"}, "", "fn-agency-b"},
		{"STACK over CDK_FLAGS", []string{"STACK=AgencyB", "CDK_FLAGS=-c stackName=Other"}, "", "fn-agency-b"},
		{"not in outputs.json", []string{"STACK=AgencyC"},
			"cloudformation describe-stacks --stack-name AgencyC --output text --query Stacks[0].Outputs[?OutputKey=='SyncFunctionName'].OutputValue", "fn-from-cloudformation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "outputs.json"), `{"`+DefaultStackName+`": {"SyncFunctionName": "fn-default"}, "AgencyB": {"SyncFunctionName": "fn-agency-b"}}`)
			write(t, filepath.Join(bin, "aws"), `#!/bin/sh
echo "$*" >> "`+dir+`/calls"
case "$*" in
  "cloudformation describe-stacks "*) echo fn-from-cloudformation ;;
  "lambda invoke "*) for a; do out="$a"; done; echo '{"skills":0}' > "$out"; echo None ;;
  *) echo "unexpected: aws $*" >&2; exit 2 ;;
esac
`)
			if err := os.Chmod(filepath.Join(bin, "aws"), 0o755); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-s", "--no-print-directory", "sync", "CDK_OUT=" + dir}, tt.args...)
			cmd := exec.Command("make", args...)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			if tt.wantCall != "" && !strings.Contains(string(calls), tt.wantCall+"\n") {
				t.Errorf("aws calls:\n%s\nwant %q", calls, tt.wantCall)
			}
			if want := "lambda invoke --function-name " + tt.wantFn + " "; !strings.Contains(string(calls), want) {
				t.Errorf("make %s: aws calls:\n%s\nwant one starting %q", strings.Join(tt.args, " "), calls, want)
			}
		})
	}
}

// TestMakeCDKCommandsNameTheStack runs the make targets that call the CDK
// CLI with a stand-in for it (and for the aws CLI and cfn-lint) and checks
// that each gives the app the stack's name (-c stackName=…, after the
// operator's CDK_FLAGS, so that it wins) and selects that stack, and that
// synth lints that stack's template.
func TestMakeCDKCommandsNameTheStack(t *testing.T) {
	tests := []struct {
		target string
		args   []string
		want   []string // calls of the stand-ins, in order
	}{
		{"synth", nil, []string{
			"cdk synth --no-notices --quiet --output OUT -c stackName=" + DefaultStackName + " " + DefaultStackName,
			"cfn-lint --ignore-checks W3005 -- OUT/" + DefaultStackName + ".template.json"}},
		{"synth", []string{"STACK=AgencyB"}, []string{
			"cdk synth --no-notices --quiet --output OUT -c stackName=AgencyB AgencyB",
			"cfn-lint --ignore-checks W3005 -- OUT/AgencyB.template.json"}},
		{"deploy", []string{"CDK_FLAGS=-c stackName=AgencyB -c alarmEmail=ops@example.com"}, []string{
			"aws cloudformation describe-stack-resources --stack-name AgencyB --output text --query StackResources[?ResourceType=='Custom::DeploySync'].PhysicalResourceId",
			"cdk deploy --require-approval broadening --outputs-file OUT/outputs.json -c stackName=AgencyB -c alarmEmail=ops@example.com -c stackName=AgencyB AgencyB",
			"aws cloudformation describe-stack-resources --stack-name AgencyB --output text --query StackResources[?ResourceType=='Custom::DeploySync'].PhysicalResourceId"}},
		{"diff", []string{"STACK=AgencyB", "CDK_FLAGS=-c stackName=Other"}, []string{"cdk diff -c stackName=Other -c stackName=AgencyB AgencyB"}},
		{"destroy", nil, []string{"cdk destroy -c stackName=" + DefaultStackName + " " + DefaultStackName}},
	}
	for _, tt := range tests {
		t.Run(tt.target+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, tool := range []string{"cdk", "aws", "cfn-lint"} {
				write(t, filepath.Join(bin, tool), "#!/bin/sh\necho "+tool+` "$*" >> "`+dir+`/calls"`+"\n"+`[ "$1" = cloudformation ] && echo deploy-sync-aaa`+"\nexit 0\n")
				if err := os.Chmod(filepath.Join(bin, tool), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"-s", "--no-print-directory", tt.target, "CDK=" + filepath.Join(bin, "cdk"), "CDK_OUT=" + out}, tt.args...)
			cmd := exec.Command("make", args...)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, b)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "calls"))
			calls := strings.ReplaceAll(strings.TrimSpace(string(b)), out, "OUT")
			if want := strings.Join(tt.want, "\n"); calls != want {
				t.Errorf("make %s ran:\n%s\nwant:\n%s", strings.Join(tt.args, " "), calls, want)
			}
		})
	}
}
