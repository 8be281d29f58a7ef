package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// rotationPermissionID is the id, under the function, of the permission that
// lets Secrets Manager invoke it for rotation.
const rotationPermissionID = "SecretsManagerRotation"

// newRotationSchedules makes the sync function the rotation function of
// every skill secret of the stack, rotating every cfg.RotationDays days, so
// that "Rotate secret immediately" and `aws secretsmanager rotate-secret`
// refresh one skill on demand.
//
// The schedules are L1 resources on purpose. The L2 RotationSchedule (and
// Secret.addRotationSchedule) would also add, by itself: an invoke
// permission for secretsmanager.amazonaws.com without a SourceAccount, a
// role statement allowing secretsmanager:GetRandomPassword on "*", a
// kms:Encrypt/ReEncrypt*/GenerateDataKey*/Decrypt grant on the key for the
// function, the four rotation actions again per secret, and a resource
// policy on each secret denying DeleteSecret to the account root. The
// function needs none of that beyond what newFunction already grants (plus
// UpdateSecretVersionStage there).
//
// Creating a schedule with RotateImmediatelyOnUpdate false makes Secrets
// Manager test the configuration by invoking the function's testSecret
// step; the schedules therefore come after the deploy-time sync, which has
// filled the secrets when the LWA secret is configured, and after the
// invoke permission.
func newRotationSchedules(stack awscdk.Stack, cfg *Config, fn awslambda.Function, skillSecrets []awssecretsmanager.Secret, after constructs.IDependable) {
	fn.AddPermission(jsii.String(rotationPermissionID), &awslambda.Permission{
		Principal:     awsiam.NewServicePrincipal(jsii.String("secretsmanager.amazonaws.com"), nil),
		Action:        jsii.String("lambda:InvokeFunction"),
		SourceAccount: awscdk.Aws_ACCOUNT_ID(),
	})
	permission := fn.Node().FindChild(jsii.String(rotationPermissionID))
	for _, secret := range skillSecrets {
		schedule := awssecretsmanager.NewCfnRotationSchedule(secret, jsii.String("RotationSchedule"), &awssecretsmanager.CfnRotationScheduleProps{
			SecretId:                  secret.SecretArn(),
			RotationLambdaArn:         fn.FunctionArn(),
			RotateImmediatelyOnUpdate: jsii.Bool(false),
			RotationRules: &awssecretsmanager.CfnRotationSchedule_RotationRulesProperty{
				AutomaticallyAfterDays: jsii.Number(float64(cfg.RotationDays)),
			},
		})
		schedule.Node().AddDependency(permission, after)
	}
}
