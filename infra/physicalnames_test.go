package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// physicalNameProps are the resource types of the stack that have a name of
// their own in the account and region, and the property that sets it. When
// the property is absent, CloudFormation generates a unique name from the
// stack name, the logical id and a random part ("Name type",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html:
// "Resource names must be unique across all your active stacks").
// The namespace groups types whose names share one namespace (a composite
// alarm and a metric alarm cannot have the same name).
var physicalNameProps = map[string]struct{ namespace, prop string }{
	"AWS::SecretsManager::Secret":     {"secret", "Name"},
	"AWS::Lambda::Function":           {"function", "FunctionName"},
	"AWS::IAM::Role":                  {"role", "RoleName"},
	"AWS::IAM::ManagedPolicy":         {"managed policy", "ManagedPolicyName"},
	"AWS::Logs::LogGroup":             {"log group", "LogGroupName"},
	"AWS::CloudWatch::Alarm":          {"alarm", "AlarmName"},
	"AWS::CloudWatch::CompositeAlarm": {"alarm", "AlarmName"},
	"AWS::CloudWatch::Dashboard":      {"dashboard", "DashboardName"},
	"AWS::SQS::Queue":                 {"queue", "QueueName"},
	"AWS::SNS::Topic":                 {"topic", "TopicName"},
	"AWS::Events::Rule":               {"event rule", "Name"},
	"AWS::KMS::Alias":                 {"key alias", "AliasName"},
}

// unnamedTypes have no name of their own in the account: an id AWS
// assigns (a key), or they belong to a named resource (an inline policy is
// named within its role, a permission within its function, a rotation
// schedule is its secret's).
var unnamedTypes = []string{
	"AWS::KMS::Key", "AWS::IAM::Policy", "AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig",
	"AWS::SecretsManager::RotationSchedule", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription",
	"AWS::SQS::QueuePolicy", "Custom::DeploySync", "AWS::CDK::Metadata",
}

// TestTwoDeploymentsShareNoPhysicalName synthesizes two deployments of the
// stack in one account and region, as an agency serving two Amazon developer
// accounts would (README "Deploy", "Several developer accounts"): each with
// its own stackName, lwaSecretName and skillSecretPrefix, the same skills
// (staging and production of one skill set are the harder case), discovery,
// reader roles and an alarm e-mail. No physical name of one (function, role,
// log group, alarm, dashboard, queue, topic, secret, export...) may be a name
// of the other, and neither's IAM grants may reach the other's secrets.
func TestTwoDeploymentsShareNoPhysicalName(t *testing.T) {
	common := map[string]any{
		"skillIds":       []any{testSkillID, testLegacySkillID},
		"readerRoleArns": map[string]any{testReaderRole: []any{AllSkills}, testReaderRoleWithPath: []any{testSkillID}},
		"skillDiscovery": contract.DiscoveryVendor,
		"alarmEmail":     "ops@example.com",
	}
	deployments := []map[string]any{
		{"stackName": "AlexaSkillCredentials", "lwaSecretName": "alexa/skill-credentials/lwa", "skillSecretPrefix": "alexa/skill-messaging/"},
		{"stackName": "AlexaSkillCredentials-agency-b", "lwaSecretName": "agency-b/alexa/lwa", "skillSecretPrefix": "agency-b/alexa/skill-messaging/"},
	}
	var names []map[string]string // per deployment: "namespace name" -> where
	var grants [][]string         // per deployment: Secrets Manager resource patterns of its IAM policies
	var secretARNs [][]string     // per deployment: its secrets' ARNs
	for _, d := range deployments {
		ctx := maps.Clone(common)
		maps.Copy(ctx, d)
		s := synth(t, ctx)
		if got := *s.stack.StackName(); got != d["stackName"] {
			t.Fatalf("stackName %q: the stack is named %q", d["stackName"], got)
		}
		n, g, arns := physicalNames(t, s, d["stackName"].(string))
		names, grants, secretARNs = append(names, n), append(grants, g), append(secretARNs, arns)
	}
	if len(names[0]) < 20 {
		t.Fatalf("only %d physical names found in %s: %v", len(names[0]), deployments[0]["stackName"], names[0])
	}
	for name, where := range names[0] {
		if other, ok := names[1][name]; ok {
			t.Errorf("both deployments name a %s: %s in %s, %s in %s", name, where, deployments[0]["stackName"], other, deployments[1]["stackName"])
		}
	}
	for i := range deployments {
		other := 1 - i
		for _, pattern := range grants[i] {
			re := globRegexp(pattern)
			for _, arn := range secretARNs[other] {
				if re.MatchString(arn) {
					t.Errorf("%s grants %s, which covers %s of %s", deployments[i]["stackName"], pattern, arn, deployments[other]["stackName"])
				}
			}
		}
		if len(grants[i]) == 0 || len(secretARNs[i]) < 3 {
			t.Fatalf("%s: %d Secrets Manager grants, %d secrets; the stack has both", deployments[i]["stackName"], len(grants[i]), len(secretARNs[i]))
		}
	}
}

