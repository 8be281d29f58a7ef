package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeSyncPicksTheConfiguredStack runs `make sync` against a stand-in
// aws CLI (docs/deploy.md, "Several developer accounts"): the function
// invoked is the one CloudFormation names for the stack named by STACK, by
// -c stackName in CDK_FLAGS, or by cdk.json. A cdk.out/outputs.json that an
// earlier deploy left behind, naming other functions, is never read (it
// made make sync invoke an earlier deployment's function).
func TestMakeSyncPicksTheConfiguredStack(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: the CDK CLI needs Node.js 20+")
	}
	tests := []struct {
		name  string
		args  []string
		stack string
	}{
		{"cdk.json", nil, DefaultStackName},
		{"CDK_FLAGS", []string{"CDK_FLAGS=-c alarmEmail=ops@example.com -c stackName=AgencyB"}, "AgencyB"},
		{"CDK_FLAGS --context", []string{"CDK_FLAGS=--context stackName=AgencyB"}, "AgencyB"},
		{"STACK", []string{"STACK=AgencyB"}, "AgencyB"},
		{"STACK over CDK_FLAGS", []string{"STACK=AgencyB", "CDK_FLAGS=-c stackName=Other"}, "AgencyB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, bin := standInAWS(t, "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64")
			write(t, filepath.Join(dir, "outputs.json"), `{"`+DefaultStackName+`": {"SyncFunctionName": "fn-stale"}, "AgencyB": {"SyncFunctionName": "fn-stale"}}`)
			args := append([]string{"-s", "--no-print-directory", "sync", "CDK_OUT=" + dir}, tt.args...)
			out, err := runMake(bin, args)
			if err != nil {
				t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			wantCall := "cloudformation describe-stacks --stack-name " + tt.stack + " --output text --query Stacks[0].Outputs[?OutputKey=='SyncFunctionName'].OutputValue"
			if !strings.Contains(string(calls), wantCall+"\n") {
				t.Errorf("aws calls:\n%s\nwant %q", calls, wantCall)
			}
			if want := "lambda invoke --function-name fn-" + tt.stack + " "; !strings.Contains(string(calls), want) {
				t.Errorf("make %s: aws calls:\n%s\nwant one starting %q", strings.Join(tt.args, " "), calls, want)
			}
		})
	}
}

// TestMakeTargetsCheckTheAWSCLI runs the targets that call the aws CLI with
// a stand-in that reports AWS CLI v1: make sync, which needs v2's
// --cli-binary-format, refuses before any AWS call with a message naming
// the version; the targets that work with v1 go on.
func TestMakeTargetsCheckTheAWSCLI(t *testing.T) {
	const v1 = "aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11"
	tests := []struct {
		target  string
		version string
		wantErr string // "" when the target must succeed
	}{
		{"sync", v1, "sync: needs AWS CLI v2 or later; found aws-cli/1.45.11"},
		{"sync", "", "sync: the AWS CLI (aws) is not on PATH"},
		{"outputs", v1, ""},
		{"list-secrets", v1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target+" "+tt.version, func(t *testing.T) {
			dir, bin := standInAWS(t, tt.version)
			args := []string{"-s", "--no-print-directory", tt.target, "CDK_OUT=" + dir}
			out, err := runMake(bin, args)
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("make %s: %v\n%s", tt.target, err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tt.wantErr) {
				t.Fatalf("make %s: %v\n%s\nwant a failure saying %q", tt.target, err, out, tt.wantErr)
			}
			if strings.Contains(string(calls), "cloudformation") || strings.Contains(string(calls), "lambda") {
				t.Errorf("make %s called AWS before refusing:\n%s", tt.target, calls)
			}
		})
	}
}

