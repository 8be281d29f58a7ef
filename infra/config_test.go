package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(newTestApp(t, nil).Node())
	if err != nil {
		t.Fatalf("LoadConfig(cdk.json) error: %v", err)
	}
	want := &Config{
		StackName:         DefaultStackName,
		SkillIDs:          []string{},
		Schedule:          Schedule{Expression: DefaultSchedule, MaxGap: 12 * time.Hour},
		LWASecretName:     DefaultLWASecretName,
		SkillSecretPrefix: DefaultSkillSecretPrefix,
		LogRetentionDays:  DefaultLogRetentionDays,
		SyncConcurrency:   DefaultSyncConcurrency,
		RotationDays:      DefaultRotationDays,
		SkillDiscovery:    contract.DiscoveryOff,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig(cdk.json) = %+v; want %+v", cfg, want)
	}
}

// TestLoadConfigForms checks the value forms -c key=value produces (strings)
// next to the JSON ones cdk.json holds.
func TestLoadConfigForms(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		want func(*Config) bool
	}{
		{"skillIds comma-separated", map[string]any{"skillIds": testSkillID + ", " + testLegacySkillID},
			func(c *Config) bool { return reflect.DeepEqual(c.SkillIDs, []string{testSkillID, testLegacySkillID}) }},
		{"skillIds JSON string", map[string]any{"skillIds": `["` + testSkillID + `"]`},
			func(c *Config) bool { return reflect.DeepEqual(c.SkillIDs, []string{testSkillID}) }},
		{"skillIds empty string", map[string]any{"skillIds": ""},
			func(c *Config) bool { return len(c.SkillIDs) == 0 }},
		{"numbers as strings", map[string]any{"logRetentionDays": "30", "syncConcurrency": " 4 "},
			func(c *Config) bool { return c.LogRetentionDays == 30 && c.SyncConcurrency == 4 }},
		{"alarmEmail", map[string]any{"alarmEmail": "ops@example.com"},
			func(c *Config) bool { return c.AlarmEmail == "ops@example.com" }},
		{"rotationDays as a string", map[string]any{"rotationDays": "14"},
			func(c *Config) bool { return c.RotationDays == 14 }},
		{"rotationDays bounds", map[string]any{"rotationDays": 1000},
			func(c *Config) bool { return c.RotationDays == 1000 }},
		{"readerRoleArns object, sorted", map[string]any{"readerRoleArns": map[string]any{
			testReaderRoleWithPath: []any{"*"}, testReaderRole: []any{testSkillID, testLegacySkillID}}},
			func(c *Config) bool {
				return reflect.DeepEqual(c.Readers, []Reader{
					{RoleARN: testReaderRoleWithPath},
					{RoleARN: testReaderRole, SkillIDs: []string{testSkillID, testLegacySkillID}},
				})
			}},
		{"readerRoleArns JSON text (-c)", map[string]any{"readerRoleArns": `{"` + testReaderRole + `": ["` + testSkillID + `"]}`},
			func(c *Config) bool {
				return reflect.DeepEqual(c.Readers, []Reader{{RoleARN: testReaderRole, SkillIDs: []string{testSkillID}}})
			}},
		{"readerRoleArns empty", map[string]any{"readerRoleArns": []any{}},
			func(c *Config) bool { return c.Readers == nil }},
		{"readerRoleArns empty string", map[string]any{"readerRoleArns": ""},
			func(c *Config) bool { return c.Readers == nil }},
		{"stackName", map[string]any{"stackName": "AlexaSkillCredentials-agency-b"},
			func(c *Config) bool { return c.StackName == "AlexaSkillCredentials-agency-b" }},
		{"cron schedule", map[string]any{"schedule": "cron(0 6,18 * * ? *)"},
			func(c *Config) bool { return c.Schedule.MaxGap == 12*time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(newTestApp(t, tt.ctx).Node())
			if err != nil {
				t.Fatalf("LoadConfig(%v) error: %v", tt.ctx, err)
			}
			if !tt.want(cfg) {
				t.Errorf("LoadConfig(%v) = %+v", tt.ctx, cfg)
			}
		})
	}
}

