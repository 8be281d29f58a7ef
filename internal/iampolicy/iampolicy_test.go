package iampolicy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "arn:aws:secretsmanager:us-east-1:123456789012:secret:a/b-AbCdEf", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "abbc", false},
		{"a*c", "ac", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*c", "abc", true},
		{"a*", "a", true},
		{"a**b", "ab", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"secret:alexa/lwa-??????", "secret:alexa/lwa-AbCdEf", true},
		{"secret:alexa/lwa-??????", "secret:alexa/lwa-AbCdE", false},
		{"secret:alexa/lwa-??????", "secret:alexa/lwa-x-AbCdEf", false},
		{"secret:alexa/lwa*", "secret:alexa/lwa-x-AbCdEf", true},
		{"é?", "éü", true},
		{"?", "ü", true},
		{"ABC", "abc", false},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v; want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestActionMatch(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"secretsmanager:GetSecretValue", "secretsmanager:GetSecretValue", true},
		{"SecretsManager:getsecretvalue", "secretsmanager:GetSecretValue", true},
		{"secretsmanager:Get*", "secretsmanager:GetSecretValue", true},
		{"secretsmanager:*", "kms:Decrypt", false},
		{"*", "kms:Decrypt", true},
		{"kms:Decrypt", "kms:DecryptX", false},
		{"kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext", true},
	}
	for _, tt := range tests {
		if got := ActionMatch(tt.pattern, tt.action); got != tt.want {
			t.Errorf("ActionMatch(%q, %q) = %v; want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

// globRegexp is the reference Glob is fuzzed against.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`(?s:.*)`)
		case '?':
			b.WriteString(`(?s:.)`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// FuzzGlob compares Glob with a regular expression built from the pattern.
// Run: go test -fuzz FuzzGlob ./internal/iampolicy
func FuzzGlob(f *testing.F) {
	f.Add("secret:alexa/lwa-??????", "secret:alexa/lwa-AbCdEf")
	f.Add("a*b*c", "aXbYbZc")
	f.Add("*?*", "é")
	f.Add("arn:aws:secretsmanager:*:*:secret:alexa/skill-messaging/*", "arn:aws:secretsmanager:us-east-1:123456789012:secret:alexa/skill-messaging/amzn1.ask.skill.x-AbCdEf")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // ARNs and policies are UTF-8 text
		}
		if got, want := Glob(pattern, s), globRegexp(pattern).MatchString(s); got != want {
			t.Fatalf("Glob(%q, %q) = %v; the regexp says %v", pattern, s, got, want)
		}
	})
}

const rolePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
     "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/*"},
    {"Sid": "List", "Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"},
    {"Sid": "NoAdmin", "Effect": "Deny", "Action": "*", "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/admin-??????"},
    {"Sid": "AllButKms", "Effect": "Allow", "NotAction": ["kms:*", "secretsmanager:*"], "Resource": "*"},
    {"Sid": "NotOthers", "Effect": "Allow", "Action": "sqs:SendMessage", "NotResource": "arn:aws:sqs:us-east-1:123456789012:private"},
    {"Sid": "ViaSM", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:us-east-1:123456789012:key/k",
     "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}},
    {"Sid": "Tagged", "Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}, "NumericLessThan": {"aws:MultiFactorAuthAge": 3600}}}
  ]
}`

func TestEvaluate(t *testing.T) {
	p, err := Parse("role", []byte(rolePolicy))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	viaSM := map[string]string{"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
	tests := []struct {
		name         string
		req          Request
		want         Decision
		allows       []string
		notEvaluated int
	}{
		{"allowed by pattern", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "app/x-AbCdEf"}, Allow, []string{"role Read"}, 0},
		{"action case", Request{Action: "SecretsManager:describesecret", Resource: secret + "app/x-AbCdEf"}, Allow, []string{"role Read"}, 0},
		{"other resource", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "other-AbCdEf"}, ImplicitDeny, nil, 0},
		{"resource case", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "APP/x-AbCdEf"}, ImplicitDeny, nil, 0},
		{"other action", Request{Action: "secretsmanager:PutSecretValue", Resource: secret + "app/x-AbCdEf"}, ImplicitDeny, nil, 0},
		{"deny wins", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "app/admin-AbCdEf"}, ExplicitDeny, []string{"role Read"}, 0},
		{"star resource", Request{Action: "secretsmanager:ListSecrets", Resource: "*"}, Allow, []string{"role List"}, 0},
		{"NotAction allows others", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allow, []string{"role AllButKms"}, 0},
		{"NotAction excludes", Request{Action: "kms:Sign", Resource: "*"}, ImplicitDeny, nil, 0},
		{"NotResource allows others", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:123456789012:public"}, Allow, []string{"role AllButKms", "role NotOthers"}, 0},
		{"NotResource excludes", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:123456789012:private"}, Allow, []string{"role AllButKms"}, 0},
		{"condition holds", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: viaSM}, Allow, []string{"role ViaSM"}, 0},
		{"condition key case", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: map[string]string{"KMS:VIASERVICE": "secretsmanager.us-east-1.amazonaws.com"}}, Allow, []string{"role ViaSM"}, 0},
		{"condition fails", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: map[string]string{"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, ImplicitDeny, nil, 0},
		{"condition not evaluated", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k"}, Allow, []string{"role ViaSM"}, 1},
		{"unsupported operator", Request{Action: "kms:Encrypt", Resource: "x", Context: map[string]string{"aws:ResourceTag/team": "a"}}, Allow, []string{"role Tagged"}, 1},
		{"supported operator fails", Request{Action: "kms:Encrypt", Resource: "x", Context: map[string]string{"aws:ResourceTag/team": "b"}}, ImplicitDeny, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Evaluate(tt.req, p)
			if r.Decision != tt.want {
				t.Errorf("Evaluate(%+v) = %v; want %v", tt.req, r.Decision, tt.want)
			}
			var allows []string
			for _, m := range r.Allows {
				allows = append(allows, m.String())
			}
			if strings.Join(allows, ",") != strings.Join(tt.allows, ",") {
				t.Errorf("Evaluate(%+v) allowing statements = %v; want %v", tt.req, allows, tt.allows)
			}
			if len(r.NotEvaluated) != tt.notEvaluated {
				t.Errorf("Evaluate(%+v) not evaluated = %q; want %d", tt.req, r.NotEvaluated, tt.notEvaluated)
			}
		})
	}
}

func TestEvaluatePrincipal(t *testing.T) {
	p, err := Parse("key", []byte(`{"Statement": [
	  {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
	  {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": ["111122223333"]}, "Action": "kms:Decrypt", "Resource": "*"},
	  {"Sid": "Events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "kms:GenerateDataKey", "Resource": "*"},
	  {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "kms:DescribeKey", "Resource": "*"},
	  {"Sid": "NoRole", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:role/bad"}, "Action": "kms:*", "Resource": "*"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		principal, action string
		want              Decision
	}{
		{"arn:aws:iam::123456789012:root", "kms:Decrypt", Allow},
		{"arn:aws:iam::123456789012:role/fn", "kms:Decrypt", ImplicitDeny},
		{"arn:aws:iam::111122223333:root", "kms:Decrypt", Allow},
		{"arn:aws:iam::111122223333:root", "kms:Encrypt", ImplicitDeny},
		{"events.amazonaws.com", "kms:GenerateDataKey", Allow},
		{"arn:aws:iam::123456789012:role/fn", "kms:DescribeKey", Allow},
		{"arn:aws:iam::123456789012:role/bad", "kms:DescribeKey", ExplicitDeny},
	}
	for _, tt := range tests {
		req := Request{Principal: tt.principal, Action: tt.action, Resource: "arn:aws:kms:us-east-1:123456789012:key/k"}
		if got := Evaluate(req, p).Decision; got != tt.want {
			t.Errorf("Evaluate(%s %s) = %v; want %v", tt.principal, tt.action, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not JSON", `{`, "unexpected end"},
		{"no effect", `{"Statement": [{"Action": "a:b", "Resource": "*"}]}`, "no Effect"},
		{"bad effect", `{"Statement": [{"Effect": "allow", "Action": "a:b", "Resource": "*"}]}`, "want Allow or Deny"},
		{"both actions", `{"Statement": [{"Effect": "Allow", "Action": "a:b", "NotAction": "a:c", "Resource": "*"}]}`, "exactly one of Action"},
		{"no resource", `{"Statement": [{"Effect": "Allow", "Action": "a:b"}]}`, "exactly one of Resource"},
		{"NotPrincipal", `{"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "x"}, "Action": "a:b", "Resource": "*"}]}`, "NotPrincipal: unsupported element"},
		{"unresolved token", `{"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": {"Fn::Join": ["", []]}}]}`, "Resource: want a string"},
		{"bad principal", `{"Statement": [{"Effect": "Allow", "Principal": "me", "Action": "a:b", "Resource": "*"}]}`, "want \"*\""},
	}
	for _, tt := range tests {
		_, err := Parse("p", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
	p, err := Parse("single", []byte(`{"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": false}}}}`))
	if err != nil || len(p.Statement) != 1 || p.Statement[0].Condition["Bool"]["aws:SecureTransport"][0] != "false" {
		t.Errorf("Parse(single statement object) = %+v, %v; want one statement with its condition", p, err)
	}
}

func TestConditionOperators(t *testing.T) {
	tests := []struct {
		op, want, got string
		holds         bool
	}{
		{"StringEquals", "a", "a", true},
		{"StringEquals", "a", "A", false},
		{"StringNotEquals", "a", "b", true},
		{"StringNotEquals", "a", "a", false},
		{"StringEqualsIgnoreCase", "a", "A", true},
		{"StringEqualsIgnoreCase", "a", "b", false},
		{"StringNotEqualsIgnoreCase", "a", "A", false},
		{"StringNotEqualsIgnoreCase", "a", "b", true},
		{"StringLike", "secretsmanager.*.amazonaws.com", "secretsmanager.us-east-1.amazonaws.com", true},
		{"StringLike", "secretsmanager.*", "s3.us-east-1.amazonaws.com", false},
		{"StringNotLike", "secretsmanager.*", "s3.us-east-1.amazonaws.com", true},
		{"StringNotLike", "secretsmanager.*", "secretsmanager.x", false},
		{"ArnEquals", "arn:aws:secretsmanager:*:*:secret:a-??????", "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", true},
		{"ArnLike", "arn:aws:secretsmanager:*:*:secret:a-??????", "arn:aws:secretsmanager:us-east-1:1:secret:b-AbCdEf", false},
		{"ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::c", true},
		{"ArnNotLike", "arn:aws:s3:::*", "arn:aws:s3:::c", false},
		{"Bool", "true", "TRUE", true},
		{"Bool", "true", "false", false},
	}
	for _, tt := range tests {
		st := Statement{Effect: "Allow", Condition: map[string]map[string][]string{tt.op: {"k": {tt.want}}}}
		holds, notEval := st.conditionsHold(Request{Context: map[string]string{"k": tt.got}})
		if holds != tt.holds || len(notEval) != 0 {
			t.Errorf("%s %q on %q = %v (not evaluated %q); want %v", tt.op, tt.want, tt.got, holds, notEval, tt.holds)
		}
	}
}

// TestConditionKeysOfRequest covers multivalued keys (ForAllValues,
// ForAnyValue), keys the request is known not to carry (Complete), the
// IfExists forms and Null, with the creation conditions the stack uses.
func TestConditionKeysOfRequest(t *testing.T) {
	const managed = "aws:RequestTag/alexa-skill-credentials:managed"
	create := Statement{Effect: "Allow", Condition: map[string]map[string][]string{
		"StringEquals":              {managed: {"true"}, "secretsmanager:KmsKeyArn": {"arn:aws:kms:us-east-1:123456789012:key/k"}},
		"ForAllValues:StringEquals": {"aws:TagKeys": {"alexa-skill-credentials:managed"}},
	}}
	complete := []string{"aws:RequestTag/*", "aws:TagKeys", "secretsmanager:KmsKeyArn"}
	req := func(tags map[string]string, key string) Request {
		r := Request{Context: map[string]string{}, Sets: map[string][]string{}, Complete: complete}
		for k, v := range tags {
			r.Context["aws:RequestTag/"+k] = v
			r.Sets["aws:TagKeys"] = append(r.Sets["aws:TagKeys"], k)
		}
		if key != "" {
			r.Context["secretsmanager:KmsKeyArn"] = key
		}
		return r
	}
	const key = "arn:aws:kms:us-east-1:123456789012:key/k"
	tests := []struct {
		name  string
		st    Statement
		req   Request
		holds bool
	}{
		{"managed tag and key", create, req(map[string]string{"alexa-skill-credentials:managed": "true"}, key), true},
		{"tag false", create, req(map[string]string{"alexa-skill-credentials:managed": "false"}, key), false},
		{"another tag too", create, req(map[string]string{"alexa-skill-credentials:managed": "true", "team": "a"}, key), false},
		{"no tags", create, req(nil, key), false},
		{"other key", create, req(map[string]string{"alexa-skill-credentials:managed": "true"}, "arn:aws:kms:us-east-1:123456789012:key/other"), false},
		{"no key", create, req(map[string]string{"alexa-skill-credentials:managed": "true"}, ""), false},
		{"ForAllValues of no tags", Statement{Condition: map[string]map[string][]string{"ForAllValues:StringEquals": {"aws:TagKeys": {"a"}}}}, req(nil, ""), true},
		{"ForAnyValue", Statement{Condition: map[string]map[string][]string{"ForAnyValue:StringLike": {"aws:TagKeys": {"t*"}}}}, req(map[string]string{"a": "1", "team": "2"}, ""), true},
		{"ForAnyValue of no tags", Statement{Condition: map[string]map[string][]string{"ForAnyValue:StringLike": {"aws:TagKeys": {"*"}}}}, req(nil, ""), false},
		{"negated on an absent key", Statement{Condition: map[string]map[string][]string{"StringNotEquals": {managed: {"false"}}}}, req(nil, ""), true},
		{"IfExists on an absent key", Statement{Condition: map[string]map[string][]string{"ArnEqualsIfExists": {"secretsmanager:KmsKeyArn": {key}}}}, req(nil, ""), true},
		{"IfExists on a present key", Statement{Condition: map[string]map[string][]string{"ArnEqualsIfExists": {"secretsmanager:KmsKeyArn": {key}}}}, req(nil, "arn:aws:kms:us-east-1:123456789012:key/other"), false},
		{"Null of an absent key", Statement{Condition: map[string]map[string][]string{"Null": {"secretsmanager:KmsKeyArn": {"true"}}}}, req(nil, ""), true},
		{"Null of a present key", Statement{Condition: map[string]map[string][]string{"Null": {"secretsmanager:KmsKeyArn": {"true"}}}}, req(nil, key), false},
	}
	for _, tt := range tests {
		holds, notEval := tt.st.conditionsHold(tt.req)
		if holds != tt.holds || len(notEval) != 0 {
			t.Errorf("%s: conditions hold = %v (not evaluated %q); want %v", tt.name, holds, notEval, tt.holds)
		}
	}

	// Without Complete, an absent key is not evaluated: taken to hold and
	// reported.
	holds, notEval := create.conditionsHold(Request{})
	if !holds || len(notEval) != 3 {
		t.Errorf("conditions on an unknown request = %v, not evaluated %q; want true and all three reported", holds, notEval)
	}
	for _, op := range []string{"ForEachValue:StringEquals", "NumericLessThan", "DateGreaterThan"} {
		st := Statement{Condition: map[string]map[string][]string{op: {"k": {"1"}}}}
		if holds, notEval := st.conditionsHold(Request{Context: map[string]string{"k": "1"}}); !holds || len(notEval) != 1 || !strings.Contains(notEval[0], "operator not supported") {
			t.Errorf("%s = %v, %q; want taken to hold and reported unsupported", op, holds, notEval)
		}
	}
	st := Statement{Condition: map[string]map[string][]string{"StringEquals": {"aws:TagKeys": {"a"}}}}
	if _, notEval := st.conditionsHold(Request{Sets: map[string][]string{"aws:TagKeys": {"a", "b"}}}); len(notEval) != 1 || !strings.Contains(notEval[0], "multivalued") {
		t.Errorf("StringEquals on a multivalued key: not evaluated %q; want it reported", notEval)
	}
}
