package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

var update = flag.Bool("update", false, "rewrite testdata/iam/stack-policies.json from the synthesized stack")

// iamPolicyFile is where TestIAMPolicyFile writes the stack's IAM for the
// runtime tests (internal/testsupport/permcheck), which may not import infra.
var iamPolicyFile = filepath.Join("..", "testdata", "iam", "stack-policies.json")

// The account, region and partition the file's ARNs are resolved in: moto's
// default account and the region the runtime tests use.
const (
	policyFilePartition = "aws"
	policyFileRegion    = "us-east-1"
	policyFileAccount   = "123456789012"
	// policyFileSecretSuffix stands for the six random characters Secrets
	// Manager appends to every secret's ARN.
	policyFileSecretSuffix = "AbCdEf"
)

// policyFileSkillIDs are the skills of the stack the file describes: the
// ones the end-to-end tests in lambda/ sync, so that they use the names the
// stack gives (permcheck checks that they do).
var policyFileSkillIDs = []any{
	"amzn1.ask.skill.00000001-2222-4222-8222-222222222222",
	"amzn1.ask.skill.00000002-2222-4222-8222-222222222222",
	"amzn1.ask.skill.00000003-2222-4222-8222-222222222222",
}

// policyFileContext is cdk.json's context with these skills and two reader
// roles: one of every skill, one of the first skill only.
var policyFileContext = map[string]any{
	"skillIds": policyFileSkillIDs,
	"readerRoleArns": map[string]any{
		testReaderRole:         []any{AllSkills},
		testReaderRoleWithPath: []any{policyFileSkillIDs[0]},
	},
}

// policyFileDiscoveryContext is the same stack with vendor discovery: the
// function may then create, tag and schedule the rotation of skill secrets
// (CreateSkillSecretsPolicy), which the discovery end-to-end test checks.
var policyFileDiscoveryContext = func() map[string]any {
	ctx := maps.Clone(policyFileContext)
	ctx[ctxSkillDiscovery] = contract.DiscoveryVendor
	return ctx
}()

// readerSkills returns, for each reader role of cfg, the skill ids whose
// secrets it is meant to read; "*" means every skill under the prefix.
// permcheck.CheckReader proves the role reads exactly those.
func readerSkills(cfg *Config) map[string][]string {
	out := map[string][]string{}
	for _, r := range cfg.Readers {
		out[r.RoleARN] = r.SkillIDs
		if r.SkillIDs == nil {
			out[r.RoleARN] = []string{AllSkills}
		}
	}
	return out
}

// stackPolicies is the file's content; internal/testsupport/permcheck reads the same
// shape.
type stackPolicies struct {
	Comment           string            `json:"_comment"`
	Partition         string            `json:"partition"`
	Region            string            `json:"region"`
	Account           string            `json:"account"`
	SecretARNSuffix   string            `json:"secretArnSuffix"`
	LWASecretName     string            `json:"lwaSecretName"`
	SkillSecretPrefix string            `json:"skillSecretPrefix"`
	SkillIDs          []string          `json:"skillIds"`
	KeyARN            string            `json:"keyArn"`
	Secrets           map[string]string `json:"secrets"`
	Function          principalPolicies `json:"function"`
	// DiscoveryFunction is the function role of the same stack synthesized
	// with skillDiscovery "vendor"; everything else is the same.
	DiscoveryFunction principalPolicies `json:"discoveryFunction"`
	KeyPolicy         any               `json:"keyPolicy"`
	Readers           []readerPolicies  `json:"readers"`
}

