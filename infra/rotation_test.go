package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// twoSkills is the context of a stack with two skill secrets.
var twoSkills = map[string]any{"skillIds": []any{testSkillID, testLegacySkillID}}

// skillSecretIDs returns the logical ids of the skill secrets by skill id.
func skillSecretIDs(t *testing.T, s *synthesized) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range s.resources("AWS::SecretsManager::Secret") {
		name := r["Properties"].(map[string]any)["Name"].(string)
		if skillID, ok := strings.CutPrefix(name, DefaultSkillSecretPrefix); ok {
			out[skillID] = id
		}
	}
	return out
}

func dependsOn(r map[string]any) []string {
	var out []string
	for _, d := range asStrings(r["DependsOn"]) {
		if d, ok := d.(string); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestRotationSchedules(t *testing.T) {
	s := synth(t, twoSkills)
	fnID, _ := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	crID, _ := s.only(t, "Custom::DeploySync")
	secrets := skillSecretIDs(t, s)
	if len(secrets) != 2 {
		t.Fatalf("skill secrets %v; want 2", secrets)
	}

	var permissionID string
	for id, r := range s.resources("AWS::Lambda::Permission") {
		p := r["Properties"].(map[string]any)
		if p["Principal"] != "secretsmanager.amazonaws.com" {
			continue
		}
		if permissionID != "" {
			t.Errorf("two invoke permissions for Secrets Manager: %s and %s", permissionID, id)
		}
		permissionID = id
		want := map[string]any{
			"Action":        "lambda:InvokeFunction",
			"Principal":     "secretsmanager.amazonaws.com",
			"FunctionName":  getAtt(fnID, "Arn"),
			"SourceAccount": ref("AWS::AccountId"),
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("Secrets Manager invoke permission = %s; want %s", toJSON(p), toJSON(want))
		}
	}
	if permissionID == "" {
		t.Fatal("no invoke permission for secretsmanager.amazonaws.com")
	}

	schedules := s.resources("AWS::SecretsManager::RotationSchedule")
	if len(schedules) != len(secrets) {
		t.Errorf("%d rotation schedules; want one per skill secret (%d)", len(schedules), len(secrets))
	}
	scheduled := map[string]bool{}
	for id, r := range schedules {
		p := r["Properties"].(map[string]any)
		secretRef, _ := p["SecretId"].(map[string]any)
		secretID, _ := secretRef["Ref"].(string)
		scheduled[secretID] = true
		want := map[string]any{
			"SecretId":                  ref(secretID),
			"RotationLambdaARN":         getAtt(fnID, "Arn"),
			"RotateImmediatelyOnUpdate": false,
			"RotationRules":             map[string]any{"AutomaticallyAfterDays": float64(DefaultRotationDays)},
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("rotation schedule %s = %s; want %s", id, toJSON(p), toJSON(want))
		}
		deps := dependsOn(r)
		for _, d := range []string{permissionID, crID} {
			if !slices.Contains(deps, d) {
				t.Errorf("rotation schedule %s DependsOn %v; want it to include %s", id, deps, d)
			}
		}
	}
	for skillID, secretID := range secrets {
		if !scheduled[secretID] {
			t.Errorf("no rotation schedule for the secret of %s", skillID)
		}
	}
	if scheduled[lwaSecretID(t, s)] {
		t.Error("the LWA secret has a rotation schedule; want none")
	}

	// What the L2 RotationSchedule would have added by itself.
	if rs := s.resources("AWS::SecretsManager::ResourcePolicy"); len(rs) != 0 {
		t.Errorf("secret resource policies %v; want none", toJSON(rs))
	}
	roleID, _ := s.named(t, "AWS::IAM::Role", "SyncFunctionRole")
	assertSyncRoleActions(t, s, roleID)
	_, key := s.named(t, "AWS::KMS::Key", "Key")
	for _, st := range key["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		if strings.Contains(toJSON(st), roleID) {
			t.Errorf("key policy statement %s names the function role; want its key access only in the role policy", toJSON(st))
		}
	}
	assertNoNagFindings(t, s)
}

// assertSyncRoleActions checks the exact actions of every statement of the
// function role, and that none is a wildcard, a ReEncrypt or kms:*.
func assertSyncRoleActions(t *testing.T, s *synthesized, roleID string) {
	t.Helper()
	want := map[string][]string{
		"WriteOwnLogs":                {"logs:CreateLogStream", "logs:PutLogEvents"},
		"ReadAndRotateLwaSecret":      {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
		"SyncAndRotateSkillSecrets":   {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"},
		"DiscoverSkillSecrets":        {"secretsmanager:ListSecrets"},
		"BatchReadSkillSecrets":       {"secretsmanager:BatchGetSecretValue"},
		"UseKeyThroughSecretsManager": {"kms:Decrypt", "kms:GenerateDataKey"},
		"SendFailedRunsToQueue":       {"sqs:SendMessage"},
	}
	got := map[string][]string{}
	for _, st := range roleStatements(t, s, roleID) {
		sid, _ := st["Sid"].(string)
		if _, dup := got[sid]; dup || sid == "" {
			t.Errorf("statement %s: missing or repeated Sid", toJSON(st))
		}
		for _, a := range asStrings(st["Action"]) {
			a := a.(string)
			got[sid] = append(got[sid], a)
			if strings.Contains(a, "*") || strings.Contains(a, "ReEncrypt") || a == "secretsmanager:GetRandomPassword" {
				t.Errorf("statement %s has action %s", sid, a)
			}
		}
		sort.Strings(got[sid])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("function role actions by statement:\n%v\nwant\n%v", got, want)
	}
}

// sdkCall renders an AwsCustomResource call property (a JSON string joined
// with CloudFormation references) with each reference as "<Ref:id>" or
// "<GetAtt:id.attr>", and decodes it.
func sdkCall(t *testing.T, v any) map[string]any {
	t.Helper()
	var b strings.Builder
	var render func(v any)
	render = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v)
		case map[string]any:
			if j, ok := v["Fn::Join"].([]any); ok && j[0] == "" {
				for _, part := range j[1].([]any) {
					render(part)
				}
			} else if r, ok := v["Ref"].(string); ok {
				b.WriteString("<Ref:" + r + ">")
			} else if g, ok := v["Fn::GetAtt"].([]any); ok {
				b.WriteString("<GetAtt:" + g[0].(string) + "." + g[1].(string) + ">")
			} else {
				t.Fatalf("unexpected intrinsic %s", toJSON(v))
			}
		default:
			t.Fatalf("unexpected value %s", toJSON(v))
		}
	}
	render(v)
	var out map[string]any
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil {
		t.Fatalf("SDK call %s: %v", b.String(), err)
	}
	return out
}

