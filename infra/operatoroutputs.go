package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// listSkillSecretsQuery is the --query of the ListSkillSecretsCommand
// output and of make list-secrets (infra/infra.mk): each secret's name, the
// managed tag's value (true: the function created it) and the stack that
// made it (CloudFormation's own tag).
const listSkillSecretsQuery = "SecretList[].[Name, Tags[?Key==`alexa-skill-credentials:managed`].Value | [0], Tags[?Key==`aws:cloudformation:stack-name`].Value | [0]]"

// newOperatorOutputs adds the outputs the operator's guide
// (docs/operations.md) needs beyond those of newOutputs: the function's ARN
// (a hand-made secret's rotation function), the schedule's dead-letter
// queue URL (to read and purge it), and the command listing every secret
// under the prefix, those the function or an operator created included,
// which no other output names.
func newOperatorOutputs(stack awscdk.Stack, cfg *Config, fn awslambda.Function, dlq awssqs.Queue) {
	out := func(id, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Description: jsii.String(description), Value: value})
	}
	out("SyncFunctionArn", "ARN of the sync function, the rotation function of the skill secrets (rotate-secret --rotation-lambda-arn)", fn.FunctionArn())
	out("DeadLetterQueueUrl", "Dead-letter queue of the schedule: scheduled events that could not reach the function (DeadLetterQueueAlarm)", dlq.QueueUrl())
	// The prefix is a validated secret name prefix (letters, digits and
	// /_+=.@-): single quotes keep it one word in any shell.
	out("ListSkillSecretsCommand", "Lists every secret under the prefix (the stack's, the function's, hand-made): name, managed by the function, stack (make list-secrets)",
		jsii.String("aws secretsmanager list-secrets --region "+*awscdk.Aws_REGION()+" --filters Key=name,Values='"+cfg.SkillSecretPrefix+
			"' --query '"+listSkillSecretsQuery+"' --output text"))
}
