package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// writeSkillIDsFile puts the declared skill ids into the function's code as
// SkillIDsFile when the function creates their secrets, and removes a stale
// one otherwise. The file is part of the code asset, so a changed list
// updates the function (and re-runs the deploy-time sync).
func writeSkillIDsFile(cfg *Config, codeDir string) error {
	path := filepath.Join(codeDir, SkillIDsFile)
	if !cfg.FunctionCreatesSecrets() {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.Marshal(cfg.SkillIDs)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// newSecretCreation lets the function create skill secrets, when it may
// (cfg.CreatesSecrets): the settings it needs in its environment, and a
// policy of its own that allows, and only allows:
//   - CreateSecret of a name under the prefix, only with the managed tag
//     (and no other tag) and only encrypted with the stack's key;
//   - TagResource under the prefix with the managed tag only (CreateSecret
//     with tags needs it);
//   - RotateSecret under the prefix, only with this function as the rotation
//     function, and lambda:InvokeFunction on itself, which RotateSecret
//     requires of its caller.
//
// No DeleteSecret: the function never deletes a secret. The policy is a
// resource apart from the role's default policy because it names the
// function's ARN, and the function depends on that default policy.
func newSecretCreation(stack awscdk.Stack, cfg *Config, fn awslambda.Function, key awskms.Key, skillSecretPattern *string) {
	if !cfg.CreatesSecrets() {
		return
	}
	fn.AddEnvironment(jsii.String(contract.EnvKMSKeyID), key.KeyArn(), nil)
	fn.AddEnvironment(jsii.String(contract.EnvRotationDays), jsii.String(strconv.Itoa(cfg.RotationDays)), nil)
	if cfg.FunctionCreatesSecrets() {
		fn.AddEnvironment(jsii.String(contract.EnvSkillIDsFile), jsii.String(SkillIDsFile), nil)
	}
	if cfg.SkillDiscovery == contract.DiscoveryVendor {
		fn.AddEnvironment(jsii.String(contract.EnvSkillDiscovery), jsii.String(contract.DiscoveryVendor), nil)
		if cfg.VendorID != "" {
			fn.AddEnvironment(jsii.String(contract.EnvVendorID), jsii.String(cfg.VendorID), nil)
		}
	}

	onlyManagedTag := map[string]any{
		"StringEquals":              map[string]any{"aws:RequestTag/" + contract.ManagedTagKey: "true"},
		"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{contract.ManagedTagKey}},
	}
	createConditions := map[string]any{
		"StringEquals": map[string]any{
			"aws:RequestTag/" + contract.ManagedTagKey: "true",
			"secretsmanager:KmsKeyArn":                 key.KeyArn(),
		},
		"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{contract.ManagedTagKey}},
	}
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CreateManagedSkillSecrets"),
			Actions:    jsii.Strings("secretsmanager:CreateSecret"),
			Resources:  &[]*string{skillSecretPattern},
			Conditions: &createConditions,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("TagManagedSkillSecrets"),
			Actions:    jsii.Strings("secretsmanager:TagResource"),
			Resources:  &[]*string{skillSecretPattern},
			Conditions: &onlyManagedTag,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ScheduleRotationOfSkillSecrets"),
			Actions:   jsii.Strings("secretsmanager:RotateSecret"),
			Resources: &[]*string{skillSecretPattern},
			Conditions: &map[string]any{"StringEquals": map[string]any{
				"secretsmanager:RotationLambdaARN": fn.FunctionArn(),
			}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("InvokeSelfAsRotationFunction"),
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: &[]*string{fn.FunctionArn()},
		}),
	}
	policy := awsiam.NewPolicy(stack, jsii.String("CreateSkillSecretsPolicy"), &awsiam.PolicyProps{
		Roles:      &[]awsiam.IRole{fn.Role()},
		Statements: &statements,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String(fmt.Sprintf("Scoped to the skill secret name prefix: the function creates the secrets of skills it finds or that exceed the %d the stack creates, only with the %s tag and the stack's key (IAM conditions); the trailing * covers the skill ids and the random ARN suffix.", contract.MaxStackSkillSecrets, contract.ManagedTagKey)),
		AppliesTo: &[]any{"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + cfg.SkillSecretPrefix + "*"},
	}}, jsii.Bool(true))
}
