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
// Run: go test -fuzz FuzzGlob ./internal/testsupport/iampolicy
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
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}}
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
		name   string
		req    Request
		want   Decision
		allows []string
	}{
		{"allowed by pattern", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "app/x-AbCdEf"}, Allow, []string{"role Read"}},
		{"action case", Request{Action: "SecretsManager:describesecret", Resource: secret + "app/x-AbCdEf"}, Allow, []string{"role Read"}},
		{"other resource", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "other-AbCdEf"}, ImplicitDeny, nil},
		{"resource case", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "APP/x-AbCdEf"}, ImplicitDeny, nil},
		{"other action", Request{Action: "secretsmanager:PutSecretValue", Resource: secret + "app/x-AbCdEf"}, ImplicitDeny, nil},
		{"deny wins", Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "app/admin-AbCdEf"}, ExplicitDeny, []string{"role Read"}},
		{"star resource", Request{Action: "secretsmanager:ListSecrets", Resource: "*"}, Allow, []string{"role List"}},
		{"NotAction allows others", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allow, []string{"role AllButKms"}},
		{"NotAction excludes", Request{Action: "kms:Sign", Resource: "*"}, ImplicitDeny, nil},
		{"NotResource allows others", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:123456789012:public"}, Allow, []string{"role AllButKms", "role NotOthers"}},
		{"NotResource excludes", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:123456789012:private"}, Allow, []string{"role AllButKms"}},
		{"condition holds", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: viaSM}, Allow, []string{"role ViaSM"}},
		{"condition key case", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: map[string]string{"KMS:VIASERVICE": "secretsmanager.us-east-1.amazonaws.com"}}, Allow, []string{"role ViaSM"}},
		{"condition fails", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: map[string]string{"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, ImplicitDeny, nil},
		// A direct call to KMS carries no kms:ViaService: the condition is
		// false, not taken to hold.
		{"condition key absent", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k"}, ImplicitDeny, nil},
		{"other condition key only", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Context: map[string]string{"kms:CallerAccount": "123456789012"}}, ImplicitDeny, nil},
		{"condition holds on a resource tag", Request{Action: "kms:Encrypt", Resource: "x", Context: map[string]string{"aws:ResourceTag/team": "a"}}, Allow, []string{"role Tagged"}},
		{"supported operator fails", Request{Action: "kms:Encrypt", Resource: "x", Context: map[string]string{"aws:ResourceTag/team": "b"}}, ImplicitDeny, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(tt.req, p)
			if err != nil {
				t.Fatal(err)
			}
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
		if r, err := Evaluate(req, p); err != nil || r.Decision != tt.want {
			t.Errorf("Evaluate(%s %s) = %v, %v; want %v", tt.principal, tt.action, r.Decision, err, tt.want)
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
		// Operators it does not evaluate are refused, never taken to hold.
		{"numeric operator", `{"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}}}]}`, "condition operator NumericGreaterThan is not evaluated"},
		{"date operator", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}]}`, "DateLessThan is not evaluated"},
		{"ip operator", `{"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NotIpAddressIfExists": {"aws:SourceIp": "192.0.2.0/24"}}}]}`, "NotIpAddressIfExists is not evaluated"},
		{"binary operator", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"BinaryEquals": {"k": "QmluYXJ5"}}}]}`, "BinaryEquals is not evaluated"},
		{"unknown set operator", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"ForEachValue:StringEquals": {"aws:TagKeys": "a"}}}]}`, "ForEachValue:StringEquals is not evaluated"},
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
		// Each of the six components on its own: a * never spans a colon
		// between them (Conditions_ARN, IAM User Guide).
		{"ArnLike", "arn:aws:lambda:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", false},
		{"ArnLike", "arn:aws:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", false},
		{"ArnLike", "arn:aws:lambda:*:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", true},
		{"ArnLike", "arn:*", "arn:aws:lambda:us-east-1:123456789012:function:f", false},
		{"ArnEquals", "arn:aws:lambda:*:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", true},
		{"ArnNotLike", "arn:aws:lambda:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", true},
		{"ArnNotEquals", "arn:aws:lambda:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", true},
		// The sixth component, the resource, keeps its colons: * spans them.
		{"ArnLike", "arn:aws:lambda:us-east-1:123456789012:function:*", "arn:aws:lambda:us-east-1:123456789012:function:f:live", true},
		{"ArnLike", "arn:aws:lambda:us-east-1:123456789012:*", "arn:aws:lambda:us-east-1:123456789012:function:f", true},
		// Not an ARN: six components are needed on both sides.
		{"ArnLike", "arn:aws:s3:::*", "s3:::c", false},
		{"ArnLike", "*", "arn:aws:s3:::c", false},
		// StringLike is not per component: * spans colons.
		{"StringLike", "arn:aws:lambda:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", true},
		{"Bool", "true", "TRUE", true},
		{"Bool", "true", "false", false},
	}
	for _, tt := range tests {
		st := Statement{Effect: "Allow", Condition: map[string]map[string][]string{tt.op: {"k": {tt.want}}}}
		holds, err := st.conditionsHold(Request{Context: map[string]string{"k": tt.got}})
		if holds != tt.holds || err != nil {
			t.Errorf("%s %q on %q = %v, %v; want %v", tt.op, tt.want, tt.got, holds, err, tt.holds)
		}
	}
}

// TestConditionKeysOfRequest covers multivalued keys (ForAllValues,
// ForAnyValue), keys absent from the request, the IfExists forms and Null,
// with the creation conditions the stack uses.
func TestConditionKeysOfRequest(t *testing.T) {
	const managed = "aws:RequestTag/alexa-skill-credentials:managed"
	create := Statement{Effect: "Allow", Condition: map[string]map[string][]string{
		"StringEquals":              {managed: {"true"}, "secretsmanager:KmsKeyArn": {"arn:aws:kms:us-east-1:123456789012:key/k"}},
		"ForAllValues:StringEquals": {"aws:TagKeys": {"alexa-skill-credentials:managed"}},
	}}
	req := func(tags map[string]string, key string) Request {
		r := Request{Context: map[string]string{}, Sets: map[string][]string{}}
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
		holds, err := tt.st.conditionsHold(tt.req)
		if holds != tt.holds || err != nil {
			t.Errorf("%s: conditions hold = %v, %v; want %v", tt.name, holds, err, tt.holds)
		}
	}
}

// TestConditionAbsentKey pins IAM's rule for a key absent from the request
// ("the values do not match and the condition is false", except the negated
// operators, IfExists and Null: Condition operators, IAM User Guide) for
// every operator, with an empty request.
func TestConditionAbsentKey(t *testing.T) {
	tests := []struct {
		op    string
		holds bool
	}{
		{"StringEquals", false},
		{"StringEqualsIgnoreCase", false},
		{"StringLike", false},
		{"ArnEquals", false},
		{"ArnLike", false},
		{"Bool", false},
		{"StringNotEquals", true},
		{"StringNotEqualsIgnoreCase", true},
		{"StringNotLike", true},
		{"ArnNotEquals", true},
		{"ArnNotLike", true},
		{"StringEqualsIfExists", true},
		{"ArnLikeIfExists", true},
		{"BoolIfExists", true},
		{"ForAllValues:StringEquals", true},
		{"ForAnyValue:StringEquals", false},
	}
	for _, tt := range tests {
		st := Statement{Condition: map[string]map[string][]string{tt.op: {"kms:ViaService": {"secretsmanager.us-east-1.amazonaws.com"}}}}
		for _, req := range []Request{{}, {Context: map[string]string{"kms:CallerAccount": "123456789012"}}} {
			if holds, err := st.conditionsHold(req); holds != tt.holds || err != nil {
				t.Errorf("%s on an absent key, request %+v = %v, %v; want %v", tt.op, req, holds, err, tt.holds)
			}
		}
	}
}

// TestConditionNotEvaluated shows that a condition the package cannot
// evaluate is an error of Evaluate, not a condition taken to hold, also when
// another condition of the statement is false.
func TestConditionNotEvaluated(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/k"
	tests := []struct {
		name string
		cond map[string]map[string][]string
		req  Request
		want string
	}{
		{"numeric", map[string]map[string][]string{"NumericLessThan": {"aws:MultiFactorAuthAge": {"3600"}}},
			Request{Context: map[string]string{"aws:MultiFactorAuthAge": "10"}}, "NumericLessThan is not evaluated"},
		{"date on an absent key", map[string]map[string][]string{"DateGreaterThan": {"aws:CurrentTime": {"2020-01-01T00:00:00Z"}}},
			Request{}, "DateGreaterThan is not evaluated"},
		{"ip", map[string]map[string][]string{"IpAddress": {"aws:SourceIp": {"192.0.2.0/24"}}},
			Request{Context: map[string]string{"aws:SourceIp": "192.0.2.1"}}, "IpAddress is not evaluated"},
		{"binary", map[string]map[string][]string{"BinaryEquals": {"k": {"QmluYXJ5"}}},
			Request{Context: map[string]string{"k": "QmluYXJ5"}}, "BinaryEquals is not evaluated"},
		{"unknown set", map[string]map[string][]string{"ForEachValue:StringEquals": {"aws:TagKeys": {"a"}}},
			Request{Sets: map[string][]string{"aws:TagKeys": {"a"}}}, "ForEachValue:StringEquals is not evaluated"},
		{"Null with IfExists", map[string]map[string][]string{"NullIfExists": {"k": {"true"}}},
			Request{}, "NullIfExists is not evaluated"},
		{"beside a false condition", map[string]map[string][]string{
			"StringEquals":    {"kms:ViaService": {"secretsmanager.us-east-1.amazonaws.com"}},
			"NumericLessThan": {"aws:MultiFactorAuthAge": {"3600"}},
		}, Request{}, "NumericLessThan is not evaluated"},
		{"single-valued operator on a multivalued key", map[string]map[string][]string{"StringEquals": {"aws:TagKeys": {"a"}}},
			Request{Sets: map[string][]string{"aws:TagKeys": {"a", "b"}}}, "multivalued key without ForAllValues or ForAnyValue"},
	}
	for _, tt := range tests {
		for _, effect := range []string{"Allow", "Deny"} {
			p := &Policy{Name: "p", Statement: []Statement{{Sid: "S", Effect: effect, Action: []string{"kms:Decrypt"}, Resource: []string{key}, Condition: tt.cond}}}
			req := tt.req
			req.Action, req.Resource = "kms:Decrypt", key
			r, err := Evaluate(req, p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "p S") {
				t.Errorf("%s, %s: Evaluate = %v, %v; want an error naming p S and containing %q", tt.name, effect, r.Decision, err, tt.want)
			}
			if len(r.Allows)+len(r.Denies) != 0 {
				t.Errorf("%s, %s: statements %v %v applied; want none", tt.name, effect, r.Allows, r.Denies)
			}
		}
	}
}

// FuzzArnMatch checks properties of ArnMatch: a match is also a Glob match
// of the whole ARN (matching per component is stricter), needs six
// components, and a pattern without wildcards matches only itself.
// Run: go test -fuzz FuzzArnMatch ./internal/testsupport/iampolicy
func FuzzArnMatch(f *testing.F) {
	f.Add("arn:aws:lambda:*:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f")
	f.Add("arn:aws:lambda:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f")
	f.Add("arn:aws:s3:::*", "arn:aws:s3:::b/k:v")
	f.Fuzz(func(t *testing.T, pattern, arn string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(arn) {
			return
		}
		got := ArnMatch(pattern, arn)
		if got && !Glob(pattern, arn) {
			t.Fatalf("ArnMatch(%q, %q) = true, but Glob of the whole ARN is false", pattern, arn)
		}
		if got && strings.Count(arn, ":") < 5 {
			t.Fatalf("ArnMatch(%q, %q) = true for a value of fewer than six components", pattern, arn)
		}
		if !strings.ContainsAny(pattern, "*?") && got != (pattern == arn && strings.Count(arn, ":") >= 5) {
			t.Fatalf("ArnMatch(%q, %q) = %v without wildcards", pattern, arn, got)
		}
	})
}