// TestLoadConfigErrors checks that synthesis stops with an error naming the
// context key and the problem.
func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		want []string
	}{
		{"stackName with an underscore", map[string]any{"stackName": "Alexa_Skills"},
			[]string{`context "stackName": "Alexa_Skills" is not a CloudFormation stack name (letters, digits and hyphens, starting with a letter, at most 128 characters)`}},
		{"stackName starting with a digit", map[string]any{"stackName": "2nd-account"},
			[]string{`context "stackName": "2nd-account" is not a CloudFormation stack name`}},
		{"stackName empty", map[string]any{"stackName": ""},
			[]string{`context "stackName": "" is not a CloudFormation stack name`}},
		{"stackName too long", map[string]any{"stackName": "A" + strings.Repeat("b", 128)},
			[]string{`is not a CloudFormation stack name`}},
		{"stackName not a string", map[string]any{"stackName": 2.0},
			[]string{`context "stackName": is float64, want a string`}},
		{"bad skill id", map[string]any{"skillIds": []any{testSkillID, "amzn1.ask.skill.not-a-uuid"}},
			[]string{`context "skillIds": entry 1: "amzn1.ask.skill.not-a-uuid" is not a valid skill id (want amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>)`}},
		{"skill id with path", map[string]any{"skillIds": "amzn1.ask.skill.0f9b5e8e-3a51-4d1e-9f0c-6c1d2b3a4e5f/../x"},
			[]string{`entry 0: "amzn1.ask.skill.0f9b5e8e-3a51-4d1e-9f0c-6c1d2b3a4e5f/../x" is not a valid skill id`}},
		{"duplicate skill id", map[string]any{"skillIds": []any{testSkillID, testSkillID}},
			[]string{`entry 1: "` + testSkillID + `" repeats entry 0`}},
		{"skillIds not strings", map[string]any{"skillIds": []any{1.0}},
			[]string{`context "skillIds": entry 0 is float64, want a string`}},
		{"skillIds bad JSON", map[string]any{"skillIds": `["x"`},
			[]string{`context "skillIds": not a JSON list of strings`}},
		{"bad schedule", map[string]any{"schedule": "every 12 hours"},
			[]string{`context "schedule": "every 12 hours": want rate(<value> <unit>) or cron(`}},
		{"bad rate unit", map[string]any{"schedule": "rate(1 hours)"},
			[]string{`context "schedule": "rate(1 hours)": EventBridge wants "hour" with a value of 1`}},
		{"bad cron", map[string]any{"schedule": "cron(0 8 * * *)"},
			[]string{`context "schedule": "cron(0 8 * * *)": 5 fields, want 6`}},
		{"weekly cron", map[string]any{"schedule": "cron(0 8 ? * MON *)"},
			[]string{`runs can be 7 days apart; at most 84 hours is supported`}},
		{"bad retention", map[string]any{"logRetentionDays": 42},
			[]string{`context "logRetentionDays": 42 is not a retention CloudWatch Logs accepts`}},
		{"retention not a number", map[string]any{"logRetentionDays": "a month"},
			[]string{`context "logRetentionDays": "a month" is not a whole number`}},
		{"concurrency", map[string]any{"syncConcurrency": 0},
			[]string{`context "syncConcurrency": 0 is out of range 1..64`}},
		{"concurrency fraction", map[string]any{"syncConcurrency": 2.5},
			[]string{`context "syncConcurrency": 2.5 is not a whole number`}},
		{"email", map[string]any{"alarmEmail": "Ops <ops@example.com>"},
			[]string{`context "alarmEmail": "Ops <ops@example.com>" is not a plain e-mail address`}},
		{"LWA secret under the prefix", map[string]any{"lwaSecretName": "alexa/skill-messaging/lwa"},
			[]string{`context "lwaSecretName": "alexa/skill-messaging/lwa" starts with the skill secret prefix`}},
		{"LWA secret name like an ARN suffix", map[string]any{"lwaSecretName": "lwa-abc123"},
			[]string{`ends with a hyphen and six characters`}},
		{"secret name characters", map[string]any{"skillSecretPrefix": "alexa skills/"},
			[]string{`context "skillSecretPrefix": "alexa skills/" has characters Secrets Manager does not allow`}},
		{"prefix without a closing slash", map[string]any{"skillSecretPrefix": "alexa/skills"},
			[]string{`context "skillSecretPrefix": "alexa/skills" must end with / (for example "alexa/skills/")`}},
		{"prefix of one word", map[string]any{"skillSecretPrefix": "skills"},
			[]string{`"skills" must end with /`}},
		{"empty prefix", map[string]any{"skillSecretPrefix": ""},
			[]string{`context "skillSecretPrefix": must not be empty`}},
		{"wrong type", map[string]any{"schedule": 12.0},
			[]string{`context "schedule": is float64, want a string`}},
		{"rotationDays zero", map[string]any{"rotationDays": 0},
			[]string{`context "rotationDays": 0 is out of range 1..1000`}},
		{"rotationDays too long", map[string]any{"rotationDays": 1001},
			[]string{`context "rotationDays": 1001 is out of range 1..1000`}},
		{"rotationDays not a number", map[string]any{"rotationDays": "monthly"},
			[]string{`context "rotationDays": "monthly" is not a whole number`}},
		{"rotationDays fraction", map[string]any{"rotationDays": 7.5},
			[]string{`context "rotationDays": 7.5 is not a whole number`}},
		{"reader is a user", map[string]any{"readerRoleArns": map[string]any{"arn:aws:iam::123456789012:user/bob": []any{"*"}}},
			[]string{`context "readerRoleArns": "arn:aws:iam::123456789012:user/bob" is not an IAM role ARN`}},
		{"reader account too short", map[string]any{"readerRoleArns": map[string]any{"arn:aws:iam::12345:role/x": []any{"*"}}},
			[]string{`"arn:aws:iam::12345:role/x" is not an IAM role ARN`}},
		{"reader in another service", map[string]any{"readerRoleArns": map[string]any{"arn:aws:sts::123456789012:assumed-role/x/session": []any{"*"}}},
			[]string{`is not an IAM role ARN`}},
		{"readers in two accounts", map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{"*"}, "arn:aws:iam::210987654321:role/other": []any{"*"}}},
			[]string{`role "arn:aws:iam::210987654321:role/other" is in account 210987654321 but role "` + testReaderRole + `" is in account 123456789012`, `cross-account readers are not supported`}},
		// Earlier versions took a list and granted every skill to every
		// role: refused, with the new form, rather than silently widened
		// or narrowed.
		{"readerRoleArns list", map[string]any{"readerRoleArns": []any{testReaderRole}},
			[]string{`context "readerRoleArns": is a list; it is a JSON object from each role ARN to the skill ids that role may read`, `["*"] for every skill`}},
		{"readerRoleArns bare ARN (-c)", map[string]any{"readerRoleArns": testReaderRole},
			[]string{`context "readerRoleArns": is a list`}},
		{"readerRoleArns bad JSON", map[string]any{"readerRoleArns": `{"x": [`},
			[]string{`context "readerRoleArns": not a JSON object from role ARN to a list of skill ids`}},
		{"reader skills not a list", map[string]any{"readerRoleArns": map[string]any{testReaderRole: "*"}},
			[]string{`role "` + testReaderRole + `": want a list of skill ids, or ["*"] for every skill`}},
		{"reader skills not strings", map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{true}}},
			[]string{`role "` + testReaderRole + `": want a list of skill ids`}},
		{"reader without skills", map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{}}},
			[]string{`role "` + testReaderRole + `": lists no skill; remove the role, or grant ["*"] for every skill`}},
		{"reader skill invalid", map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{"amzn1.ask.skill.x"}}},
			[]string{`role "` + testReaderRole + `": "amzn1.ask.skill.x" is not a valid skill id`}},
		{"reader skill twice", map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{testSkillID, testSkillID}}},
			[]string{`role "` + testReaderRole + `": "` + testSkillID + `" is listed twice`}},
		{"reader star with skills", map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{"*", testSkillID}}},
			[]string{`role "` + testReaderRole + `": "*" must be alone in its list`}},
		{"reader with too many skills", map[string]any{"readerRoleArns": map[string]any{testReaderRole: manySkills(readerSkillLimit(DefaultSkillSecretPrefix) + 1)}},
			[]string{fmt.Sprintf(`role "%s": %d skills, more than the %d one IAM managed policy can list`, testReaderRole, readerSkillLimit(DefaultSkillSecretPrefix)+1, readerSkillLimit(DefaultSkillSecretPrefix))}},
		{"too many skill lists", map[string]any{"readerRoleArns": readersWithOwnSkill(maxReaderPolicies + 1)},
			[]string{fmt.Sprintf(`%d different skill lists, more than %d`, maxReaderPolicies+1, maxReaderPolicies)}},
		{"every problem at once", map[string]any{"skillIds": []any{"x"}, "schedule": "rate(0 days)", "syncConcurrency": 100},
			[]string{`"x" is not a valid skill id`, `positive whole number`, `100 is out of range`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(newTestApp(t, tt.ctx).Node())
			if err == nil {
				t.Fatalf("LoadConfig(%v) = nil error; want %q", tt.ctx, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig(%v) error:\n%v\nwant it to contain %q", tt.ctx, err, w)
				}
			}
		})
	}
}