// physicalNames returns the physical names of the synthesized stack named
// stackName, each as "namespace name" mapped to the logical id or output
// that has it; the Secrets Manager resource patterns of its IAM policies;
// and the ARNs of its secrets. A resource type in neither
// physicalNameProps nor unnamedTypes fails the test: a new type must be
// classified here.
func physicalNames(t *testing.T, s *synthesized, stackName string) (map[string]string, []string, []string) {
	t.Helper()
	resources := s.json["Resources"].(map[string]any)
	r := &nameResolver{stack: stackName, resources: resources}
	names := map[string]string{}
	add := func(namespace, name, where string) {
		key := namespace + " " + name
		if prev, dup := names[key]; dup {
			t.Errorf("%s: %s and %s both name a %s", stackName, prev, where, key)
		}
		names[key] = where
	}
	var secretARNs, grants []string
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		typ := resources[id].(map[string]any)["Type"].(string)
		if np, ok := physicalNameProps[typ]; ok {
			name, err := r.physicalName(id)
			if err != nil {
				t.Fatalf("%s: %s (%s): %v", stackName, id, typ, err)
			}
			add(np.namespace, name, id)
			if typ == "AWS::SecretsManager::Secret" {
				secretARNs = append(secretARNs, r.secretARN(name))
			}
			continue
		}
		if !slices.Contains(unnamedTypes, typ) && !strings.HasPrefix(typ, "Custom::") {
			t.Errorf("%s: resource %s has type %s, in neither physicalNameProps nor unnamedTypes: say whether it has a name of its own", stackName, id, typ)
		}
		if typ == "AWS::IAM::Policy" || typ == "AWS::IAM::ManagedPolicy" {
			props := resources[id].(map[string]any)["Properties"].(map[string]any)
			for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				for _, res := range asStrings(st.(map[string]any)["Resource"]) {
					v, err := r.resolve(res)
					if err != nil {
						t.Fatalf("%s: %s: resource %s: %v", stackName, id, toJSON(res), err)
					}
					if arn := v.(string); strings.Contains(arn, ":secretsmanager:") {
						grants = append(grants, arn)
					}
				}
			}
		}
	}
	for id, o := range s.outputs() {
		if exp, ok := o["Export"].(map[string]any); ok {
			name, err := r.resolve(exp["Name"])
			if err != nil {
				t.Fatalf("%s: output %s: export name: %v", stackName, id, err)
			}
			add("export", name.(string), "output "+id)
		}
	}
	return names, grants, secretARNs
}

// Where the two deployments are: one account, one region.
const (
	namesPartition = "aws"
	namesRegion    = "us-east-1"
	namesAccount   = "123456789012"
)

// nameResolver resolves the intrinsic functions of one stack's template to
// physical names, generated names spelled as CloudFormation makes them
// (<stack>-<logicalId>-<random>, the random part as "*").
type nameResolver struct {
	stack     string
	resources map[string]any
}

func (r *nameResolver) physicalName(id string) (string, error) {
	res, ok := r.resources[id].(map[string]any)
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	typ := res["Type"].(string)
	np, ok := physicalNameProps[typ]
	if !ok {
		return r.stack + "/" + id, nil // a key's id, a permission's...: not a name
	}
	props, _ := res["Properties"].(map[string]any)
	v, ok := props[np.prop]
	if !ok {
		return r.stack + "-" + id + "-*", nil
	}
	name, err := r.resolve(v)
	if err != nil {
		return "", fmt.Errorf("%s: %v", np.prop, err)
	}
	s, ok := name.(string)
	if !ok {
		return "", fmt.Errorf("%s is %s, not a name", np.prop, toJSON(name))
	}
	return s, nil
}

func (r *nameResolver) secretARN(name string) string {
	return "arn:" + namesPartition + ":secretsmanager:" + namesRegion + ":" + namesAccount + ":secret:" + name + "-AbCdEf"
}

func (r *nameResolver) resolve(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v, nil
	}
	for fn, arg := range m {
		switch fn {
		case "Ref":
			switch id := arg.(string); id {
			case "AWS::Partition":
				return namesPartition, nil
			case "AWS::Region":
				return namesRegion, nil
			case "AWS::AccountId":
				return namesAccount, nil
			case "AWS::URLSuffix":
				return "amazonaws.com", nil
			case "AWS::StackName":
				return r.stack, nil
			default:
				name, err := r.physicalName(id)
				if err == nil && r.resources[id].(map[string]any)["Type"] == "AWS::SecretsManager::Secret" {
					return r.secretARN(name), nil // a secret's Ref is its ARN
				}
				return name, err
			}
		case "Fn::GetAtt":
			a := arg.([]any)
			name, err := r.physicalName(a[0].(string))
			return a[1].(string) + "(" + name + ")", err
		case "Fn::Join":
			a := arg.([]any)
			var parts []string
			for _, p := range a[1].([]any) {
				s, err := r.resolve(p)
				if err != nil {
					return nil, err
				}
				str, ok := s.(string)
				if !ok {
					return nil, fmt.Errorf("Fn::Join of %s", toJSON(s))
				}
				parts = append(parts, str)
			}
			return strings.Join(parts, a[0].(string)), nil
		}
		if strings.HasPrefix(fn, "Fn::") {
			return nil, fmt.Errorf("%s is not resolved by the test", fn)
		}
	}
	return v, nil
}

// globRegexp is an IAM resource pattern (* any characters, ? one) as a
// regular expression.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, c := range pattern {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