// TestMakeNDeployDeploysNothing runs make -n deploy with stand-ins for the
// CDK and aws CLIs: it must only print the commands. (A recipe line naming
// $(MAKE) runs even under -n; deploy once ran its summary that way, and
// make -n deploy deployed.)
func TestMakeNDeployDeploysNothing(t *testing.T) {
	dir, bin := standInAWS(t, "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64")
	write(t, filepath.Join(bin, "cdk"), "#!/bin/sh\necho cdk \"$*\" >> \""+dir+"/calls\"\n")
	if err := os.Chmod(filepath.Join(bin, "cdk"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "--no-print-directory", "deploy", "CDK=" + filepath.Join(bin, "cdk"), "CDK_OUT=" + dir}
	out, err := runMake(bin, args)
	if err != nil {
		t.Fatalf("make -n deploy: %v\n%s", err, out)
	}
	if calls, _ := os.ReadFile(filepath.Join(dir, "calls")); len(calls) > 0 {
		t.Errorf("make -n deploy ran:\n%s", calls)
	}
	if !strings.Contains(string(out), "deploy --require-approval broadening") {
		t.Errorf("make -n deploy printed:\n%s\nwant the cdk deploy command", out)
	}
}

// TestMakeFillLWASecret runs make fill-lwa-secret with a stand-in editor
// and aws CLI: the value the editor wrote reaches put-secret-value through a
// file outside the repository, only its owner may read it, it is gone
// afterwards, and the secret is the stack's LwaSecretArn output.
func TestMakeFillLWASecret(t *testing.T) {
	dir, bin := standInAWS(t, "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64")
	const value = `{"clientId": "amzn1.application-oa2-client.x", "clientSecret": "s", "refreshToken": "Atzr|x"}`
	write(t, filepath.Join(bin, "editor"), "#!/bin/sh\nstat -c %a \"$1\" > \""+dir+"/mode\"\nprintf '%s' '"+value+"' > \"$1\"\n")
	if err := os.Chmod(filepath.Join(bin, "editor"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := runMake(bin, []string{"-s", "--no-print-directory", "fill-lwa-secret", "CDK_OUT=" + dir, "EDITOR=" + filepath.Join(bin, "editor")})
	if err != nil {
		t.Fatalf("make fill-lwa-secret: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if !strings.Contains(string(calls), "secretsmanager put-secret-value --secret-id fn-"+DefaultStackName+" --secret-string file://") {
		t.Errorf("aws calls:\n%s\nwant put-secret-value on the LwaSecretArn output", calls)
	}
	if stored, _ := os.ReadFile(filepath.Join(dir, "stored")); string(stored) != value {
		t.Errorf("stored %q; want what the editor wrote", stored)
	}
	if mode, _ := os.ReadFile(filepath.Join(dir, "mode")); strings.TrimSpace(string(mode)) != "600" {
		t.Errorf("the editor's file had mode %s; want 600", mode)
	}
	file, _ := os.ReadFile(filepath.Join(dir, "file"))
	f := strings.TrimSpace(string(file))
	if root, _ := filepath.Abs(".."); f == "" || strings.HasPrefix(f, root) {
		t.Errorf("the value went through %q; want a temporary file outside the repository", f)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Errorf("%s is still there after make fill-lwa-secret (%v)", f, err)
	}
	if strings.Contains(string(out), "clientSecret") || strings.Contains(string(calls), "Atzr") {
		t.Errorf("the value reached the output or a command line:\n%s\n%s", out, calls)
	}
}

// standInAWS writes a stand-in aws CLI into a new bin directory: it records
// each call in dir/calls, answers --version with version (none: no aws on
// PATH, which the stand-in bin then lacks), an output lookup with
// fn-<stack>, and lambda invoke with an empty summary.
func standInAWS(t *testing.T, version string) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if version == "" {
		return dir, bin
	}
	write(t, filepath.Join(bin, "aws"), `#!/bin/sh
[ "$1" = --version ] && { echo '`+version+`'; exit 0; }
echo "$*" >> "`+dir+`/calls"
case "$*" in
  "cloudformation describe-stacks --stack-name "*) set -- $*; echo "fn-$4" ;;
  "secretsmanager put-secret-value "*) for a; do case "$a" in file://*) echo "${a#file://}" > "`+dir+`/file"; cp "${a#file://}" "`+dir+`/stored";; esac; done; echo v1 ;;
  "secretsmanager list-secrets "*) printf 'prefix/amzn1.ask.skill.1\ttrue\tNone\n' ;;
  "lambda invoke "*) for a; do out="$a"; done; echo '{"skills":0}' > "$out"; echo None ;;
  *) echo "unexpected: aws $*" >&2; exit 2 ;;
esac
`)
	if err := os.Chmod(filepath.Join(bin, "aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// runMake runs make in the repository root with bin first on PATH and, when
// bin has no aws, no other aws on PATH either.
func runMake(bin string, args []string) ([]byte, error) {
	cmd := exec.Command("make", args...)
	cmd.Dir = ".."
	path := bin + string(os.PathListSeparator) + os.Getenv("PATH")
	if _, err := os.Stat(filepath.Join(bin, "aws")); err != nil {
		path = withoutAWS(path)
	}
	cmd.Env = append(os.Environ(), "PATH="+path)
	return cmd.CombinedOutput()
}

// withoutAWS drops the PATH entries that hold an aws executable.
func withoutAWS(path string) string {
	var keep []string
	for _, d := range filepath.SplitList(path) {
		if _, err := os.Stat(filepath.Join(d, "aws")); err == nil {
			continue
		}
		keep = append(keep, d)
	}
	return strings.Join(keep, string(os.PathListSeparator))
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
			"cfn-lint -- OUT/" + DefaultStackName + ".template.json"}},
		{"synth", []string{"STACK=AgencyB"}, []string{
			"cdk synth --no-notices --quiet --output OUT -c stackName=AgencyB AgencyB",
			"cfn-lint -- OUT/AgencyB.template.json"}},
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