func TestValidateManySkills(t *testing.T) {
	cfg := &Config{StackName: DefaultStackName, Schedule: Schedule{Expression: "rate(1 hour)", MaxGap: time.Hour}, LWASecretName: "lwa",
		SkillSecretPrefix: "p/", LogRetentionDays: 30, SyncConcurrency: 8, RotationDays: 30, SkillDiscovery: contract.DiscoveryOff}
	for i := range contract.MaxStackSkillSecrets {
		cfg.SkillIDs = append(cfg.SkillIDs, "amzn1.ask.skill.00000000-0000-0000-0000-"+strings.Repeat("0", 8)+hex4(i))
	}
	if err := cfg.Validate(); err != nil || cfg.FunctionCreatesSecrets() || len(cfg.StackSkillIDs()) != contract.MaxStackSkillSecrets {
		t.Fatalf("%d skills: Validate = %v, FunctionCreatesSecrets = %v; want valid, created by the stack", contract.MaxStackSkillSecrets, err, cfg.FunctionCreatesSecrets())
	}
	cfg.SkillIDs = append(cfg.SkillIDs, "amzn1.ask.skill.00000000-0000-0000-0000-"+strings.Repeat("0", 8)+hex4(contract.MaxStackSkillSecrets))
	if err := cfg.Validate(); err != nil || !cfg.FunctionCreatesSecrets() || cfg.StackSkillIDs() != nil || !cfg.CreatesSecrets() {
		t.Fatalf("%d skills: Validate = %v, FunctionCreatesSecrets = %v; want valid, every secret created by the function", contract.MaxStackSkillSecrets+1, err, cfg.FunctionCreatesSecrets())
	}
}

