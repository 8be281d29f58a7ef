// Package permcheck checks recorded AWS calls against the IAM the stack
// deploys. The infra tests write the synthesized policies, with every token
// resolved to a fixed test account and region, to
// testdata/iam/stack-policies.json (go test ./infra -run TestIAMPolicyFile
// -update); Load reads that file, so that runtime tests check the calls of
// the real bootstrap without importing infra.
//
// For each call it derives the permissions AWS checks (Required): the
// operation's own action on the secret it names, and the KMS actions Secrets
// Manager performs on the caller's behalf with the secret's key. KMS
// permissions are decided as KMS does: the key policy must allow the role
// itself, or allow the account (which delegates to IAM) and the role's IAM
// policies must allow too; an explicit deny in either wins.
//
// Each permission carries the condition keys AWS puts in the request: the
// caller's (aws:PrincipalArn, aws:PrincipalAccount, aws:RequestedRegion,
// kms:CallerAccount), kms:ViaService and the secret's encryption context
// only on the KMS calls Secrets Manager makes on the caller's behalf (a
// direct call to KMS carries no kms:ViaService), the request's tags, key and
// rotation function. A key not carried is absent, as in AWS (iampolicy). So
// that no condition is decided on a key permcheck forgot, Load refuses a
// policy whose conditions name a key outside ModelledKeys, and iampolicy
// refuses an operator it does not evaluate.
//
// What it does not prove: resource policies on secrets, permission
// boundaries, service control policies and session policies are not part of
// the stack and not checked.
package permcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/awsrecord"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/iampolicy"
)

// DefaultFile is the policy file, relative to the module root.
const DefaultFile = "testdata/iam/stack-policies.json"

// RegenerateCommand rewrites DefaultFile from the stack.
const RegenerateCommand = "go test ./infra -run TestIAMPolicyFile -update"

// Stack is the IAM of one synthesized stack.
type Stack struct {
	Partition         string            `json:"partition"`
	Region            string            `json:"region"`
	Account           string            `json:"account"`
	SecretARNSuffix   string            `json:"secretArnSuffix"`
	LWASecretName     string            `json:"lwaSecretName"`
	SkillSecretPrefix string            `json:"skillSecretPrefix"`
	SkillIDs          []string          `json:"skillIds"`
	KeyARN            string            `json:"keyArn"`
	Secrets           map[string]string `json:"secrets"` // name → ARN
	Function          Principal         `json:"function"`
	// DiscoveryFunction is the function role of the same stack with
	// skillDiscovery "vendor": Function's policies and the policy that lets
	// it create, tag and schedule the rotation of skill secrets.
	DiscoveryFunction Principal       `json:"discoveryFunction"`
	Readers           []Principal     `json:"readers"`
	RawKeyPolicy      json.RawMessage `json:"keyPolicy"`

	// KeyPolicy is the key policy of KeyARN, parsed.
	KeyPolicy *iampolicy.Policy `json:"-"`
}