type principalPolicies struct {
	RoleARN     string            `json:"roleArn"`
	FunctionARN string            `json:"functionArn,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Policies    []namedPolicy     `json:"policies"`
}

type readerPolicies struct {
	principalPolicies
	SkillIDs []string `json:"skillIds"`
}

type namedPolicy struct {
	Name     string `json:"name"`
	Document any    `json:"document"`
}

// TestIAMPolicyFile checks that testdata/iam/stack-policies.json holds the
// IAM the stack synthesizes (the function role's policies, the key policy,
// the reader policies) with every token resolved, and the function role of
// the same stack with vendor discovery; -update rewrites it. The runtime
// tests check the calls the real bootstrap makes against it.
func TestIAMPolicyFile(t *testing.T) {
	file := policyFileOf(t, policyFileContext)
	discovery := policyFileOf(t, policyFileDiscoveryContext)
	// The file holds one key, key policy, set of secrets and readers: the
	// discovery stack must not change them, only the function.
	if a, b := toJSON(withoutFunction(file)), toJSON(withoutFunction(discovery)); a != b {
		t.Fatalf("with skillDiscovery %q the stack's IAM changes beyond the function role; the policy file cannot describe it:\n%s", contract.DiscoveryVendor, firstDifference([]byte(a), []byte(b)))
	}
	if discovery.Function.Environment[contract.EnvSkillDiscovery] != contract.DiscoveryVendor {
		t.Fatalf("discovery stack's function environment %v lacks %s=%s", discovery.Function.Environment, contract.EnvSkillDiscovery, contract.DiscoveryVendor)
	}
	file.DiscoveryFunction = discovery.Function
	got, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(iamPolicyFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(iamPolicyFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(iamPolicyFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: the stack's IAM changed (%v). Regenerate it with\n\tgo test ./infra -run TestIAMPolicyFile -update\nreview the diff and commit it; the runtime tests (go test ./lambda) then check the function's calls against it.\n%s", iamPolicyFile, err, firstDifference(want, got))
	}
}

// policyFileOf synthesizes the stack of ctx and returns its policy file.
func policyFileOf(t *testing.T, ctx map[string]any) stackPolicies {
	t.Helper()
	s := synth(t, ctx)
	cfg, err := LoadConfig(newTestApp(t, ctx).Node())
	if err != nil {
		t.Fatal(err)
	}
	return buildPolicyFile(t, s, cfg)
}

// withoutFunction is f without its function role.
func withoutFunction(f stackPolicies) stackPolicies {
	f.Function, f.DiscoveryFunction = principalPolicies{}, principalPolicies{}
	return f
}

// firstDifference shows the lines around the first line where got differs
// from want.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	lo := max(0, i-3)
	return fmt.Sprintf("first difference at line %d:\ncommitted:\n%s\nsynthesized:\n%s",
		i+1, strings.Join(w[lo:min(len(w), i+4)], "\n"), strings.Join(g[lo:min(len(g), i+4)], "\n"))
}

func buildPolicyFile(t *testing.T, s *synthesized, cfg *Config) stackPolicies {
	t.Helper()
	r := &resolver{resources: s.json["Resources"].(map[string]any)}
	resolve := func(v any) any {
		t.Helper()
		out, err := r.resolve(v)
		if err != nil {
			t.Fatalf("resolve %s: %v", toJSON(v), err)
		}
		return out
	}
	out := stackPolicies{
		Comment:           "Generated by go test ./infra -run TestIAMPolicyFile -update from the synthesized stack; do not edit. Read by internal/testsupport/permcheck.",
		Partition:         policyFilePartition,
		Region:            policyFileRegion,
		Account:           policyFileAccount,
		SecretARNSuffix:   policyFileSecretSuffix,
		LWASecretName:     cfg.LWASecretName,
		SkillSecretPrefix: cfg.SkillSecretPrefix,
		SkillIDs:          cfg.SkillIDs,
		Secrets:           map[string]string{},
	}

	// The secrets' key: the one the LWA secret is encrypted with.
	lwaProps := s.resources("AWS::SecretsManager::Secret")[lwaSecretID(t, s)]["Properties"].(map[string]any)
	keyRef, ok := lwaProps["KmsKeyId"].(map[string]any)["Fn::GetAtt"].([]any)
	if !ok {
		t.Fatalf("LWA secret KmsKeyId = %s; want the Arn of a key of the stack", toJSON(lwaProps["KmsKeyId"]))
	}
	keyID := keyRef[0].(string)
	out.KeyARN = resolve(getAtt(keyID, "Arn")).(string)
	out.KeyPolicy = resolve(s.resources("AWS::KMS::Key")[keyID]["Properties"].(map[string]any)["KeyPolicy"])
	for id, res := range s.resources("AWS::SecretsManager::Secret") {
		props := res["Properties"].(map[string]any)
		if k := resolve(props["KmsKeyId"]); k != out.KeyARN {
			t.Fatalf("secret %s is encrypted with %v; the check assumes every secret uses the stack's key %s", id, k, out.KeyARN)
		}
		out.Secrets[props["Name"].(string)] = resolve(ref(id)).(string)
	}

	fnID, fn := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	out.Function.RoleARN = resolve(fn["Role"]).(string)
	out.Function.FunctionARN = resolve(getAtt(fnID, "Arn")).(string)
	env := resolve(fn["Environment"].(map[string]any)["Variables"]).(map[string]any)
	out.Function.Environment = map[string]string{}
	for k, v := range env {
		out.Function.Environment[k] = v.(string)
	}
	roleID := fn["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	out.Function.Policies = policiesOf(t, s, resolve, roleID, map[string]any{"Ref": roleID})
	if len(out.Function.Policies) == 0 {
		t.Fatalf("no policy attached to the function's role %s (function %s)", roleID, fnID)
	}

	for role, skills := range readerSkills(cfg) {
		name := role[strings.LastIndex(role, "/")+1:]
		rp := readerPolicies{principalPolicies: principalPolicies{RoleARN: role}, SkillIDs: skills}
		rp.Policies = policiesOf(t, s, resolve, "", name)
		out.Readers = append(out.Readers, rp)
	}
	sort.Slice(out.Readers, func(i, j int) bool { return out.Readers[i].RoleARN < out.Readers[j].RoleARN })
	return out
}

// policiesOf returns the identity policies attached to a role: the
// AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources listing it (as a
// Ref of the stack's role, or the name of an imported one) and, for a role
// of the stack (roleID), its inline policies. A managed policy by ARN cannot
// be checked and fails the test.
func policiesOf(t *testing.T, s *synthesized, resolve func(any) any, roleID string, roleRef any) []namedPolicy {
	t.Helper()
	var out []namedPolicy
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		rs := s.resources(typ)
		ids := make([]string, 0, len(rs))
		for id := range rs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			props := rs[id]["Properties"].(map[string]any)
			roles, _ := props["Roles"].([]any)
			if slices.ContainsFunc(roles, func(r any) bool { return toJSON(r) == toJSON(roleRef) }) {
				out = append(out, namedPolicy{Name: id, Document: resolve(props["PolicyDocument"])})
			}
		}
	}
	if roleID != "" {
		role := s.resources("AWS::IAM::Role")[roleID]["Properties"].(map[string]any)
		if arns, ok := role["ManagedPolicyArns"]; ok {
			t.Fatalf("role %s has managed policies %s: their statements are not in the template and cannot be checked", roleID, toJSON(arns))
		}
		inline, _ := role["Policies"].([]any)
		for _, p := range inline {
			p := p.(map[string]any)
			out = append(out, namedPolicy{Name: roleID + "/" + p["PolicyName"].(string), Document: resolve(p["PolicyDocument"])})
		}
	}
	return out
}

// resolver replaces CloudFormation intrinsics with the values they take in
// the policy file's account and region. Names CloudFormation would generate
// are the logical ids.
type resolver struct {
	resources map[string]any
}

func (r *resolver) resolve(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = r.resolve(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				switch k {
				case "Ref":
					return r.ref(arg.(string))
				case "Fn::GetAtt":
					a := arg.([]any)
					return r.getAtt(a[0].(string), a[1].(string))
				case "Fn::Join":
					a := arg.([]any)
					parts, err := r.resolve(a[1])
					if err != nil {
						return nil, err
					}
					var b strings.Builder
					for i, p := range parts.([]any) {
						if i > 0 {
							b.WriteString(a[0].(string))
						}
						s, ok := p.(string)
						if !ok {
							return nil, fmt.Errorf("Fn::Join of %s", toJSON(p))
						}
						b.WriteString(s)
					}
					return b.String(), nil
				}
				if strings.HasPrefix(k, "Fn::") {
					return nil, fmt.Errorf("%s is not resolved by the test", k)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			var err error
			if out[k], err = r.resolve(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r *resolver) ref(id string) (any, error) {
	switch id {
	case "AWS::Partition":
		return policyFilePartition, nil
	case "AWS::Region":
		return policyFileRegion, nil
	case "AWS::AccountId":
		return policyFileAccount, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return DefaultStackName, nil
	}
	typ, props, err := r.resource(id)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "AWS::SecretsManager::Secret":
		return r.arn("secretsmanager", "secret:"+r.name(id, props, "Name")+"-"+policyFileSecretSuffix), nil
	case "AWS::KMS::Key":
		return keyID(id), nil
	case "AWS::Logs::LogGroup":
		return r.name(id, props, "LogGroupName"), nil
	case "AWS::IAM::Role":
		return r.name(id, props, "RoleName"), nil
	case "AWS::Lambda::Function":
		return r.name(id, props, "FunctionName"), nil
	case "AWS::SNS::Topic":
		return r.arn("sns", r.name(id, props, "TopicName")), nil
	case "AWS::IAM::ManagedPolicy":
		return "arn:" + policyFilePartition + ":iam::" + policyFileAccount + ":policy/" + r.name(id, props, "ManagedPolicyName"), nil
	}
	return nil, fmt.Errorf("Ref of %s (%s) is not resolved by the test", id, typ)
}

func (r *resolver) getAtt(id, attr string) (any, error) {
	typ, props, err := r.resource(id)
	if err != nil {
		return nil, err
	}
	switch typ + "." + attr {
	case "AWS::KMS::Key.Arn":
		return r.arn("kms", "key/"+keyID(id)), nil
	case "AWS::Logs::LogGroup.Arn":
		return r.arn("logs", "log-group:"+r.name(id, props, "LogGroupName")+":*"), nil
	case "AWS::IAM::Role.Arn":
		return "arn:" + policyFilePartition + ":iam::" + policyFileAccount + ":role/" + r.name(id, props, "RoleName"), nil
	case "AWS::Lambda::Function.Arn":
		return r.arn("lambda", "function:"+r.name(id, props, "FunctionName")), nil
	case "AWS::SQS::Queue.Arn":
		return r.arn("sqs", r.name(id, props, "QueueName")), nil
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s (%s) is not resolved by the test", id, attr, typ)
}

func (r *resolver) resource(id string) (string, map[string]any, error) {
	res, ok := r.resources[id].(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("no resource %s", id)
	}
	props, _ := res["Properties"].(map[string]any)
	return res["Type"].(string), props, nil
}

// name is the resource's explicit name property, else its logical id.
func (r *resolver) name(id string, props map[string]any, prop string) string {
	if n, ok := props[prop].(string); ok {
		return n
	}
	return id
}

func (r *resolver) arn(service, resource string) string {
	return "arn:" + policyFilePartition + ":" + service + ":" + policyFileRegion + ":" + policyFileAccount + ":" + resource
}

// keyID is a stable stand-in for the key id KMS would assign.
func keyID(logicalID string) string {
	h := sha256.Sum256([]byte(logicalID))
	x := fmt.Sprintf("%x", h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