func TestFunctionCreatesSecretsContext(t *testing.T) {
	for _, v := range []any{true, "true"} {
		cfg, err := LoadConfig(newTestApp(t, map[string]any{"functionCreatesSecrets": v, "skillIds": []any{testSkillID}}).Node())
		if err != nil || !cfg.FunctionCreatesSecrets() || cfg.StackSkillIDs() != nil || !cfg.CreatesSecrets() {
			t.Errorf("functionCreatesSecrets=%v: %+v, %v; want the function to create the one declared secret", v, cfg, err)
		}
	}
}

func TestDiscoveryContext(t *testing.T) {
	for _, tt := range []struct {
		ctx     map[string]any
		wantErr string
	}{
		{map[string]any{"skillDiscovery": "vendor"}, ""},
		{map[string]any{"skillDiscovery": "vendor", "vendorId": "M1ABCDEFGHIJKL"}, ""},
		{map[string]any{"skillDiscovery": "all"}, `context "skillDiscovery": "all"`},
		{map[string]any{"vendorId": "M1ABCDEFGHIJKL"}, `context "vendorId": is set but skillDiscovery is "off"`},
		{map[string]any{"skillDiscovery": "vendor", "vendorId": "M1 X"}, `context "vendorId": "M1 X" is not a vendor id`},
		{map[string]any{"functionCreatesSecrets": "maybe"}, `context "functionCreatesSecrets": "maybe" is not true or false`},
	} {
		cfg, err := LoadConfig(newTestApp(t, tt.ctx).Node())
		if tt.wantErr == "" {
			if err != nil || cfg.SkillDiscovery != contract.DiscoveryVendor || !cfg.CreatesSecrets() || cfg.FunctionCreatesSecrets() {
				t.Errorf("LoadConfig(%v) = %+v, %v; want discovery on", tt.ctx, cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("LoadConfig(%v) error = %v; want %q", tt.ctx, err, tt.wantErr)
		}
	}
}

func hex4(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>12&15], digits[i>>8&15], digits[i>>4&15], digits[i&15]})
}

