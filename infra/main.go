// Command infra is the CDK app of alexa-skill-credentials: `cdk synth` and
// `cdk deploy` (see cdk.json) run it. It builds the Lambda function from
// ./lambda, defines the SkillCredentialsStack from the CDK context and applies
// the cdk-nag AwsSolutions checks.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {
	err := run(context.Background(), awscdk.NewApp(nil))
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

// run builds the function and synthesizes app, whose context the CDK CLI
// has set.
func run(ctx context.Context, app awscdk.App) error {
	cfg, err := LoadConfig(app.Node())
	if err == nil {
		// Set by the CDK CLI when it has credentials (deploy, diff).
		err = cfg.CheckAccount(os.Getenv("CDK_DEFAULT_ACCOUNT"))
	}
	if err != nil {
		return fmt.Errorf("invalid CDK context (cdk.json or -c key=value):\n%w", err)
	}
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	codeDir, err := os.MkdirTemp("", "alexa-skill-credentials-bootstrap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(codeDir)
	if err := BuildFunction(ctx, root, functionPackage, codeDir); err != nil {
		return err
	}
	NewApp(app, cfg, codeDir)
	app.Synth(nil)
	return nil
}

// NewApp adds the stack to app and applies the cdk-nag AwsSolutions checks,
// whose unsuppressed findings become error and warning annotations.
func NewApp(app awscdk.App, cfg *Config, codeDir string) awscdk.Stack {
	return newApp(app, cfg, codeDir, &cdknag.NagPackProps{Verbose: jsii.Bool(true)})
}

// newApp is NewApp with the cdk-nag settings; tests log the suppressed
// findings (LogIgnores) to prove each suppression is still needed.
func newApp(app awscdk.App, cfg *Config, codeDir string, nag *cdknag.NagPackProps) awscdk.Stack {
	stack := NewSkillCredentialsStack(app, cfg.StackName, &SkillCredentialsStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("Alexa skill messaging credentials synced from SMAPI into Secrets Manager on a schedule"),
		},
		Config:          cfg,
		FunctionCodeDir: codeDir,
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nag), nil)
	return stack
}
