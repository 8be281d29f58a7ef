package permcheck

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/awsrecord"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/iampolicy"
)

func load(t *testing.T) *Stack {
	t.Helper()
	s, err := Load(filepath.Join("..", "..", "..", DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func call(op string, params ...string) awsrecord.Call {
	c := awsrecord.Call{Service: "secretsmanager", Operation: op, Params: map[string][]string{}, Status: 200}
	for i := 0; i+1 < len(params); i += 2 {
		c.Params[params[i]] = append(c.Params[params[i]], params[i+1])
	}
	return c
}

// syncCalls are the calls a sync, a refresh-token rotation and the rotation
// steps make, as the recorder notes them (moto ARNs, names).
func syncCalls(s *Stack) []awsrecord.Call {
	skill := s.SkillSecretPrefix + s.SkillIDs[0]
	motoARN := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + skill + "-x1Y2z3"
	batch := call("BatchGetSecretValue", "Filters", "name="+s.SkillSecretPrefix)
	batch.Returned = []string{motoARN}
	return []awsrecord.Call{
		batch,
		call("GetSecretValue", "SecretId", "arn:aws:secretsmanager:us-east-1:123456789012:secret:"+s.LWASecretName+"-Qw3rTy"),
		call("PutSecretValue", "SecretId", s.LWASecretName),
		call("GetSecretValue", "SecretId", skill),
		call("PutSecretValue", "SecretId", motoARN),
		call("DescribeSecret", "SecretId", skill),
		call("UpdateSecretVersionStage", "SecretId", skill),
	}
}

func TestSecretARN(t *testing.T) {
	s := load(t)
	lwa := s.Secrets[s.LWASecretName]
	tests := []struct{ in, want string }{
		{s.LWASecretName, lwa},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:" + s.LWASecretName + "-Qw3rTy", lwa},
		{"new/secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:new/secret-" + s.SecretARNSuffix},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-Qw3rTy", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-Qw3rTy"},
	}
	for _, tt := range tests {
		if got := s.SecretARN(tt.in); got != tt.want {
			t.Errorf("SecretARN(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestRequired(t *testing.T) {
	s := load(t)
	skill := s.SkillSecretPrefix + s.SkillIDs[0]
	arn := s.SecretARN(skill)
	batch := call("BatchGetSecretValue", "Filters", "name="+s.SkillSecretPrefix)
	batch.Returned = []string{arn}
	tests := []struct {
		name string
		c    awsrecord.Call
		want []string
	}{
		{"read", call("GetSecretValue", "SecretId", skill), []string{"secretsmanager:GetSecretValue on " + arn, "kms:Decrypt on " + s.KeyARN}},
		{"write", call("PutSecretValue", "SecretId", skill), []string{"secretsmanager:PutSecretValue on " + arn, "kms:GenerateDataKey on " + s.KeyARN, "kms:Decrypt on " + s.KeyARN}},
		{"stage", call("UpdateSecretVersionStage", "SecretId", skill), []string{"secretsmanager:UpdateSecretVersionStage on " + arn}},
		{"list", call("ListSecrets"), []string{"secretsmanager:ListSecrets on *"}},
		{"batch", batch, []string{"secretsmanager:BatchGetSecretValue on *", "secretsmanager:ListSecrets on *", "secretsmanager:GetSecretValue on " + arn, "kms:Decrypt on " + s.KeyARN}},
		{"create", call("CreateSecret", "Name", skill, "KmsKeyId", s.KeyARN, "Tags", "team"), []string{"secretsmanager:CreateSecret on " + arn, "secretsmanager:TagResource on " + arn, "kms:GenerateDataKey on " + s.KeyARN, "kms:Decrypt on " + s.KeyARN}},
		{"create with the managed key", call("CreateSecret", "Name", skill), []string{"secretsmanager:CreateSecret on " + arn}},
		{"kms directly", awsrecord.Call{Service: "kms", Operation: "Decrypt", Params: map[string][]string{"KeyId": {"k"}}}, []string{"kms:Decrypt on " + s.KeyARN}},
		{"rotate", call("RotateSecret", "SecretId", skill, "RotationLambdaARN", "arn:aws:lambda:us-east-1:123456789012:function:f"), []string{"secretsmanager:RotateSecret on " + arn, "lambda:InvokeFunction on arn:aws:lambda:us-east-1:123456789012:function:f"}},
		{"tag", call("TagResource", "SecretId", skill, "Tags", "team"), []string{"secretsmanager:TagResource on " + arn}},
		{"create with a key ARN", call("CreateSecret", "Name", skill, "KmsKeyId", "arn:aws:kms:us-east-1:123456789012:key/other"), []string{"secretsmanager:CreateSecret on " + arn, "kms:GenerateDataKey on arn:aws:kms:us-east-1:123456789012:key/other", "kms:Decrypt on arn:aws:kms:us-east-1:123456789012:key/other"}},
	}
	for _, tt := range tests {
		perms, err := s.Required(tt.c)
		if err != nil {
			t.Errorf("%s: Required(%s): %v", tt.name, tt.c, err)
			continue
		}
		var got []string
		for _, p := range perms {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Required(%s) = %q; want %q", tt.name, tt.c, got, tt.want)
		}
	}
	for _, c := range []awsrecord.Call{
		{Service: "lambda", Raw: "POST /2015-03-31/functions"},
		call("FrobnicateSecret", "SecretId", skill),
		call("GetSecretValue"),
		call("CreateSecret", "Name", skill, "KmsKeyId", "alias/x"),
	} {
		if _, err := s.Required(c); err == nil {
			t.Errorf("Required(%s) = nil error; want one naming the call", c)
		}
	}
}

// TestCheckSyncCalls checks the calls of a sync and a rotation against the
// stack's function role.
func TestCheckSyncCalls(t *testing.T) {
	s := load(t)
	r := s.CheckFunction(syncCalls(s))
	if r.Failed() {
		t.Fatalf("denied %q, errors %q; want none", r.Denied, r.Errors)
	}
	var unused []string
	for _, g := range r.Unused() {
		unused = append(unused, g.Action)
	}
	if want := []string{"sqs:SendMessage", "logs:CreateLogStream", "logs:PutLogEvents"}; !slices.Equal(unused, want) {
		t.Errorf("unused grants = %v; want %v (the log and failed-run queue grants are Lambda's, not the code's)", unused, want)
	}
}

// TestCheckFailsWithoutGrant removes, one at a time, each grant the calls
// use, and checks the check then fails naming the call and the permission.
func TestCheckFailsWithoutGrant(t *testing.T) {
	s := load(t)
	calls := syncCalls(s)
	r := s.CheckFunction(calls)
	var used []Grant
	for g, n := range r.Used {
		if n > 0 {
			used = append(used, g)
		}
	}
	slices.SortFunc(used, func(a, b Grant) int { return strings.Compare(a.String(), b.String()) })
	if len(used) < 10 {
		t.Fatalf("%d grants used; want every secretsmanager and kms grant of the role", len(used))
	}
	for _, g := range used {
		t.Run(g.Statement+"/"+g.Action, func(t *testing.T) {
			r := s.Check(calls, s.Function.Without(g))
			if !r.Failed() {
				t.Fatalf("check without %s passed; want a failure", g)
			}
			for _, d := range r.Denied {
				if !strings.HasPrefix(d, "call secretsmanager:") || !strings.Contains(d, " needs "+g.Action+" on ") {
					t.Errorf("denial %q does not name the call and the removed %s", d, g.Action)
				}
			}
			t.Logf("without %s: %s", g, strings.Join(r.Denied, "\n"))
		})
	}
}

func TestCheckFailsMessages(t *testing.T) {
	s := load(t)
	skill := s.SkillSecretPrefix + s.SkillIDs[0]
	arn := s.SecretARN(skill)

	t.Run("unrecorded call", func(t *testing.T) {
		r := s.CheckFunction([]awsrecord.Call{call("DeleteSecret", "SecretId", skill)})
		want := "call secretsmanager:DeleteSecret SecretId=" + skill + " needs secretsmanager:DeleteSecret on " + arn + ": implicitly denied by the role's identity policies (no statement allows it)"
		if len(r.Denied) != 1 || r.Denied[0] != want {
			t.Errorf("Denied = %q; want [%q]", r.Denied, want)
		}
	})
	t.Run("LWA secret is not a skill secret", func(t *testing.T) {
		r := s.CheckFunction([]awsrecord.Call{call("UpdateSecretVersionStage", "SecretId", s.LWASecretName)})
		if len(r.Denied) != 1 || !strings.Contains(r.Denied[0], "needs secretsmanager:UpdateSecretVersionStage on "+s.Secrets[s.LWASecretName]) {
			t.Errorf("Denied = %q; want the LWA secret's UpdateSecretVersionStage", r.Denied)
		}
	})
	t.Run("key policy without delegation", func(t *testing.T) {
		saved := s.KeyPolicy
		t.Cleanup(func() { s.KeyPolicy = saved })
		kp := &iampolicy.Policy{Name: saved.Name}
		for _, st := range saved.Statement {
			if !slices.Contains(st.Principal["AWS"], "arn:aws:iam::123456789012:root") {
				kp.Statement = append(kp.Statement, st)
			}
		}
		s.KeyPolicy = kp
		r := s.CheckFunction([]awsrecord.Call{call("GetSecretValue", "SecretId", skill)})
		want := "call secretsmanager:GetSecretValue SecretId=" + skill + " needs kms:Decrypt on " + s.KeyARN + " (Secrets Manager uses the secret's key for GetSecretValue of " + arn + "): the key policy neither allows the role nor delegates this action to IAM (no statement for the account root)"
		if len(r.Denied) != 1 || r.Denied[0] != want {
			t.Errorf("Denied = %q; want [%q]", r.Denied, want)
		}
	})
	t.Run("key policy deny", func(t *testing.T) {
		saved := s.KeyPolicy
		t.Cleanup(func() { s.KeyPolicy = saved })
		deny, err := iampolicy.Parse("key policy", []byte(`{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey", "Resource": "*"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		s.KeyPolicy = &iampolicy.Policy{Name: saved.Name, Statement: append(slices.Clone(saved.Statement), deny.Statement...)}
		r := s.CheckFunction([]awsrecord.Call{call("PutSecretValue", "SecretId", skill)})
		if len(r.Denied) != 1 || !strings.Contains(r.Denied[0], "needs kms:GenerateDataKey on "+s.KeyARN) || !strings.HasSuffix(r.Denied[0], "explicitly denied by the key policy") {
			t.Errorf("Denied = %q; want GenerateDataKey explicitly denied by the key policy", r.Denied)
		}
	})
	t.Run("explicit deny", func(t *testing.T) {
		fn := s.Function
		deny, err := iampolicy.Parse("deny", []byte(`{"Statement": [{"Sid": "NoWrites", "Effect": "Deny", "Action": "secretsmanager:Put*", "Resource": "*"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		fn.Policies = append(slices.Clone(fn.Policies), deny)
		r := s.Check([]awsrecord.Call{call("PutSecretValue", "SecretId", skill)}, fn)
		if len(r.Denied) != 1 || !strings.HasSuffix(r.Denied[0], "explicitly denied by the role's identity policies (deny NoWrites)") {
			t.Errorf("Denied = %q; want the explicit deny named", r.Denied)
		}
	})
	t.Run("whole statement removed", func(t *testing.T) {
		g := Grant{Policy: s.Function.Policies[0].Name, Statement: "SyncAndRotateSkillSecrets"}
		r := s.Check(syncCalls(s), s.Function.Without(g))
		var ops []string
		for _, d := range r.Denied {
			ops = append(ops, strings.Fields(d)[1])
		}
		want := []string{"secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:UpdateSecretVersionStage"}
		if !slices.Equal(ops, want) {
			t.Errorf("denied calls without %s = %v; want %v\n%s", g.Statement, ops, want, strings.Join(r.Denied, "\n"))
		}
	})
	t.Run("no rule", func(t *testing.T) {
		r := s.CheckFunction([]awsrecord.Call{call("FrobnicateSecret", "SecretId", skill)})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "permcheck has no rule for secretsmanager:FrobnicateSecret") {
			t.Errorf("Errors = %q; want the missing rule named", r.Errors)
		}
	})
}

// TestReaders proves each reader role of the stack reads exactly its skills'
// secrets, and that the check fails for a reader that can read more or less.
func TestReaders(t *testing.T) {
	s := load(t)
	if len(s.Readers) == 0 {
		t.Fatal("the policy file has no reader roles; want the ones TestIAMPolicyFile configures")
	}
	for _, p := range s.Readers {
		if problems := s.CheckReader(p); len(problems) > 0 {
			t.Errorf("reader %s:\n%s", p.RoleARN, strings.Join(problems, "\n"))
		}
	}

	reader := func(skills []string, doc string) Principal {
		pol, err := iampolicy.Parse("reader", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return Principal{RoleARN: "arn:aws:iam::123456789012:role/r", SkillIDs: skills, Policies: []*iampolicy.Policy{pol}}
	}
	const decrypt = `{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "KEY", "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}`
	one := s.SkillIDs[0]
	oneARN := s.SecretARN(s.SkillSecretPrefix + one)
	prefixARN := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + s.SkillSecretPrefix
	tests := []struct {
		name   string
		skills []string
		stmts  string
		want   string // a problem that must be reported; "" for none
	}{
		{"per-skill reader", []string{one}, `{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "` + strings.TrimSuffix(oneARN, s.SecretARNSuffix) + `??????"}`, ""},
		{"per-skill reader reads all", []string{one}, `{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "` + prefixARN + `*"}`, "secretsmanager:GetSecretValue on " + s.SecretARN(s.SkillSecretPrefix+s.SkillIDs[1]) + " is allowed; want allowed=false"},
		{"reads the LWA secret", []string{"*"}, `{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}`, "secretsmanager:GetSecretValue on " + s.Secrets[s.LWASecretName] + " is allowed; want allowed=false"},
		{"cannot read", []string{"*"}, `{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "` + oneARN + `"}`, "secretsmanager:GetSecretValue on " + s.SecretARN(s.SkillSecretPrefix+OtherSkillID) + " is denied"},
		{"describes", []string{"*"}, `{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "` + prefixARN + `*"}`, "secretsmanager:DescribeSecret on " + oneARN + " is allowed"},
		{"wildcard action", []string{"*"}, `{"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "` + prefixARN + `*"}`, "action secretsmanager:Get*; a reader may only have"},
		{"NotAction", []string{"*"}, `{"Effect": "Allow", "NotAction": "iam:*", "Resource": "` + prefixARN + `*"}`, "NotAction/NotResource in a reader policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Statement": [` + tt.stmts + `, ` + strings.Replace(decrypt, "KEY", s.KeyARN, 1) + `]}`
			problems := s.CheckReader(reader(tt.skills, doc))
			joined := strings.Join(problems, "\n")
			if tt.want == "" && len(problems) > 0 {
				t.Errorf("CheckReader = %s; want no problem", joined)
			}
			if tt.want != "" && !strings.Contains(joined, tt.want) {
				t.Errorf("CheckReader = %q; want a problem containing %q", joined, tt.want)
			}
		})
	}
}

// creationCalls are the calls of a discovery run that creates a skill's
// secret, as the recorder notes them: CreateSecret with the managed tag and
// the stack's key, and RotateSecret with the stack's function.
func creationCalls(s *Stack) []awsrecord.Call {
	name := s.SkillSecretPrefix + OtherSkillID
	create := call("CreateSecret", "Name", name, "KmsKeyId", s.KeyARN, "Tags", managedTag)
	create.Tags = map[string]string{managedTag: "true"}
	return []awsrecord.Call{
		create,
		call("RotateSecret", "SecretId", name, "RotationLambdaARN", s.DiscoveryFunction.FunctionARN),
	}
}

const managedTag = "alexa-skill-credentials:managed"

// TestCheckCreationCalls checks the calls that create a skill secret
// against the function role with and without discovery, and each IAM
// condition of the creation policy against a call that breaks it.
func TestCheckCreationCalls(t *testing.T) {
	s := load(t)
	calls := creationCalls(s)
	r := s.Check(calls, s.DiscoveryFunction)
	if r.Failed() {
		t.Fatalf("discovery function: denied %q, errors %q; want none", r.Denied, r.Errors)
	}
	var used []string
	for g, n := range r.Used {
		if n > 0 {
			used = append(used, g.Statement+" "+g.Action)
		}
	}
	slices.Sort(used)
	want := []string{"CreateManagedSkillSecrets secretsmanager:CreateSecret", "InvokeSelfAsRotationFunction lambda:InvokeFunction", "ScheduleRotationOfSkillSecrets secretsmanager:RotateSecret", "TagManagedSkillSecrets secretsmanager:TagResource", "UseKeyThroughSecretsManager kms:Decrypt", "UseKeyThroughSecretsManager kms:GenerateDataKey"}
	if !slices.Equal(used, want) {
		t.Errorf("grants used = %q; want %q", used, want)
	}
	if r := s.CheckFunction(calls); len(r.Denied) == 0 || !strings.Contains(strings.Join(r.Denied, "\n"), "needs secretsmanager:CreateSecret on ") {
		t.Errorf("function without discovery: denied %q; want CreateSecret denied", r.Denied)
	}

	name := s.SkillSecretPrefix + OtherSkillID
	arn := s.SecretARN(name)
	create := func(key string, tags map[string]string) awsrecord.Call {
		c := call("CreateSecret", "Name", name, "KmsKeyId", key)
		c.Tags = tags
		c.Params["Tags"] = append(c.Params["Tags"], slices.Sorted(maps.Keys(tags))...)
		return c
	}
	managed := map[string]string{managedTag: "true"}
	tests := []struct {
		name string
		c    awsrecord.Call
		want string // a denial containing it
	}{
		{"tag false", create(s.KeyARN, map[string]string{managedTag: "false"}), "needs secretsmanager:CreateSecret on " + arn},
		{"no tag", create(s.KeyARN, nil), "needs secretsmanager:CreateSecret on " + arn},
		{"another tag", create(s.KeyARN, map[string]string{managedTag: "true", "team": "a"}), "needs secretsmanager:TagResource on " + arn + " (CreateSecret with Tags)"},
		{"another key", create("arn:aws:kms:us-east-1:123456789012:key/other", managed), "needs secretsmanager:CreateSecret on " + arn},
		{"the default key", create("", managed), "needs secretsmanager:CreateSecret on " + arn},
		{"outside the prefix", create(s.KeyARN, managed), ""},
		{"another rotation function", call("RotateSecret", "SecretId", name, "RotationLambdaARN", "arn:aws:lambda:us-east-1:123456789012:function:other"), "needs secretsmanager:RotateSecret on " + arn},
		{"tagging another tag", func() awsrecord.Call {
			c := call("TagResource", "SecretId", name, "Tags", "team")
			c.Tags = map[string]string{"team": "a"}
			return c
		}(), "needs secretsmanager:TagResource on " + arn},
	}
	tests[5].c.Params["Name"] = []string{"other-app/" + OtherSkillID}
	tests[5].want = "needs secretsmanager:CreateSecret on " + s.SecretARN("other-app/"+OtherSkillID)
	for _, tt := range tests {
		r := s.Check([]awsrecord.Call{tt.c}, s.DiscoveryFunction)
		if !strings.Contains(strings.Join(r.Denied, "\n"), tt.want) {
			t.Errorf("%s: %s: denied %q; want a denial containing %q", tt.name, tt.c, r.Denied, tt.want)
		}
	}

	// A key named by alias cannot be resolved offline: the check fails with
	// an error rather than guessing the key condition.
	r = s.Check([]awsrecord.Call{create("alias/skills", managed)}, s.DiscoveryFunction)
	if !r.Failed() || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "alias/skills is an alias") {
		t.Errorf("CreateSecret with an alias: denied %q, errors %q; want an error naming the alias", r.Denied, r.Errors)
	}
}

// TestCheckFailsWithoutCreationStatement removes each statement of the
// creation policy and checks the check then fails, naming the call and the
// permission the statement gave.
func TestCheckFailsWithoutCreationStatement(t *testing.T) {
	s := load(t)
	tests := []struct{ sid, want string }{
		{"CreateManagedSkillSecrets", "call secretsmanager:CreateSecret Name=" + s.SkillSecretPrefix + OtherSkillID + " KmsKeyId=" + s.KeyARN + " Tags=" + managedTag + " needs secretsmanager:CreateSecret on " + s.SecretARN(s.SkillSecretPrefix+OtherSkillID) + ": implicitly denied by the role's identity policies (no statement allows it)"},
		{"TagManagedSkillSecrets", "needs secretsmanager:TagResource on " + s.SecretARN(s.SkillSecretPrefix+OtherSkillID) + " (CreateSecret with Tags): implicitly denied"},
		{"ScheduleRotationOfSkillSecrets", "call secretsmanager:RotateSecret SecretId=" + s.SkillSecretPrefix + OtherSkillID + " RotationLambdaARN=" + s.DiscoveryFunction.FunctionARN + " needs secretsmanager:RotateSecret on "},
		{"InvokeSelfAsRotationFunction", "needs lambda:InvokeFunction on " + s.DiscoveryFunction.FunctionARN + " (RotateSecret with RotationLambdaARN): implicitly denied"},
	}
	for _, tt := range tests {
		t.Run(tt.sid, func(t *testing.T) {
			var g Grant
			for _, pol := range s.DiscoveryFunction.Policies {
				for i, st := range pol.Statement {
					if st.ID(i) == tt.sid {
						g = Grant{Policy: pol.Name, Statement: tt.sid}
					}
				}
			}
			if g.Policy == "" {
				t.Fatalf("no statement %s in the discovery function's policies", tt.sid)
			}
			r := s.Check(creationCalls(s), s.DiscoveryFunction.Without(g))
			if len(r.Denied) != 1 || !strings.Contains(r.Denied[0], tt.want) {
				t.Errorf("without %s: denied %q; want one denial containing %q", tt.sid, r.Denied, tt.want)
			}
		})
	}
}

// TestKMSViaService checks the kms:ViaService condition of the stack's
// policies on complete requests: the function's KMS calls through Secrets
// Manager carry kms:ViaService and are allowed; the same actions called on
// KMS directly carry none (AWS: an absent key makes StringEquals false) and
// are denied, for every function and reader role.
func TestKMSViaService(t *testing.T) {
	s := load(t)
	kms := func(op string) awsrecord.Call {
		return awsrecord.Call{Service: "kms", Operation: op, Params: map[string][]string{"KeyId": {s.KeyARN}}, Status: 200}
	}
	skill := s.SkillSecretPrefix + s.SkillIDs[0]
	for _, role := range []struct {
		name string
		p    Principal
	}{{"function", s.Function}, {"discovery function", s.DiscoveryFunction}} {
		for _, op := range []string{"Decrypt", "GenerateDataKey"} {
			r := s.Check([]awsrecord.Call{kms(op)}, role.p)
			want := "call kms:" + op + " KeyId=" + s.KeyARN + " needs kms:" + op + " on " + s.KeyARN + ": the key policy delegates to IAM, but the role's identity policies do not allow it (implicitly denied)"
			if len(r.Errors) != 0 || len(r.Denied) != 1 || r.Denied[0] != want {
				t.Errorf("%s: direct kms:%s: denied %q, errors %q; want [%q]", role.name, op, r.Denied, r.Errors, want)
			}
		}
		if r := s.Check([]awsrecord.Call{call("PutSecretValue", "SecretId", skill)}, role.p); r.Failed() {
			t.Errorf("%s: PutSecretValue (kms:GenerateDataKey and kms:Decrypt through Secrets Manager): denied %q, errors %q", role.name, r.Denied, r.Errors)
		}
	}
	// The same request with kms:ViaService of another service, or another
	// region's Secrets Manager, is denied too.
	for _, via := range []string{"s3.us-east-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com"} {
		v := s.Authorize(Permission{Action: "kms:Decrypt", Resource: s.KeyARN, Context: map[string]string{"kms:ViaService": via}}, s.Function.RoleARN, s.Function.Policies)
		if v.Allowed || v.Err != nil {
			t.Errorf("kms:Decrypt via %s = allowed %v, %v; want denied", via, v.Allowed, v.Err)
		}
	}
}

// TestCheckFailsOnConditionNotEvaluated shows that a condition iampolicy
// cannot evaluate makes the check fail with an error naming the call, for
// an Allow (which would otherwise pass) and a Deny (which would otherwise be
// ignored), and that Load refuses a condition key permcheck does not model.
func TestCheckFailsOnConditionNotEvaluated(t *testing.T) {
	s := load(t)
	skill := s.SkillSecretPrefix + s.SkillIDs[0]
	for _, effect := range []string{"Allow", "Deny"} {
		fn := s.Function
		// Built by hand: Parse refuses the operator already.
		extra := &iampolicy.Policy{Name: "extra", Statement: []iampolicy.Statement{{Sid: "MFA", Effect: effect, Action: []string{"secretsmanager:GetSecretValue"}, Resource: []string{"*"},
			Condition: map[string]map[string][]string{"NumericLessThan": {"aws:MultiFactorAuthAge": {"3600"}}}}}}
		fn.Policies = append(slices.Clone(fn.Policies), extra)
		r := s.Check([]awsrecord.Call{call("GetSecretValue", "SecretId", skill)}, fn)
		if !r.Failed() || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "call secretsmanager:GetSecretValue SecretId="+skill) || !strings.Contains(r.Errors[0], "extra MFA: condition NumericLessThan aws:MultiFactorAuthAge") {
			t.Errorf("%s with NumericLessThan: denied %q, errors %q; want one error naming the call and the condition", effect, r.Denied, r.Errors)
		}
	}

	for _, tt := range []struct {
		doc  string
		want string
	}{
		{`{"Statement": [{"Sid": "TLS", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}`, "p TLS: condition key aws:SecureTransport is not modelled"},
		{`{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:Other": "x"}}}]}`, "p statement 0: condition key kms:EncryptionContext:Other is not modelled"},
	} {
		p, err := iampolicy.Parse("p", []byte(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkKeys(p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("checkKeys(%s) = %v; want an error containing %q", tt.doc, err, tt.want)
		}
	}
	for _, p := range append([]*iampolicy.Policy{s.KeyPolicy}, s.allPolicies()...) {
		if err := checkKeys(p); err != nil {
			t.Errorf("the stack's policy: %v", err)
		}
	}
}