func TestDeploySync(t *testing.T) {
	s := synth(t, twoSkills)
	fnID, fn := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	crID, cr := s.only(t, "Custom::DeploySync")
	r := s.resources("Custom::DeploySync")[crID]

	create, update := sdkCall(t, cr["Create"]), sdkCall(t, cr["Update"])
	if !reflect.DeepEqual(create, update) {
		t.Errorf("Create %s and Update %s differ; want the same invocation", toJSON(create), toJSON(update))
	}
	if cr["Delete"] != nil {
		t.Errorf("Delete = %s; want no call on delete", toJSON(cr["Delete"]))
	}
	params, _ := create["parameters"].(map[string]any)
	// Pinned: the function recognizes exactly this event (credsync.DeploySource).
	const payload = `{"source":"alexa-skill-credentials.deploy"}`
	wantParams := map[string]any{
		"FunctionName":   "<Ref:" + fnID + ">",
		"InvocationType": "RequestResponse",
		"Payload":        payload,
	}
	if !reflect.DeepEqual(params, wantParams) {
		t.Errorf("invoke parameters = %s; want %s", toJSON(params), toJSON(wantParams))
	}
	if create["service"] != "Lambda" || create["action"] != "invoke" {
		t.Errorf("call %v.%v; want Lambda.invoke", create["service"], create["action"])
	}
	if got := toJSON(create["outputPaths"]); got != `["StatusCode"]` {
		t.Errorf("outputPaths = %s; want only StatusCode (a custom resource returns at most 4 KB)", got)
	}
	if create["logApiResponseData"] != false {
		t.Errorf("logApiResponseData = %v; want false", create["logApiResponseData"])
	}
	if ignored, _ := create["ignoreErrorCodesMatching"].(string); strings.Contains(ignored, ".*") || !strings.Contains(ignored, "TooManyRequestsException") {
		t.Errorf("ignoreErrorCodesMatching = %q; want only the transient Lambda API errors", ignored)
	}
	id, _ := create["physicalResourceId"].(map[string]any)["id"].(string)
	if !strings.HasPrefix(id, "deploy-sync-") {
		t.Errorf("physical resource id %q; want deploy-sync-<hash>", id)
	}
	if cr["InstallLatestAwsSdk"] != false {
		t.Errorf("InstallLatestAwsSdk = %v; want false", cr["InstallLatestAwsSdk"])
	}

	// After the function and every secret.
	deps := dependsOn(r)
	want := []string{fnID, lwaSecretID(t, s)}
	for _, id := range skillSecretIDs(t, s) {
		want = append(want, id)
	}
	for _, d := range want {
		if !slices.Contains(deps, d) {
			t.Errorf("deploy sync DependsOn %v; want it to include %s", deps, d)
		}
	}

	// The provider: its own role, allowed to write its logs and to invoke
	// this function, nothing else; time to wait for the whole sync.
	providerID, provider := s.named(t, "AWS::Lambda::Function", "AWS679f53fac002430cb0da5b7982bd2287")
	if !reflect.DeepEqual(cr["ServiceToken"], getAtt(providerID, "Arn")) {
		t.Errorf("ServiceToken = %s; want the provider %s", toJSON(cr["ServiceToken"]), providerID)
	}
	if provider["Timeout"].(float64) <= fn["Timeout"].(float64) {
		t.Errorf("provider Timeout %v; want more than the function's %v", provider["Timeout"], fn["Timeout"])
	}
	if n := len(s.resources("AWS::Lambda::Function")); n != 2 {
		t.Errorf("%d functions; want the sync function and the provider", n)
	}
	roleID, role := s.named(t, "AWS::IAM::Role", "DeploySyncProviderRole")
	if !reflect.DeepEqual(provider["Role"], getAtt(roleID, "Arn")) {
		t.Errorf("provider Role = %s; want %s", toJSON(provider["Role"]), roleID)
	}
	if role["ManagedPolicyArns"] != nil || role["Policies"] != nil {
		t.Errorf("provider role %s; want no managed or inline policies", toJSON(role))
	}
	logsID, _ := s.named(t, "AWS::Logs::LogGroup", "DeploySyncProviderLogs")
	if got := toJSON(provider["LoggingConfig"]); got != toJSON(map[string]any{"LogGroup": ref(logsID)}) {
		t.Errorf("provider LoggingConfig = %s; want its own log group", got)
	}
	statements := roleStatements(t, s, roleID)
	wantStatements := []map[string]any{
		{"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": getAtt(logsID, "Arn")},
		{"Sid": "InvokeSyncFunction", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": getAtt(fnID, "Arn")},
	}
	sort.Slice(statements, func(i, j int) bool { return statements[i]["Sid"].(string) > statements[j]["Sid"].(string) })
	if !reflect.DeepEqual(statements, wantStatements) {
		t.Errorf("provider role statements = %s; want %s", toJSON(statements), toJSON(wantStatements))
	}
	assertNoNagFindings(t, s)
}

func TestNextStepsOutput(t *testing.T) {
	s := synth(t, nil)
	fnID, _ := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	out, ok := s.outputs()["NextSteps"]
	if !ok {
		t.Fatal("no NextSteps output")
	}
	value := toJSON(out["Value"])
	for _, want := range []string{
		"make fill-lwa-secret", "FillLwaSecretCommand", "make sync", toJSON(ref(fnID)),
	} {
		if !strings.Contains(value, want) {
			t.Errorf("NextSteps = %s; want it to contain %s", value, want)
		}
	}
}

// TestDeploySyncID checks when the deploy-time sync re-runs: a new physical
// id makes CloudFormation update the resource, which invokes again.
func TestDeploySyncID(t *testing.T) {
	cfg := func(skills ...string) *Config {
		return &Config{SkillIDs: skills, LWASecretName: DefaultLWASecretName, SkillSecretPrefix: DefaultSkillSecretPrefix, SyncConcurrency: 8}
	}
	v1, v1again, v2 := fakeCodeDir(t, "binary v1"), fakeCodeDir(t, "binary v1"), fakeCodeDir(t, "binary v2")
	base := deploySyncID(cfg(testSkillID), v1)
	if again := deploySyncID(cfg(testSkillID), v1again); again != base {
		t.Errorf("same code in another directory: id %s; want %s", again, base)
	}
	if a, b := deploySyncID(cfg(testSkillID, testLegacySkillID), v1), deploySyncID(cfg(testLegacySkillID, testSkillID), v1); a != b {
		t.Errorf("reordered skills: ids %s and %s; want equal", a, b)
	}
	concurrency := cfg(testSkillID)
	concurrency.SyncConcurrency = 4
	prefix := cfg(testSkillID)
	prefix.SkillSecretPrefix = "other/"
	changed := map[string]string{
		"new code":          deploySyncID(cfg(testSkillID), v2),
		"skill added":       deploySyncID(cfg(testSkillID, testLegacySkillID), v1),
		"skill removed":     deploySyncID(cfg(), v1),
		"concurrency":       deploySyncID(concurrency, v1),
		"skill prefix":      deploySyncID(prefix, v1),
		"other skill alone": deploySyncID(cfg(testLegacySkillID), v1),
	}
	for name, id := range changed {
		if id == base {
			t.Errorf("%s: id unchanged (%s); want a new one so the sync runs again", name, id)
		}
	}
}

func TestReaderRoles(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		s := synth(t, nil)
		if ps := s.resources("AWS::IAM::ManagedPolicy"); len(ps) != 0 {
			t.Errorf("managed policies %s; want none without readerRoleArns", toJSON(ps))
		}
		if _, ok := s.outputs()["SkillSecretReaderPolicyArns"]; ok {
			t.Error("SkillSecretReaderPolicyArns output without readerRoleArns")
		}
	})

	// skill-a and skill-c read one skill each (the same one), skill-b-exec
	// reads every skill.
	const roleC = "arn:aws:iam::123456789012:role/skill-c"
	readers := map[string]any{testReaderRole: []any{testSkillID}, roleC: []any{testSkillID}, testReaderRoleWithPath: []any{"*"}}
	s := synth(t, map[string]any{"readerRoleArns": readers, "skillIds": []any{testSkillID, testLegacySkillID}})
	keyID, _ := s.named(t, "AWS::KMS::Key", "Key")
	policies := s.resources("AWS::IAM::ManagedPolicy")
	if len(policies) != 2 {
		t.Fatalf("%d reader policies; want 2 (one per distinct skill list): %v", len(policies), slices.Sorted(maps.Keys(policies)))
	}
	arn := func(name string) map[string]any {
		return map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":secret:" + name}}}
	}
	decrypt := map[string]any{
		"Sid": "DecryptSkillSecrets", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": getAtt(keyID, "Arn"),
		"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": map[string]any{"Fn::Join": []any{"", []any{"secretsmanager.", ref("AWS::Region"), ".amazonaws.com"}}}}},
	}
	want := map[string]struct {
		roles string
		read  any
	}{
		// Exactly one secret: the skill's name and the six-character
		// suffix of its ARN, so another skill's secret never matches.
		"SkillSecretReaderPolicy": {`["skill-a","skill-c"]`, arn("alexa/skill-messaging/" + testSkillID + "-??????")},
		// ["*"]: every secret under the prefix.
		"SkillSecretReaderPolicyAllSkills": {`["skill-b-exec"]`, arn("alexa/skill-messaging/*")},
	}
	var ids []any
	for id, r := range policies {
		p := r["Properties"].(map[string]any)
		name := "SkillSecretReaderPolicy"
		if strings.HasPrefix(id, "SkillSecretReaderPolicyAllSkills") {
			name = "SkillSecretReaderPolicyAllSkills"
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected reader policy %s", id)
			continue
		}
		ids = append(ids, ref(id))
		if got := toJSON(p["Roles"]); got != w.roles {
			t.Errorf("%s Roles = %s; want %s", id, got, w.roles)
		}
		stmts := []any{map[string]any{"Sid": "ReadSkillSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": w.read}, decrypt}
		if got := p["PolicyDocument"].(map[string]any)["Statement"]; !reflect.DeepEqual(got, stmts) {
			t.Errorf("%s statements = %s; want %s", id, toJSON(got), toJSON(stmts))
		}
		if doc := toJSON(r); strings.Contains(doc, lwaSecretID(t, s)) || strings.Contains(doc, testLegacySkillID) {
			t.Errorf("reader policy %s names the LWA secret or a skill not granted", doc)
		}
	}
	// Nothing else is granted to the readers: no inline policy on them, no
	// resource policy, no key policy statement for them.
	for _, r := range s.resources("AWS::IAM::Policy") {
		if doc := toJSON(r); strings.Contains(doc, "skill-a") || strings.Contains(doc, "skill-b-exec") || strings.Contains(doc, "skill-c") {
			t.Errorf("policy %s also grants a reader", doc)
		}
	}
	if rs := s.resources("AWS::SecretsManager::ResourcePolicy"); len(rs) != 0 {
		t.Errorf("secret resource policies %s; want none", toJSON(rs))
	}
	if _, key := s.named(t, "AWS::KMS::Key", "Key"); strings.Contains(toJSON(key), "123456789012") {
		t.Errorf("key policy names the readers' account: %s", toJSON(key["KeyPolicy"]))
	}
	out := toJSON(s.outputs()["SkillSecretReaderPolicyArns"]["Value"])
	for _, id := range ids {
		if !strings.Contains(out, toJSON(id)) {
			t.Errorf("SkillSecretReaderPolicyArns output = %s; want it to list %s", out, toJSON(id))
		}
	}
	assertNoNagFindings(t, s)

	// A policy belongs to its skill list: granting the same list to one
	// more role keeps its logical id, and the role joins its Roles.
	more := maps.Clone(readers)
	more["arn:aws:iam::123456789012:role/skill-d"] = []any{testSkillID}
	s2 := synth(t, map[string]any{"readerRoleArns": more, "skillIds": []any{testSkillID}})
	for id := range policies {
		r, ok := s2.resources("AWS::IAM::ManagedPolicy")[id]
		if !ok {
			t.Errorf("policy %s gone after adding a role; want the same logical id", id)
		} else if strings.Contains(id, "AllSkills") == strings.Contains(toJSON(r["Properties"].(map[string]any)["Roles"]), "skill-d") {
			t.Errorf("policy %s Roles = %s after adding skill-d to the one-skill list", id, toJSON(r["Properties"].(map[string]any)["Roles"]))
		}
	}
}

