package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// TestAppPassesCfnLint runs the app as `cdk synth` runs it (run: cdk.json's
// context, the function built from ./lambda, cdk-nag applied) into a
// temporary cloud assembly, and checks the template with cfn-lint under the
// repository's .cfnlintrc.yaml. make synth does the same through the CDK CLI;
// make test relies on this test instead of synthesizing a second time (CI
// runs make synth as well, for the CLI's part).
func TestAppPassesCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint not found: make python-tools sets up the version of requirements-dev.txt (make test puts it on PATH)")
	}
	ctx, err := cdkJSONContext()
	if err != nil {
		t.Fatalf("read cdk.json: %v", err)
	}
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
	if err := run(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(out, DefaultStackName+".template.json")
	cmd := exec.Command(lint, "--config-file", ".cfnlintrc.yaml", "--", template)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", template, err, b)
	}
}