// TestRunReportsInvalidContext runs the app's entry point with bad context
// (as -c key=value would give) and checks that it stops before building
// anything, with every problem in the error.
func TestRunReportsInvalidContext(t *testing.T) {
	app := newTestApp(t, map[string]any{"skillIds": "amzn1.ask.skill.bad", "schedule": "rate(2 fortnights)"})
	err := run(context.Background(), app)
	if err == nil {
		t.Fatal("run() = nil; want the context errors")
	}
	for _, want := range []string{"invalid CDK context", `"amzn1.ask.skill.bad" is not a valid skill id`, `unit "fortnights"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("run() error:\n%v\nwant it to contain %q", err, want)
		}
	}
}

func TestCheckAccount(t *testing.T) {
	cfg := &Config{Readers: []Reader{{RoleARN: testReaderRole}, {RoleARN: testReaderRoleWithPath, SkillIDs: []string{testSkillID}}}}
	if err := cfg.CheckAccount(""); err != nil {
		t.Errorf("CheckAccount(unknown) = %v; want nil", err)
	}
	if err := cfg.CheckAccount("123456789012"); err != nil {
		t.Errorf("CheckAccount(the roles' account) = %v; want nil", err)
	}
	err := cfg.CheckAccount("210987654321")
	for _, want := range []string{
		`context "readerRoleArns": role "` + testReaderRole + `" is in account 123456789012, not in 210987654321 where the stack is deployed`,
		`role "` + testReaderRoleWithPath + `"`,
		`cross-account readers are not supported`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckAccount(another account) = %v; want it to contain %q", err, want)
		}
	}
}

// TestRunRefusesReadersOfAnotherAccount runs the app's entry point as cdk
// deploy does, with the target account in CDK_DEFAULT_ACCOUNT.
func TestRunRefusesReadersOfAnotherAccount(t *testing.T) {
	t.Setenv("CDK_DEFAULT_ACCOUNT", "210987654321")
	app := newTestApp(t, map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{"*"}}})
	err := run(context.Background(), app)
	if err == nil || !strings.Contains(err.Error(), "invalid CDK context") || !strings.Contains(err.Error(), "not in 210987654321 where the stack is deployed") {
		t.Errorf("run() = %v; want the cross-account error", err)
	}
}

// manySkills returns n distinct skill ids as a context list.
func manySkills(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "amzn1.ask.skill.00000000-0000-0000-0000-" + strings.Repeat("0", 8) + hex4(i)
	}
	return out
}

// readersWithOwnSkill returns n reader roles, each granted a different skill.
func readersWithOwnSkill(n int) map[string]any {
	out := map[string]any{}
	for i, id := range manySkills(n) {
		out[fmt.Sprintf("arn:aws:iam::123456789012:role/skill-%d", i)] = []any{id}
	}
	return out
}