// TestReaderPolicySize checks that a grant of as many skills as
// readerSkillLimit allows, with the longest skill ids, fits IAM's 6,144
// characters for a managed policy (whitespace not counted), with the
// template's references replaced by their longest values.
func TestReaderPolicySize(t *testing.T) {
	n := readerSkillLimit(DefaultSkillSecretPrefix)
	skills := make([]any, n)
	for i := range skills {
		skills[i] = fmt.Sprintf("amzn1.echo-sdk-ams.app.%08x-0000-0000-0000-000000000000", i)
	}
	s := synth(t, map[string]any{"readerRoleArns": map[string]any{testReaderRole: skills}})
	_, p := s.only(t, "AWS::IAM::ManagedPolicy")
	doc := toJSON(p["PolicyDocument"])
	for ref, longest := range map[string]string{
		`{"Ref":"AWS::Partition"}`: `"aws-us-gov"`, `{"Ref":"AWS::Region"}`: `"ap-southeast-22"`, `{"Ref":"AWS::AccountId"}`: `"123456789012"`,
	} {
		doc = strings.ReplaceAll(doc, ref, longest)
	}
	// Each Fn::Join of strings becomes one string; the key ARN is a 2048-bit
	// ARN at most 100 characters long.
	doc = regexp.MustCompile(`\{"Fn::GetAtt":\[[^]]*\]\}`).ReplaceAllString(doc, `"arn:aws-us-gov:kms:ap-southeast-22:123456789012:key/12345678-1234-1234-1234-123456789012"`)
	doc = regexp.MustCompile(`\{"Fn::Join":\["",\[((?:"[^"]*",?)*)\]\]\}`).ReplaceAllStringFunc(doc, func(j string) string {
		parts := regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(j[len(`{"Fn::Join":["",[`):], -1)
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p[1])
		}
		return `"` + b.String() + `"`
	})
	if strings.Contains(doc, "Fn::") || strings.Contains(doc, `"Ref"`) {
		t.Fatalf("unresolved intrinsic left in %s", doc)
	}
	if len(doc) > 6144 {
		t.Errorf("a grant of %d skills renders to %d characters; IAM allows 6,144 per managed policy", n, len(doc))
	}
	t.Logf("a grant of %d skills: %d of 6,144 characters", n, len(doc))
}

