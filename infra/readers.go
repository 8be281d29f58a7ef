package main

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// readerGrant is one distinct skill list of cfg.Readers and the roles
// granted it.
type readerGrant struct {
	skillIDs []string // nil: every skill under the prefix
	roles    []string
}

// readerGrants groups cfg.Readers by skill list, in a stable order.
func readerGrants(cfg *Config) []readerGrant {
	byKey := map[string]*readerGrant{}
	for _, r := range cfg.Readers {
		key := strings.Join(r.SkillIDs, ",")
		g, ok := byKey[key]
		if !ok {
			g = &readerGrant{skillIDs: r.SkillIDs}
			byKey[key] = g
		}
		g.roles = append(g.roles, r.RoleARN)
	}
	out := make([]readerGrant, 0, len(byKey))
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, *byKey[key])
	}
	return out
}

// id is the grant's construct id: it depends only on its skill list, so a
// grant keeps its policy when roles are added or removed.
func (g readerGrant) id() string {
	if g.skillIDs == nil {
		return "SkillSecretReaderPolicyAllSkills"
	}
	sum := sha256.Sum256([]byte(strings.Join(g.skillIDs, ",")))
	return "SkillSecretReaderPolicy" + hex.EncodeToString(sum[:])[:8]
}

// newReaderPolicies grants the roles of cfg.Readers read access to their
// skills' secrets: per distinct skill list, a customer-managed policy
// allowing GetSecretValue on those skill secrets (every skill: the prefix's
// pattern; never the LWA secret, which is outside the prefix) and
// kms:Decrypt on the key through Secrets Manager, attached to the roles
// granted that list. It returns the policies.
//
// With cfg.ReaderRefresh each policy also allows secretsmanager:RotateSecret
// on exactly the same skill secrets, and lambda:InvokeFunction on their
// rotation function (rotationFunctionARN), which the RotateSecret API
// reference requires of the caller: "Required permissions:
// secretsmanager:RotateSecret. [...] You also need lambda:InvokeFunction
// permissions on the rotation function."
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
// A skill Lambda then heals refused credentials with
// skillmessaging.WithRotateOnRefusal.
//
// The roles must be in the stack's account (Config.validate and
// Config.CheckAccount refuse others): an identity policy can only be attached
// to a role of the same account.
func newReaderPolicies(stack awscdk.Stack, cfg *Config, key awskms.Key, skillSecretPattern, rotationFunctionARN *string) []awsiam.ManagedPolicy {
	var policies []awsiam.ManagedPolicy
	roleIndex := 0
	for _, g := range readerGrants(cfg) {
		roles := make([]awsiam.IRole, 0, len(g.roles))
		for _, arn := range g.roles {
			roles = append(roles, awsiam.Role_FromRoleArn(stack, jsii.String("ReaderRole"+strconv.Itoa(roleIndex)), jsii.String(arn), &awsiam.FromRoleArnOptions{
				// The policy is attached through its own Roles list; nothing
				// else may change the imported role.
				Mutable: jsii.Bool(false),
			}))
			roleIndex++
		}
		secrets := []*string{skillSecretPattern}
		description := "Read every Alexa skill messaging credential (skill secret) kept by the skill credential sync"
		if g.skillIDs != nil {
			secrets = secrets[:0]
			for _, id := range g.skillIDs {
				// -?????? is the random suffix Secrets Manager appends to
				// every secret ARN: the pattern matches this secret only.
				secrets = append(secrets, stack.FormatArn(&awscdk.ArnComponents{
					Service:      jsii.String("secretsmanager"),
					Resource:     jsii.String("secret"),
					ResourceName: jsii.String(cfg.SkillSecretName(id) + "-??????"),
					ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
				}))
			}
			description = "Read the Alexa skill messaging credentials of " + strconv.Itoa(len(g.skillIDs)) + " skill(s) kept by the skill credential sync"
		}
		statements := []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadSkillSecrets"),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: &secrets,
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("DecryptSkillSecrets"),
				Actions:   jsii.Strings("kms:Decrypt"),
				Resources: &[]*string{key.KeyArn()},
				Conditions: &map[string]any{"StringEquals": map[string]any{
					"kms:ViaService": "secretsmanager." + *awscdk.Aws_REGION() + ".amazonaws.com",
				}},
			}),
		}
		if cfg.ReaderRefresh {
			statements = append(statements,
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Sid:       jsii.String("RotateSkillSecrets"),
					Actions:   jsii.Strings("secretsmanager:RotateSecret"),
					Resources: &secrets,
				}),
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Sid:       jsii.String("InvokeRotationFunction"),
					Actions:   jsii.Strings("lambda:InvokeFunction"),
					Resources: &[]*string{rotationFunctionARN},
				}))
			description += ", and ask for their rotation"
		}
		policy := awsiam.NewManagedPolicy(stack, jsii.String(g.id()), &awsiam.ManagedPolicyProps{
			Description: jsii.String(description),
			Roles:       &roles,
			Statements:  &statements,
		})
		if g.skillIDs == nil {
			cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
				Id:        jsii.String("AwsSolutions-IAM5"),
				Reason:    jsii.String("Granted on purpose with [\"*\"] in readerRoleArns: read-only access to every skill secret under the configured name prefix; the trailing * covers the skill ids and the random suffix of every secret ARN."),
				AppliesTo: &[]any{"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + cfg.SkillSecretPrefix + "*"},
			}}, jsii.Bool(false))
		}
		policies = append(policies, policy)
	}
	return policies
}
