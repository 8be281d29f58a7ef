package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// newReaderPolicy grants the roles of cfg.ReaderRoleARNs read access to the
// skill secrets: a customer-managed policy with GetSecretValue on the skill
// secrets (not the LWA secret, which is outside the prefix) and kms:Decrypt
// on the key through Secrets Manager, attached to each role. It returns nil
// when there are no reader roles.
//
// The roles must be in the stack's account (Config.validate and
// Config.CheckAccount refuse others): an identity policy can only be attached
// to a role of the same account.
func newReaderPolicy(stack awscdk.Stack, cfg *Config, key awskms.Key, skillSecretPattern *string) awsiam.ManagedPolicy {
	if len(cfg.ReaderRoleARNs) == 0 {
		return nil
	}
	roles := make([]awsiam.IRole, 0, len(cfg.ReaderRoleARNs))
	for i, arn := range cfg.ReaderRoleARNs {
		roles = append(roles, awsiam.Role_FromRoleArn(stack, jsii.String("ReaderRole"+strconv.Itoa(i)), jsii.String(arn), &awsiam.FromRoleArnOptions{
			// The policy is attached through its own Roles list; nothing
			// else may change the imported role.
			Mutable: jsii.Bool(false),
		}))
	}
	policy := awsiam.NewManagedPolicy(stack, jsii.String("SkillSecretReaderPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Read the Alexa skill messaging credentials (skill secrets) kept by the skill credential sync"),
		Roles:       &roles,
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadSkillSecrets"),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: &[]*string{skillSecretPattern},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("DecryptSkillSecrets"),
				Actions:   jsii.Strings("kms:Decrypt"),
				Resources: &[]*string{key.KeyArn()},
				Conditions: &map[string]any{"StringEquals": map[string]any{
					"kms:ViaService": "secretsmanager." + *awscdk.Aws_REGION() + ".amazonaws.com",
				}},
			}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Read-only access to the skill secrets under the configured name prefix; the trailing * covers the skill ids and the random suffix Secrets Manager appends to every secret ARN."),
		AppliesTo: &[]any{"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + cfg.SkillSecretPrefix + "*"},
	}}, jsii.Bool(false))
	return policy
}