// TestResourceBudget checks that a stack with contract.MaxStackSkillSecrets skills, and every
// optional resource (maxReaderPolicies reader policies, the e-mail
// subscription), stays within CloudFormation's 500 resources and 200
// outputs, from the resources a stack with none and with two skills has.
func TestResourceBudget(t *testing.T) {
	count := func(skills ...any) (resources, outputs int) {
		s := synth(t, map[string]any{"skillIds": skills, "readerRoleArns": readersWithOwnSkill(maxReaderPolicies), "alarmEmail": "ops@example.com"})
		return len(s.json["Resources"].(map[string]any)), len(s.json["Outputs"].(map[string]any))
	}
	r0, o0 := count()
	r2, o2 := count(testSkillID, testLegacySkillID)
	perSkill, perSkillOutputs := (r2-r0)/2, (o2-o0)/2
	if perSkill != 2 || perSkillOutputs != 1 {
		t.Errorf("each skill adds %d resources and %d outputs; want 2 (secret, rotation schedule) and 1", perSkill, perSkillOutputs)
	}
	if total := r0 + perSkill*contract.MaxStackSkillSecrets; total > 500 {
		t.Errorf("%d skills need %d resources; CloudFormation allows 500", contract.MaxStackSkillSecrets, total)
	}
	if total := o0 + perSkillOutputs*min(contract.MaxStackSkillSecrets, maxSkillOutputs); total > 200 {
		t.Errorf("%d skills need %d outputs; CloudFormation allows 200", contract.MaxStackSkillSecrets, total)
	}
}