// Principal is a role and the identity policies attached to it.
type Principal struct {
	RoleARN     string            `json:"roleArn"`
	FunctionARN string            `json:"functionArn,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	// SkillIDs, for a reader, are the skills whose secrets it is meant to
	// read; "*" is every skill under the prefix.
	SkillIDs    []string `json:"skillIds,omitempty"`
	RawPolicies []struct {
		Name     string          `json:"name"`
		Document json.RawMessage `json:"document"`
	} `json:"policies"`

	// Policies are RawPolicies, parsed.
	Policies []*iampolicy.Policy `json:"-"`
}

// Load reads and parses a policy file.
func Load(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (write it with %s)", err, RegenerateCommand)
	}
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.KeyPolicy, err = iampolicy.Parse("key policy", s.RawKeyPolicy); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range append([]*Principal{&s.Function, &s.DiscoveryFunction}, ptrs(s.Readers)...) {
		for _, rp := range p.RawPolicies {
			parsed, err := iampolicy.Parse(rp.Name, rp.Document)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			p.Policies = append(p.Policies, parsed)
		}
	}
	if s.Function.RoleARN == "" || len(s.Function.Policies) == 0 || len(s.DiscoveryFunction.Policies) == 0 || s.KeyARN == "" {
		return nil, fmt.Errorf("%s: no function role, policies (with and without discovery) or key", path)
	}
	for _, p := range append([]*iampolicy.Policy{s.KeyPolicy}, s.allPolicies()...) {
		if err := checkKeys(p); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return &s, nil
}

func (s *Stack) allPolicies() []*iampolicy.Policy {
	out := slices.Concat(s.Function.Policies, s.DiscoveryFunction.Policies)
	for _, r := range s.Readers {
		out = append(out, r.Policies...)
	}
	return out
}

// ModelledKeys are the condition keys (patterns, without regard to case)
// that Required and Authorize put in a request whenever AWS does. A
// condition on any other key would be decided as if the key were absent,
// which may not be what AWS sees: Load refuses it.
var ModelledKeys = []string{
	"aws:PrincipalArn", "aws:PrincipalAccount", "aws:RequestedRegion",
	"aws:RequestTag/*", "aws:TagKeys",
	"kms:CallerAccount", "kms:ViaService", "kms:EncryptionContext:SecretARN",
	"secretsmanager:KmsKeyArn", "secretsmanager:RotationLambdaARN",
}

// checkKeys returns an error naming the first condition key of p outside
// ModelledKeys.
func checkKeys(p *iampolicy.Policy) error {
	for i, st := range p.Statement {
		for _, op := range slices.Sorted(maps.Keys(st.Condition)) {
			for _, k := range slices.Sorted(maps.Keys(st.Condition[op])) {
				if !slices.ContainsFunc(ModelledKeys, func(m string) bool { return iampolicy.ActionMatch(m, k) }) {
					return fmt.Errorf("%s %s: condition key %s is not modelled by permcheck (ModelledKeys): add it to the requests that carry it", p.Name, st.ID(i), k)
				}
			}
		}
	}
	return nil
}

func ptrs[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// Permission is one authorization AWS makes for a call.
type Permission struct {
	Action   string // e.g. secretsmanager:GetSecretValue
	Resource string // an ARN in the file's account, or "*"
	// Context holds the condition keys the request carries besides the
	// caller's, which Authorize adds; Sets its multivalued ones
	// (aws:TagKeys). Any other key is absent from the request.
	Context map[string]string
	Sets    map[string][]string
	Why     string // how the call leads to it, for messages
}

func (p Permission) String() string { return p.Action + " on " + p.Resource }

// SecretARN returns the ARN IAM authorizes a call naming secret (a name, or
// an ARN from moto) against: the stack's ARN for its secrets, else the ARN
// the secret would have in the file's account and region.
func (s *Stack) SecretARN(secret string) string {
	name := secret
	if strings.HasPrefix(secret, "arn:") {
		parts := strings.SplitN(secret, ":", 7)
		if len(parts) != 7 || parts[5] != "secret" || parts[3] != s.Region || parts[4] != s.Account {
			return secret // another account or region: authorized as it is
		}
		name = arnSuffix.ReplaceAllString(parts[6], "")
	}
	if arn, ok := s.Secrets[name]; ok {
		return arn
	}
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-%s", s.Partition, s.Region, s.Account, name, s.SecretARNSuffix)
}

// arnSuffix is the "-" and six random characters of a full secret ARN.
var arnSuffix = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// secretOps maps Secrets Manager operations that act on the secret named
// by SecretId to the KMS actions Secrets Manager performs for them with the
// secret's key ("How Secrets Manager uses your KMS key", Secrets Manager
// User Guide: Decrypt for GetSecretValue; GenerateDataKey for a new value,
// and Decrypt when PutSecretValue/UpdateSecret compare with an existing
// version, as a retried write with the same token does).
var secretOps = map[string][]string{
	"GetSecretValue":           {"kms:Decrypt"},
	"PutSecretValue":           {"kms:GenerateDataKey", "kms:Decrypt"},
	"UpdateSecret":             {"kms:GenerateDataKey", "kms:Decrypt"},
	"DescribeSecret":           nil,
	"UpdateSecretVersionStage": nil,
	"ListSecretVersionIds":     nil,
	"UntagResource":            nil,
	"CancelRotateSecret":       nil,
	"DeleteSecret":             nil,
	"RestoreSecret":            nil,
	"GetResourcePolicy":        nil,
	"PutResourcePolicy":        nil,
	"DeleteResourcePolicy":     nil,
	"ValidateResourcePolicy":   nil,
}

// Required returns the permissions AWS checks for a recorded call, from the
// "Required permissions" of each operation in the Secrets Manager API
// reference (repeated in the SDK's api_op_*.go doc comments). A call it has
// no rule for is an error naming it: add the rule here.
func (s *Stack) Required(c awsrecord.Call) ([]Permission, error) {
	if c.Operation == "" {
		return nil, fmt.Errorf("%s: the recorder could not read the request; permcheck cannot check it", c)
	}
	action := c.Service + ":" + c.Operation
	one := func(id string) string { return first(c.Params[id]) }
	var out []Permission
	add := func(action, resource, why string) {
		out = append(out, Permission{Action: action, Resource: resource, Why: why})
	}
	// secretKMS adds the KMS actions Secrets Manager makes with the key of
	// the secret at arn, on the caller's behalf: they carry kms:ViaService
	// and the secret's ARN as encryption context ("How Secrets Manager uses
	// your KMS key", Secrets Manager User Guide).
	secretKMS := func(arn, key string, actions []string) {
		for _, a := range actions {
			out = append(out, Permission{Action: a, Resource: key, Why: "Secrets Manager uses the secret's key for " + c.Operation + " of " + arn,
				Context: map[string]string{
					"kms:ViaService":                  s.ViaSecretsManager(),
					"kms:EncryptionContext:SecretARN": arn,
				}})
		}
	}
	if c.Service == "secretsmanager" {
		if kms, ok := secretOps[c.Operation]; ok {
			id := one("SecretId")
			if id == "" {
				return nil, fmt.Errorf("%s: no SecretId", c)
			}
			arn := s.SecretARN(id)
			add(action, arn, "")
			secretKMS(arn, s.KeyARN, kms)
			return out, nil
		}
		switch c.Operation {
		case "ListSecrets", "GetRandomPassword":
			// No resource-level permissions: Resource "*".
			add(action, "*", "")
			return out, nil
		case "BatchGetSecretValue":
			// secretsmanager:BatchGetSecretValue, GetSecretValue for each
			// secret, ListSecrets with filters, kms:Decrypt for the keys.
			add(action, "*", "")
			if len(c.Params["Filters"]) > 0 {
				add("secretsmanager:ListSecrets", "*", "BatchGetSecretValue with Filters")
			}
			seen := map[string]bool{}
			for _, id := range append(slices.Clone(c.Params["SecretIdList"]), c.Returned...) {
				arn := s.SecretARN(id)
				if seen[arn] {
					continue
				}
				seen[arn] = true
				add("secretsmanager:GetSecretValue", arn, "BatchGetSecretValue of "+id)
				secretKMS(arn, s.KeyARN, []string{"kms:Decrypt"})
			}
			return out, nil
		case "CreateSecret":
			// TagResource too when tags are given; a customer managed key
			// needs GenerateDataKey and Decrypt ("Permissions for the KMS
			// key"). The request's tags and key are condition keys:
			// aws:RequestTag/…, aws:TagKeys and secretsmanager:KmsKeyArn,
			// "the key ARN of the KMS key in the request" (Service
			// Authorization Reference, "Actions, resources, and condition
			// keys for AWS Secrets Manager").
			arn := s.SecretARN(one("Name"))
			tags := tagContext(c)
			create := tags
			create.Action, create.Resource = action, arn
			create.Context = maps.Clone(tags.Context)
			key, err := s.keyARN(one("KmsKeyId"))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c, err)
			}
			if key != "" { // no key: secretsmanager:KmsKeyArn is absent
				create.Context["secretsmanager:KmsKeyArn"] = key
			}
			out = append(out, create)
			if len(c.Params["Tags"]) > 0 {
				tags.Action, tags.Resource, tags.Why = "secretsmanager:TagResource", arn, "CreateSecret with Tags"
				out = append(out, tags)
			}
			if key != "" {
				secretKMS(arn, key, []string{"kms:GenerateDataKey", "kms:Decrypt"})
			}
			return out, nil
		case "TagResource":
			id := one("SecretId")
			if id == "" {
				return nil, fmt.Errorf("%s: no SecretId", c)
			}
			tags := tagContext(c)
			tags.Action, tags.Resource = action, s.SecretARN(id)
			return append(out, tags), nil
		case "RotateSecret":
			// "You also need lambda:InvokeFunction permissions on the
			// rotation function": the function the request names, which is
			// also the condition key secretsmanager:RotationLambdaARN.
			id := one("SecretId")
			if id == "" {
				return nil, fmt.Errorf("%s: no SecretId", c)
			}
			rotate := Permission{Action: action, Resource: s.SecretARN(id), Context: map[string]string{}}
			fn := one("RotationLambdaARN")
			if fn != "" {
				rotate.Context["secretsmanager:RotationLambdaARN"] = fn
			}
			out = append(out, rotate)
			if fn != "" {
				add("lambda:InvokeFunction", fn, "RotateSecret with RotationLambdaARN")
			}
			return out, nil
		}
	}
	if c.Service == "kms" && one("KeyId") != "" {
		// A direct call: no kms:ViaService, and an encryption context
		// permcheck does not read from the request (none).
		add(action, s.KeyARN, "")
		return out, nil
	}
	return nil, fmt.Errorf("%s: permcheck has no rule for %s; add the permissions the API reference lists for it to permcheck.Required", c, action)
}

// ViaSecretsManager is the kms:ViaService of the KMS calls Secrets Manager
// makes on a caller's behalf in the stack's region.
func (s *Stack) ViaSecretsManager() string {
	return "secretsmanager." + s.Region + ".amazonaws.com"
}

// tagContext is a permission whose condition keys are the call's tags:
// aws:RequestTag/<key> for each, aws:TagKeys for all, and no other
// aws:RequestTag/… or aws:TagKeys (the recorder keeps every tag of the
// request).
func tagContext(c awsrecord.Call) Permission {
	p := Permission{Context: map[string]string{}, Sets: map[string][]string{}}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		p.Context["aws:RequestTag/"+k] = c.Tags[k]
		p.Sets["aws:TagKeys"] = append(p.Sets["aws:TagKeys"], k)
	}
	return p
}

// keyARN returns the ARN of the KMS key a request names by ARN or key id
// ("" for none). An alias cannot be resolved offline, and the conditions on
// the key would be guessed: it is an error.
func (s *Stack) keyARN(id string) (string, error) {
	switch {
	case id == "":
		return "", nil
	case strings.HasPrefix(id, "alias/") || strings.Contains(id, ":alias/"):
		return "", fmt.Errorf("KmsKeyId %s is an alias, which permcheck cannot resolve offline to check secretsmanager:KmsKeyArn: name the key by ARN or id", id)
	case strings.HasPrefix(id, "arn:"):
		return id, nil
	}
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", s.Partition, s.Region, s.Account, id), nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// Verdict is the decision on one permission for one principal.
type Verdict struct {
	Permission Permission
	Allowed    bool
	// Reason says why not, naming the policy part that is missing or denies.
	Reason string
	// Grants are the Allow statements of the principal's identity policies
	// that the decision used.
	Grants []iampolicy.Match
	// Err is a condition that could not be evaluated; Allowed is then
	// false.
	Err error
}

// Authorize decides p for the role roleARN with its identity policies. The
// request carries p's condition keys and the caller's: aws:PrincipalArn,
// aws:PrincipalAccount, aws:RequestedRegion, and kms:CallerAccount for KMS
// actions.
func (s *Stack) Authorize(p Permission, roleARN string, identity []*iampolicy.Policy) Verdict {
	ctx := maps.Clone(p.Context)
	if ctx == nil {
		ctx = map[string]string{}
	}
	ctx["aws:PrincipalArn"], ctx["aws:PrincipalAccount"], ctx["aws:RequestedRegion"] = roleARN, s.Account, s.Region
	if strings.HasPrefix(p.Action, "kms:") {
		ctx["kms:CallerAccount"] = s.Account
	}
	req := iampolicy.Request{Action: p.Action, Resource: p.Resource, Principal: roleARN, Context: ctx, Sets: p.Sets}
	v := Verdict{Permission: p}
	id, err := iampolicy.Evaluate(req, identity...)
	if err != nil {
		v.Err, v.Reason = err, "cannot be decided: "+err.Error()
		return v
	}
	if !strings.HasPrefix(p.Action, "kms:") || p.Resource != s.KeyARN {
		v.Allowed = id.Decision == iampolicy.Allow
		v.Grants = id.Allows
		if !v.Allowed {
			v.Reason = fmt.Sprintf("%s by the role's identity policies%s", id.Decision, denyNames(id))
		}
		return v
	}
	// KMS: the key policy decides, directly or by delegating to IAM.
	direct, err1 := iampolicy.Evaluate(req, s.KeyPolicy)
	rootReq := req
	rootReq.Principal = "arn:" + s.Partition + ":iam::" + s.Account + ":root"
	account, err2 := iampolicy.Evaluate(rootReq, s.KeyPolicy)
	if err := errors.Join(err1, err2); err != nil {
		v.Err, v.Reason = err, "cannot be decided: "+err.Error()
		return v
	}
	switch {
	case id.Decision == iampolicy.ExplicitDeny:
		v.Reason = "explicitly denied by the role's identity policies" + denyNames(id)
	case direct.Decision == iampolicy.ExplicitDeny || account.Decision == iampolicy.ExplicitDeny:
		v.Reason = "explicitly denied by the key policy"
	case direct.Decision == iampolicy.Allow:
		v.Allowed = true
	case account.Decision != iampolicy.Allow:
		v.Reason = "the key policy neither allows the role nor delegates this action to IAM (no statement for the account root)"
	case id.Decision != iampolicy.Allow:
		v.Reason = "the key policy delegates to IAM, but the role's identity policies do not allow it (" + id.Decision.String() + ")"
	default:
		v.Allowed = true
		v.Grants = id.Allows
	}
	return v
}

func denyNames(r iampolicy.Result) string {
	if len(r.Denies) == 0 {
		if r.Decision == iampolicy.ImplicitDeny {
			return " (no statement allows it)"
		}
		return ""
	}
	names := make([]string, len(r.Denies))
	for i, m := range r.Denies {
		names[i] = m.String()
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// Report is the check of some calls against the function role.
type Report struct {
	// Denied lists, per call, each permission the stack does not give.
	Denied []string
	// Errors are calls permcheck could not turn into permissions, or whose
	// permissions it could not decide (a condition iampolicy cannot
	// evaluate).
	Errors []string
	// Used counts, per grant (see Grants), the permissions it allowed.
	Used map[Grant]int
}

// Grant is one action pattern of one Allow statement of the role's policies.
type Grant struct {
	Policy    string
	Statement string // Sid, or "statement N"
	Action    string
	Resources string
}

func (g Grant) String() string {
	return fmt.Sprintf("%s %s: %s on %s", g.Policy, g.Statement, g.Action, g.Resources)
}

// CheckFunction checks every call against the function role.
func (s *Stack) CheckFunction(calls []awsrecord.Call) Report {
	return s.Check(calls, s.Function)
}

// Check checks every call against the role p.
func (s *Stack) Check(calls []awsrecord.Call, p Principal) Report {
	r := Report{Used: map[Grant]int{}}
	for _, g := range Grants(p.Policies) {
		r.Used[g] = 0
	}
	seenErr, seenDenied := map[string]bool{}, map[string]bool{}
	addErr := func(msg string) {
		if !seenErr[msg] {
			seenErr[msg] = true
			r.Errors = append(r.Errors, msg)
		}
	}
	for _, c := range calls {
		perms, err := s.Required(c)
		if err != nil {
			addErr(err.Error())
			continue
		}
		for _, perm := range perms {
			v := s.Authorize(perm, p.RoleARN, p.Policies)
			if v.Err != nil {
				addErr(fmt.Sprintf("call %s needs %s, which permcheck cannot decide: %v", c, perm, v.Err))
				continue
			}
			if !v.Allowed {
				msg := fmt.Sprintf("call %s needs %s", c, perm)
				if perm.Why != "" {
					msg += " (" + perm.Why + ")"
				}
				msg += ": " + v.Reason
				if !seenDenied[msg] {
					seenDenied[msg] = true
					r.Denied = append(r.Denied, msg)
				}
				continue
			}
			for _, m := range v.Grants {
				for _, a := range m.Statement.Action {
					if iampolicy.ActionMatch(a, perm.Action) {
						r.Used[grantOf(m, a)]++
					}
				}
			}
		}
	}
	return r
}

// Failed reports whether the report holds a denied permission or a call
// that could not be checked.
func (r Report) Failed() bool { return len(r.Denied) > 0 || len(r.Errors) > 0 }

// Unused lists the grants no checked call used, sorted.
func (r Report) Unused() []Grant {
	var out []Grant
	for g, n := range r.Used {
		if n == 0 {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Grants lists every action pattern of every Allow statement of policies.
// Statements with NotAction are listed with their NotAction as
// "NotAction:…".
func Grants(policies []*iampolicy.Policy) []Grant {
	var out []Grant
	for _, p := range policies {
		for i, st := range p.Statement {
			if st.Effect != "Allow" {
				continue
			}
			m := iampolicy.Match{Policy: p.Name, Index: i, Statement: st}
			for _, a := range st.Action {
				out = append(out, grantOf(m, a))
			}
			if st.NotAction != nil {
				out = append(out, grantOf(m, "NotAction:"+strings.Join(st.NotAction, ",")))
			}
		}
	}
	return out
}

func grantOf(m iampolicy.Match, action string) Grant {
	res := strings.Join(m.Statement.Resource, ",")
	if m.Statement.NotResource != nil {
		res = "NotResource:" + strings.Join(m.Statement.NotResource, ",")
	}
	return Grant{Policy: m.Policy, Statement: m.Statement.ID(m.Index), Action: action, Resources: res}
}

// Without returns a copy of p with one action removed from one statement
// (the whole statement when g.Action is empty), for tests that show the
// check fails.
func (p Principal) Without(g Grant) Principal {
	out := p
	out.Policies = nil
	for _, pol := range p.Policies {
		cp := &iampolicy.Policy{Name: pol.Name}
		for i, st := range pol.Statement {
			if pol.Name == g.Policy && st.ID(i) == g.Statement {
				// Non-nil and possibly empty: the statement keeps its index.
				st.Action = slices.DeleteFunc(slices.Clone(st.Action), func(a string) bool { return a == g.Action || g.Action == "" })
			}
			cp.Statement = append(cp.Statement, st)
		}
		out.Policies = append(out.Policies, cp)
	}
	return out
}
