package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func manySkillIDs(n int) []any {
	ids := make([]any, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("amzn1.ask.skill.00000000-0000-4000-8000-%012d", i)
	}
	return ids
}

// synthWithCodeDir is synth with the code directory returned, to read what
// the stack wrote into the function's code.
func synthWithCodeDir(t *testing.T, overrides map[string]any) (*synthesized, string) {
	t.Helper()
	app := newTestApp(t, overrides)
	cfg, err := LoadConfig(app.Node())
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	dir := fakeCodeDir(t, "stand-in bootstrap for tests\n")
	stack := NewApp(app, cfg, dir)
	tmpl := templateOf(t, stack)
	return &synthesized{stack: stack, template: tmpl, json: *tmpl.ToJSON()}, dir
}

func functionEnv(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	_, fn := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	env, _ := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	return env
}

// TestTwoThousandSkills: 2,000 declared skills synthesize within
// CloudFormation's 500 resources. The stack then creates none of their
// secrets: it ships the list in the function's code and the function creates
// them, so the template has the size of a stack without skills plus the
// creation policy.
func TestTwoThousandSkills(t *testing.T) {
	count := func(s *synthesized) int { return len(s.json["Resources"].(map[string]any)) }
	none, _ := synthWithCodeDir(t, map[string]any{"readerRoleArns": map[string]any{testReaderRole: []any{"*"}}, "alarmEmail": "ops@example.com"})
	ids := manySkillIDs(2000)
	s, dir := synthWithCodeDir(t, map[string]any{"skillIds": ids, "readerRoleArns": map[string]any{testReaderRole: []any{"*"}}, "alarmEmail": "ops@example.com"})
	if n := count(s); n > 500 || n != count(none)+1 {
		t.Errorf("2,000 skills: %d resources; want %d (a stack without skills, plus the creation policy), within 500", n, count(none)+1)
	}
	if n := len(s.resources("AWS::SecretsManager::Secret")); n != 1 {
		t.Errorf("%d secrets in the template; want only the LWA secret", n)
	}
	if n := len(s.resources("AWS::SecretsManager::RotationSchedule")); n != 0 {
		t.Errorf("%d rotation schedules in the template; want none (the function schedules its secrets)", n)
	}
	if n := len(s.json["Outputs"].(map[string]any)); n > 200 {
		t.Errorf("%d outputs; CloudFormation allows 200", n)
	}
	data, err := os.ReadFile(filepath.Join(dir, SkillIDsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := json.Unmarshal(data, &got); err != nil || !reflect.DeepEqual(got, ids) {
		t.Errorf("%s holds %d ids (%v); want the 2,000 declared", SkillIDsFile, len(got), err)
	}
	env := functionEnv(t, s)
	keyID, _ := s.named(t, "AWS::KMS::Key", "Key")
	for k, want := range map[string]any{
		"SKILL_IDS_FILE":             SkillIDsFile,
		"SKILL_SECRET_KMS_KEY_ID":    getAtt(keyID, "Arn"),
		"SKILL_SECRET_ROTATION_DAYS": "30",
	} {
		if !reflect.DeepEqual(env[k], want) {
			t.Errorf("env %s = %s; want %s", k, toJSON(env[k]), toJSON(want))
		}
	}
	if _, ok := env["SKILL_DISCOVERY"]; ok {
		t.Errorf("SKILL_DISCOVERY set without skillDiscovery: %v", env)
	}
	assertNoNagFindings(t, s)

	// Back under the limit, the stack creates the secrets again and the
	// stale list is gone from the code.
	app := newTestApp(t, map[string]any{"skillIds": []any{testSkillID}})
	cfg, err := LoadConfig(app.Node())
	if err != nil {
		t.Fatal(err)
	}
	NewApp(app, cfg, dir)
	if _, err := os.Stat(filepath.Join(dir, SkillIDsFile)); !os.IsNotExist(err) {
		t.Errorf("%s still in the code (%v); want it removed", SkillIDsFile, err)
	}
}

// TestDiscoveryStack checks the discovery context option: the function's
// environment and the IAM it gets to create secrets, with its conditions.
func TestDiscoveryStack(t *testing.T) {
	s := synth(t, map[string]any{"skillDiscovery": "vendor", "vendorId": "M1ABCDEFGHIJKL", "skillIds": []any{testSkillID}})
	env := functionEnv(t, s)
	fnID, _ := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	keyID, _ := s.named(t, "AWS::KMS::Key", "Key")
	for k, want := range map[string]any{
		"SKILL_DISCOVERY":            "vendor",
		"VENDOR_ID":                  "M1ABCDEFGHIJKL",
		"SKILL_SECRET_KMS_KEY_ID":    getAtt(keyID, "Arn"),
		"SKILL_SECRET_ROTATION_DAYS": "30",
	} {
		if !reflect.DeepEqual(env[k], want) {
			t.Errorf("env %s = %s; want %s", k, toJSON(env[k]), toJSON(want))
		}
	}
	if _, ok := env["SKILL_IDS_FILE"]; ok {
		t.Errorf("SKILL_IDS_FILE set with one declared skill: %v", env)
	}
	if n := len(s.resources("AWS::SecretsManager::RotationSchedule")); n != 1 {
		t.Errorf("%d rotation schedules; want the declared skill's", n)
	}

	id, policy := s.named(t, "AWS::IAM::Policy", "CreateSkillSecretsPolicy")
	roleID, _ := s.named(t, "AWS::IAM::Role", "SyncFunctionRole")
	if !reflect.DeepEqual(policy["Roles"], []any{ref(roleID)}) {
		t.Errorf("%s roles = %s; want the function's role", id, toJSON(policy["Roles"]))
	}
	pattern := toJSON(map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":secret:alexa/skill-messaging/*"}}})
	onlyTag := map[string]any{
		"StringEquals":              map[string]any{"aws:RequestTag/alexa-skill-credentials:managed": "true"},
		"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []any{"alexa-skill-credentials:managed"}},
	}
	want := map[string]struct {
		action, resource string
		conditions       map[string]any
	}{
		"CreateManagedSkillSecrets": {"secretsmanager:CreateSecret", pattern, map[string]any{
			"StringEquals": map[string]any{
				"aws:RequestTag/alexa-skill-credentials:managed": "true",
				"secretsmanager:KmsKeyArn":                       getAtt(keyID, "Arn"),
			},
			"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []any{"alexa-skill-credentials:managed"}},
		}},
		"TagManagedSkillSecrets": {"secretsmanager:TagResource", pattern, onlyTag},
		"ScheduleRotationOfSkillSecrets": {"secretsmanager:RotateSecret", pattern, map[string]any{
			"StringEquals": map[string]any{"secretsmanager:RotationLambdaARN": getAtt(fnID, "Arn")},
		}},
		"InvokeSelfAsRotationFunction": {"lambda:InvokeFunction", toJSON(getAtt(fnID, "Arn")), nil},
	}
	statements := policy["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(statements) != len(want) {
		t.Errorf("%d statements; want %d", len(statements), len(want))
	}
	for _, st := range statements {
		st := st.(map[string]any)
		w, ok := want[st["Sid"].(string)]
		if !ok {
			t.Errorf("unexpected statement %s", toJSON(st))
			continue
		}
		cond, _ := st["Condition"].(map[string]any)
		if st["Action"] != w.action || toJSON(st["Resource"]) != w.resource || !reflect.DeepEqual(toJSON(cond), toJSON(w.conditions)) {
			t.Errorf("statement %s = %s; want %s on %s with %s", st["Sid"], toJSON(st), w.action, w.resource, toJSON(w.conditions))
		}
	}

	// Nothing in the stack may delete a secret.
	for pid, p := range s.resources("AWS::IAM::Policy") {
		if doc := toJSON(p["Properties"]); strings.Contains(doc, "DeleteSecret") || strings.Contains(doc, `"secretsmanager:*"`) {
			t.Errorf("policy %s allows deleting secrets: %s", pid, doc)
		}
	}
	assertNoNagFindings(t, s)
}

// TestDiscoveryOffAddsNothing: the default stack grants no creation.
func TestDiscoveryOffAddsNothing(t *testing.T) {
	s := synth(t, map[string]any{"skillIds": []any{testSkillID}})
	for id := range s.resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "CreateSkillSecretsPolicy") {
			t.Errorf("policy %s in a stack without discovery", id)
		}
	}
	env := functionEnv(t, s)
	for _, k := range []string{"SKILL_DISCOVERY", "SKILL_SECRET_KMS_KEY_ID", "SKILL_IDS_FILE", "SKILL_SECRET_ROTATION_DAYS"} {
		if _, ok := env[k]; ok {
			t.Errorf("env has %s: %v", k, slices.Sorted(func(yield func(string) bool) {
				for k := range env {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}
}
