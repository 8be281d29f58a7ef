package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DeploySyncPayload is the event the stack sends the function at deploy
// time. Its source is credsync.DeploySource (infra imports no runtime
// package): with it the function returns success, with a message, while the
// LWA secret still holds its placeholder, and otherwise syncs every skill.
const DeploySyncPayload = `{"source":"alexa-skill-credentials.deploy"}`

// deploySyncIgnoredErrors are the Lambda API errors (not function errors)
// that do not fail the deploy: throttling and transient service states. The
// schedule's next run, or make sync, catches up. A function error never fails
// the deploy: Invoke reports it in the response, not as an API error.
const deploySyncIgnoredErrors = "^(TooManyRequestsException|ServiceException|ResourceNotReadyException|ResourceConflictException)$"

// newDeploySync invokes the function once, synchronously, with
// DeploySyncPayload whenever the stack is created, or updated with a change
// of the function's code or configuration or of the skill list, after the
// function and every secret exist.
//
// Not triggers.Trigger: it invokes with no payload, and fails the deploy when
// the function reports an error; one failing skill must not roll back the
// whole stack (the alarms and make sync report it).
func newDeploySync(stack awscdk.Stack, cfg *Config, codeDir string, fn awslambda.Function, lwaSecret awssecretsmanager.Secret, skillSecrets []awssecretsmanager.Secret) customresources.AwsCustomResource {
	scope := constructs.NewConstruct(stack, jsii.String("DeploySync"))

	// The provider function's own role and log group: the default role
	// carries AWSLambdaBasicExecutionRole (logs:* everywhere).
	logGroup := awslogs.NewLogGroup(scope, jsii.String("ProviderLogs"), &awslogs.LogGroupProps{
		Retention:     retention(cfg.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(scope, jsii.String("ProviderRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Deploy-time invocation of the skill credential sync function"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logGroup.LogGroupArn()},
	}))

	call := &customresources.AwsSdkCall{
		Service: jsii.String("Lambda"),
		Action:  jsii.String("invoke"),
		Parameters: map[string]any{
			"FunctionName":   fn.FunctionName(),
			"InvocationType": "RequestResponse",
			"Payload":        DeploySyncPayload,
		},
		PhysicalResourceId:       customresources.PhysicalResourceId_Of(jsii.String(deploySyncID(cfg, codeDir))),
		IgnoreErrorCodesMatching: jsii.String(deploySyncIgnoredErrors),
		// Only the status code goes back to CloudFormation: the summary can
		// exceed the 4 KB a custom resource may return.
		OutputPaths: jsii.Strings("StatusCode"),
		Logging:     customresources.Logging_WithDataHidden(),
	}
	cr := customresources.NewAwsCustomResource(scope, jsii.String("Invoke"), &customresources.AwsCustomResourceProps{
		ResourceType: jsii.String("Custom::DeploySync"),
		OnCreate:     call,
		OnUpdate:     call,
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("InvokeSyncFunction"),
				Actions:   jsii.Strings("lambda:InvokeFunction"),
				Resources: &[]*string{fn.FunctionArn()},
			}),
		}),
		Role:                role,
		LogGroup:            logGroup,
		InstallLatestAwsSdk: jsii.Bool(false),
		// The function may run up to its timeout; the provider waits for it.
		Timeout:        awscdk.Duration_Seconds(jsii.Number((functionTimeout + time.Minute).Seconds())),
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number((functionTimeout + 5*time.Minute).Seconds())),
	})
	// On the CloudFormation resources themselves: a dependency on the
	// secret constructs would include their rotation schedules, which come
	// after this.
	deps := []constructs.IDependable{fn.Node().DefaultChild(), lwaSecret.Node().DefaultChild()}
	for _, s := range skillSecrets {
		deps = append(deps, s.Node().DefaultChild())
	}
	cr.Node().AddDependency(deps...)

	return cr
}

// deploySyncID is the physical id of the deploy-time sync. It changes, and so
// re-runs the sync on the next deploy, exactly when the function's code (the
// files of codeDir), its configuration or the skill list changes.
func deploySyncID(cfg *Config, codeDir string) string {
	h := sha256.New()
	entries, err := os.ReadDir(codeDir)
	if err != nil {
		panic(fmt.Sprintf("deploySyncID: %v", err))
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(codeDir, e.Name()))
		if err != nil {
			panic(fmt.Sprintf("deploySyncID: %v", err))
		}
		fmt.Fprintf(h, "file %q %d\n", e.Name(), len(data))
		h.Write(data)
	}
	fmt.Fprintf(h, "lwaSecretName %q\nskillSecretPrefix %q\nsyncConcurrency %d\nmemory %d\ntimeout %s\n",
		cfg.LWASecretName, cfg.SkillSecretPrefix, cfg.SyncConcurrency, functionMemoryMB, functionTimeout)
	if cfg.CreatesSecrets() {
		fmt.Fprintf(h, "skillDiscovery %q\nvendorId %q\nrotationDays %d\n", cfg.SkillDiscovery, cfg.VendorID, cfg.RotationDays)
	}
	for _, id := range slices.Sorted(slices.Values(cfg.SkillIDs)) {
		fmt.Fprintf(h, "skill %q\n", id)
	}
	return "deploy-sync-" + hex.EncodeToString(h.Sum(nil))[:32]
}
