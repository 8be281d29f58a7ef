package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// fullContext sets every context key away from its default.
var fullContext = map[string]any{
	"skillIds":          []any{testSkillID, testLegacySkillID},
	"schedule":          "rate(6 hours)",
	"lwaSecretName":     "team-a/lwa",
	"skillSecretPrefix": "team-a/skills/",
	"alarmEmail":        "ops@example.com",
	"logRetentionDays":  30,
	"syncConcurrency":   16,
	"rotationDays":      7,
	"readerRoleArns":    map[string]any{testReaderRole: []any{"*"}},
}

// TestStackDefaults synthesizes cdk.json as committed and checks everything
// the stack promises.
func TestStackDefaults(t *testing.T) {
	s := synth(t, nil)

	keyID, keyProps := s.named(t, "AWS::KMS::Key", "Key")
	lwaID := lwaSecretID(t, s)
	fnID, fn := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	logsID, logs := s.named(t, "AWS::Logs::LogGroup", "SyncFunctionLogs")
	queueID, queue := s.named(t, "AWS::SQS::Queue", "ScheduleDeadLetterQueue")
	failedRunsID, failedRuns := s.named(t, "AWS::SQS::Queue", "FailedRunsQueue")
	topicKeyID, topicKey := s.named(t, "AWS::KMS::Key", "AlarmTopicKey")
	topicID, topic := s.only(t, "AWS::SNS::Topic")
	ruleID, rule := s.only(t, "AWS::Events::Rule")
	roleID, role := s.named(t, "AWS::IAM::Role", "SyncFunctionRole")

	t.Run("function", func(t *testing.T) {
		want := map[string]any{
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"MemorySize":    float64(256),
			"Timeout":       float64(300),
			"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": ref(logsID)},
			"Role":          getAtt(roleID, "Arn"),
			"Environment": map[string]any{"Variables": map[string]any{
				"LWA_SECRET_ID":       ref(lwaID),
				"SKILL_SECRET_PREFIX": "alexa/skill-messaging/",
				"SYNC_CONCURRENCY":    "8",
			}},
		}
		for k, v := range want {
			if !reflect.DeepEqual(fn[k], v) {
				t.Errorf("function %s = %s; want %s", k, toJSON(fn[k]), toJSON(v))
			}
		}
		if _, ok := fn["ReservedConcurrentExecutions"]; ok {
			t.Errorf("function has ReservedConcurrentExecutions %v; overlapping runs are harmless, want none", fn["ReservedConcurrentExecutions"])
		}
		if _, ok := fn["Code"].(map[string]any)["S3Key"]; !ok {
			t.Errorf("function Code = %s; want an S3 asset", toJSON(fn["Code"]))
		}
	})

	t.Run("log group retention", func(t *testing.T) {
		if logs["RetentionInDays"] != float64(DefaultLogRetentionDays) {
			t.Errorf("RetentionInDays = %v; want %d", logs["RetentionInDays"], DefaultLogRetentionDays)
		}
	})

	t.Run("schedule", func(t *testing.T) {
		want := map[string]any{
			"ScheduleExpression": "rate(12 hours)",
			"State":              "ENABLED",
			"Targets": []any{map[string]any{
				"Arn":              getAtt(fnID, "Arn"),
				"Id":               "Target0",
				"DeadLetterConfig": map[string]any{"Arn": getAtt(queueID, "Arn")},
				"RetryPolicy":      map[string]any{"MaximumEventAgeInSeconds": float64(3600), "MaximumRetryAttempts": float64(4)},
			}},
		}
		for k, v := range want {
			if !reflect.DeepEqual(rule[k], v) {
				t.Errorf("rule %s = %s; want %s", k, toJSON(rule[k]), toJSON(v))
			}
		}
		s.template.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
			"Action":       "lambda:InvokeFunction",
			"Principal":    "events.amazonaws.com",
			"FunctionName": getAtt(fnID, "Arn"),
			"SourceArn":    getAtt(ruleID, "Arn"),
		})
	})

	// A failed scheduled run is not rerun by Lambda (each SMAPI call was
	// already retried inside the run): its event and error go to the
	// on-failure queue.
	t.Run("failed runs", func(t *testing.T) {
		_, cfg := s.only(t, "AWS::Lambda::EventInvokeConfig")
		want := map[string]any{
			"FunctionName":             ref(fnID),
			"Qualifier":                "$LATEST",
			"MaximumRetryAttempts":     float64(0),
			"MaximumEventAgeInSeconds": float64(3600),
			"DestinationConfig":        map[string]any{"OnFailure": map[string]any{"Destination": getAtt(failedRunsID, "Arn")}},
		}
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("event invoke config = %s; want %s", toJSON(cfg), toJSON(want))
		}
	})

	t.Run("queues", func(t *testing.T) {
		for name, q := range map[string]map[string]any{"dead-letter queue": queue, "failed-runs queue": failedRuns} {
			if q["SqsManagedSseEnabled"] != true || q["KmsMasterKeyId"] != nil {
				t.Errorf("%s SqsManagedSseEnabled %v KmsMasterKeyId %s; want SSE-SQS, not the secrets' key", name, q["SqsManagedSseEnabled"], toJSON(q["KmsMasterKeyId"]))
			}
			if q["MessageRetentionPeriod"] != float64(14*24*3600) {
				t.Errorf("%s MessageRetentionPeriod = %v; want 14 days", name, q["MessageRetentionPeriod"])
			}
		}
		_, policy := s.named(t, "AWS::SQS::QueuePolicy", "ScheduleDeadLetterQueuePolicy")
		stmts := policy["PolicyDocument"].(map[string]any)["Statement"].([]any)
		var denyInsecure, allowRule bool
		for _, st := range stmts {
			st := st.(map[string]any)
			cond := toJSON(st["Condition"])
			if st["Effect"] == "Deny" && cond == `{"Bool":{"aws:SecureTransport":"false"}}` {
				denyInsecure = true
			}
			if st["Effect"] == "Allow" && st["Action"] == "sqs:SendMessage" &&
				reflect.DeepEqual(st["Principal"], map[string]any{"Service": "events.amazonaws.com"}) &&
				cond == toJSON(map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": getAtt(ruleID, "Arn")}}) {
				allowRule = true
			}
		}
		if !denyInsecure || !allowRule {
			t.Errorf("queue policy %s: deny without TLS %v, allow the rule %v; want both", toJSON(stmts), denyInsecure, allowRule)
		}
	})

	t.Run("encryption", func(t *testing.T) {
		assertKeptExceptOnCreate(t, "secrets' key", s.resources("AWS::KMS::Key")[keyID])
		if keyProps["EnableKeyRotation"] != true {
			t.Errorf("key EnableKeyRotation = %v; want true", keyProps["EnableKeyRotation"])
		}
		if !reflect.DeepEqual(topic["KmsMasterKeyId"], getAtt(topicKeyID, "Arn")) {
			t.Errorf("topic KmsMasterKeyId = %s; want its own key", toJSON(topic["KmsMasterKeyId"]))
		}
		if topicKey["EnableKeyRotation"] != true {
			t.Errorf("topic key EnableKeyRotation = %v; want true", topicKey["EnableKeyRotation"])
		}
		for id, r := range s.resources("AWS::SecretsManager::Secret") {
			if got := r["Properties"].(map[string]any)["KmsKeyId"]; !reflect.DeepEqual(got, getAtt(keyID, "Arn")) {
				t.Errorf("secret %s KmsKeyId = %s; want the stack's key", id, toJSON(got))
			}
		}
		s.template.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sns:Publish", "Effect": "Deny", "Principal": "*", "Resource": ref(topicID),
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}}},
		})
	})

	// The secrets' key is used only through Secrets Manager by principals
	// of the account (the function and reader roles' own policies): no
	// service principal in its key policy. The topic's key lets CloudWatch
	// publish, with no condition: AWS's example for that delivery has none,
	// and a service that does not send aws:SourceAccount would be denied
	// silently.
	t.Run("key policies", func(t *testing.T) {
		for _, st := range keyProps["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			if p, _ := st.(map[string]any)["Principal"].(map[string]any); p["Service"] != nil {
				t.Errorf("secrets' key policy statement %s grants a service; want none", toJSON(st))
			}
		}
		var found []any
		for _, st := range topicKey["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			if p, _ := st.(map[string]any)["Principal"].(map[string]any); p["Service"] != nil {
				found = append(found, st)
			}
		}
		want := []any{map[string]any{
			"Sid": "AllowCloudWatchToPublishToTheAlarmTopic", "Effect": "Allow", "Resource": "*",
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Action":    []any{"kms:Decrypt", "kms:GenerateDataKey"},
		}}
		if !reflect.DeepEqual(found, want) {
			t.Errorf("topic key policy service statements = %s; want %s", toJSON(found), toJSON(want))
		}
	})

	t.Run("IAM", func(t *testing.T) {
		if _, ok := role["ManagedPolicyArns"]; ok {
			t.Errorf("role ManagedPolicyArns = %v; want none", role["ManagedPolicyArns"])
		}
		if _, ok := role["Policies"]; ok {
			t.Errorf("role has inline Policies %s; want them all in the checked policy", toJSON(role["Policies"]))
		}
		want := map[string]struct {
			actions   []any
			resource  any
			condition string
		}{
			"WriteOwnLogs":           {[]any{"logs:CreateLogStream", "logs:PutLogEvents"}, getAtt(logsID, "Arn"), ""},
			"ReadAndRotateLwaSecret": {[]any{"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"}, ref(lwaID), ""},
			"SyncAndRotateSkillSecrets": {
				[]any{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"},
				map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":secret:alexa/skill-messaging/*"}}},
				"",
			},
			"DiscoverSkillSecrets":  {[]any{"secretsmanager:ListSecrets"}, "*", ""},
			"SendFailedRunsToQueue": {[]any{"sqs:SendMessage"}, getAtt(failedRunsID, "Arn"), ""},
			"BatchReadSkillSecrets": {[]any{"secretsmanager:BatchGetSecretValue"}, "*", ""},
			"UseKeyThroughSecretsManager": {
				[]any{"kms:Decrypt", "kms:GenerateDataKey"}, getAtt(keyID, "Arn"),
				`{"StringEquals":{"kms:ViaService":{"Fn::Join":["",["secretsmanager.",{"Ref":"AWS::Region"},".amazonaws.com"]]}}}`,
			},
		}
		got := roleStatements(t, s, roleID)
		if len(got) != len(want) {
			t.Errorf("role has %d statements; want %d: %s", len(got), len(want), toJSON(got))
		}
		for _, st := range got {
			sid, _ := st["Sid"].(string)
			w, ok := want[sid]
			if !ok {
				t.Errorf("unexpected statement %s", toJSON(st))
				continue
			}
			actions := asStrings(st["Action"])
			sort.Slice(actions, func(i, j int) bool { return actions[i].(string) < actions[j].(string) })
			if !reflect.DeepEqual(actions, w.actions) {
				t.Errorf("%s actions = %v; want %v", sid, actions, w.actions)
			}
			if !reflect.DeepEqual(st["Resource"], w.resource) {
				t.Errorf("%s resource = %s; want %s", sid, toJSON(st["Resource"]), toJSON(w.resource))
			}
			if cond := st["Condition"]; (cond == nil) != (w.condition == "") || (cond != nil && toJSON(cond) != w.condition) {
				t.Errorf("%s condition = %s; want %s", sid, toJSON(cond), w.condition)
			}
			if st["Effect"] != "Allow" {
				t.Errorf("%s effect = %v; want Allow", sid, st["Effect"])
			}
		}
		// The general rule, independent of the list above: no wildcard
		// action, no "*" resource except for ListSecrets and
		// BatchGetSecretValue (which take none), no ReEncrypt.
		for _, st := range got {
			for _, a := range asStrings(st["Action"]) {
				if strings.Contains(a.(string), "*") || strings.Contains(a.(string), "ReEncrypt") {
					t.Errorf("statement %v has action %v", st["Sid"], a)
				}
			}
			for _, r := range asStrings(st["Resource"]) {
				if a := asStrings(st["Action"]); r == "*" && !reflect.DeepEqual(a, []any{"secretsmanager:ListSecrets"}) && !reflect.DeepEqual(a, []any{"secretsmanager:BatchGetSecretValue"}) {
					t.Errorf("statement %v has resource * for %v", st["Sid"], st["Action"])
				}
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		r := s.resources("AWS::SecretsManager::Secret")[lwaID]
		props := r["Properties"].(map[string]any)
		if props["Name"] != DefaultLWASecretName {
			t.Errorf("LWA secret Name = %v; want %s", props["Name"], DefaultLWASecretName)
		}
		// Pinned on purpose: changing the placeholder would make the next
		// deploy overwrite the credentials the operator stored.
		const placeholder = `{"clientId": "", "clientSecret": "", "refreshToken": "", "_instructions": "Replace this value with the LWA security profile's clientId and clientSecret and a refreshToken with scope alexa::ask:skills:readwrite (ask util generate-lwa-tokens), as the README section Deploy shows."}`
		if props["SecretString"] != placeholder {
			t.Errorf("LWA secret SecretString = %v; want %s", props["SecretString"], placeholder)
		}
		assertKeptExceptOnCreate(t, "LWA secret", r)
		if n := len(s.resources("AWS::SecretsManager::Secret")); n != 1 {
			t.Errorf("%d secrets with no skillIds; want only the LWA secret", n)
		}
	})

	t.Run("alarms", func(t *testing.T) {
		assertAlarms(t, s, 24*time.Hour, 1)
		if n := len(s.resources("AWS::SNS::Subscription")); n != 0 {
			t.Errorf("%d topic subscriptions without alarmEmail; want 0", n)
		}
		// Nobody would hear the alarms: synth warns, NextSteps says so.
		assertions.Annotations_FromStack(s.stack).HasWarning(jsii.String("/"+DefaultStackName), assertions.Match_StringLikeRegexp(jsii.String("alarmEmail is not set")))
		if v := toJSON(s.outputs()["NextSteps"]["Value"]); !strings.Contains(v, "Nobody is notified of the alarms: alarmEmail is not set") || !strings.Contains(v, toJSON(ref(topicID))) {
			t.Errorf("NextSteps = %s; want it to say that nobody is notified and name the topic", v)
		}
	})

	t.Run("outputs", func(t *testing.T) {
		out := s.outputs()
		want := map[string]any{
			"LwaSecretArn":          ref(lwaID),
			"SkillSecretPrefix":     "alexa/skill-messaging/",
			"SkillSecretArnPattern": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":secret:alexa/skill-messaging/*"}}},
			"SyncFunctionName":      ref(fnID),
			"SyncFunctionLogGroup":  ref(logsID),
			"AlarmTopicArn":         ref(topicID),
			"FailedRunsQueueUrl":    ref(failedRunsID),
			"DashboardUrl": map[string]any{"Fn::Join": []any{"", []any{
				"https://console.aws.amazon.com/cloudwatch/home?region=", ref("AWS::Region"), "#dashboards/dashboard/", ref(s.named0(t, "AWS::CloudWatch::Dashboard")),
			}}},
			"KeyArn":             getAtt(keyID, "Arn"),
			"SyncFunctionArn":    getAtt(fnID, "Arn"),
			"DeadLetterQueueUrl": ref(queueID),
			"ListSkillSecretsCommand": map[string]any{"Fn::Join": []any{"", []any{
				"aws secretsmanager list-secrets --region ", ref("AWS::Region"),
				" --filters Key=name,Values='alexa/skill-messaging/' --query '" + listSkillSecretsQuery + "' --output text",
			}}},
			"FillLwaSecretCommand": map[string]any{"Fn::Join": []any{"", []any{
				`f=$(mktemp) && "${EDITOR:-vi}" "$f" && aws secretsmanager put-secret-value --region `, ref("AWS::Region"),
				" --secret-id ", ref(lwaID), ` --secret-string "file://$f"; rm -f "$f"`,
			}}},
			"NextSteps": map[string]any{"Fn::Join": []any{"", []any{
				"If the LWA secret still holds its placeholder (first deploy: the deploy-time sync skipped every skill), " +
					"run: make fill-lwa-secret (docs/deploy.md, step 4; by hand, the FillLwaSecretCommand output), then run: make sync (invokes ", ref(fnID),
				" and prints the summary; it fails if a skill failed). Nobody is notified of the alarms: alarmEmail is not set. Set it in cdk.json and deploy again, or subscribe to the topic ",
				ref(topicID), ".",
			}}},
		}
		for id, v := range want {
			if got := out[id]["Value"]; !reflect.DeepEqual(got, v) {
				t.Errorf("output %s = %s; want %s", id, toJSON(got), toJSON(v))
			}
		}
		if len(out) != len(want) {
			t.Errorf("%d outputs; want %d (no per-skill outputs without skills)", len(out), len(want))
		}
	})
}

// TestStackConfigured synthesizes with every context key set.
func TestStackConfigured(t *testing.T) {
	s := synth(t, fullContext)
	keyID, _ := s.named(t, "AWS::KMS::Key", "Key")
	topicID, _ := s.only(t, "AWS::SNS::Topic")
	_, fn := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	_, logs := s.named(t, "AWS::Logs::LogGroup", "SyncFunctionLogs")
	_, rule := s.only(t, "AWS::Events::Rule")
	lwaID := lwaSecretID(t, s)

	if rule["ScheduleExpression"] != "rate(6 hours)" {
		t.Errorf("ScheduleExpression = %v; want rate(6 hours)", rule["ScheduleExpression"])
	}
	if logs["RetentionInDays"] != float64(30) {
		t.Errorf("RetentionInDays = %v; want 30", logs["RetentionInDays"])
	}
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["SKILL_SECRET_PREFIX"] != "team-a/skills/" || env["SYNC_CONCURRENCY"] != "16" {
		t.Errorf("function environment = %s; want the configured prefix and concurrency", toJSON(env))
	}
	s.template.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{
		"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": ref(topicID),
	})
	assertAlarms(t, s, 12*time.Hour, 1)
	if v := toJSON(s.outputs()["NextSteps"]["Value"]); strings.Contains(v, "alarmEmail") {
		t.Errorf("NextSteps = %s; want no alarmEmail hint when it is set", v)
	}
	if ws := assertions.Annotations_FromStack(s.stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("alarmEmail"))); len(*ws) != 0 {
		t.Errorf("warnings %s with alarmEmail set; want none", toJSON(ws))
	}

	secrets := s.resources("AWS::SecretsManager::Secret")
	if got := secrets[lwaID]["Properties"].(map[string]any)["Name"]; got != "team-a/lwa" {
		t.Errorf("LWA secret Name = %v; want team-a/lwa", got)
	}
	if len(secrets) != 3 {
		t.Errorf("%d secrets; want the LWA secret and 2 skill secrets", len(secrets))
	}
	out := s.outputs()
	for _, skillID := range []string{testSkillID, testLegacySkillID} {
		var id string
		for logicalID, r := range secrets {
			p := r["Properties"].(map[string]any)
			if p["Name"] == "team-a/skills/"+skillID {
				id = logicalID
				if p["SecretString"] != `{"skillId": "`+skillID+`"}` {
					t.Errorf("skill secret %s SecretString = %v", skillID, p["SecretString"])
				}
				if !reflect.DeepEqual(p["KmsKeyId"], getAtt(keyID, "Arn")) {
					t.Errorf("skill secret %s KmsKeyId = %s; want the stack's key", skillID, toJSON(p["KmsKeyId"]))
				}
				assertKeptExceptOnCreate(t, "skill secret "+skillID, r)
			}
		}
		if id == "" {
			t.Errorf("no secret named team-a/skills/%s", skillID)
			continue
		}
		var found bool
		for _, o := range out {
			if reflect.DeepEqual(o["Value"], ref(id)) && strings.Contains(o["Description"].(string), skillID) {
				found = true
			}
		}
		if !found {
			t.Errorf("no output with the ARN of %s's secret", skillID)
		}
	}
	// The skill secret policy follows the configured prefix.
	roleID, _ := s.named(t, "AWS::IAM::Role", "SyncFunctionRole")
	if doc := toJSON(roleStatements(t, s, roleID)); !strings.Contains(doc, `":secret:team-a/skills/*"`) || strings.Contains(doc, "alexa/skill-messaging") {
		t.Errorf("policy %s does not scope the skill secrets to team-a/skills/", doc)
	}
	// So do the rotation schedules' interval and the reader policy.
	for id, r := range s.resources("AWS::SecretsManager::RotationSchedule") {
		if got := toJSON(r["Properties"].(map[string]any)["RotationRules"]); got != `{"AutomaticallyAfterDays":7}` {
			t.Errorf("rotation schedule %s RotationRules = %s; want 7 days", id, got)
		}
	}
	if n := len(s.resources("AWS::SecretsManager::RotationSchedule")); n != 2 {
		t.Errorf("%d rotation schedules; want 2", n)
	}
	_, reader := s.only(t, "AWS::IAM::ManagedPolicy")
	if doc := toJSON(reader["PolicyDocument"]); !strings.Contains(doc, `":secret:team-a/skills/*"`) || strings.Contains(doc, "alexa/skill-messaging") {
		t.Errorf("reader policy %s does not scope the skill secrets to team-a/skills/", doc)
	}
	assertNoNagFindings(t, s)
}

// TestSkillSecretLogicalIDs checks that a skill's secret keeps its logical id
// when other skills are added or reordered: a new id would make
// CloudFormation create a second secret with the same name and fail.
func TestSkillSecretLogicalIDs(t *testing.T) {
	ids := func(skills ...any) map[string]string {
		s := synth(t, map[string]any{"skillIds": skills})
		out := map[string]string{}
		for id, r := range s.resources("AWS::SecretsManager::Secret") {
			out[r["Properties"].(map[string]any)["Name"].(string)] = id
		}
		return out
	}
	a := ids(testSkillID)
	b := ids(testLegacySkillID, testSkillID)
	name := DefaultSkillSecretPrefix + testSkillID
	if a[name] == "" || a[name] != b[name] {
		t.Errorf("logical id of %s: %q alone, %q after adding a skill; want equal", name, a[name], b[name])
	}
}

func TestNoSuccessAlarmForCron(t *testing.T) {
	s := synth(t, map[string]any{"schedule": "cron(0/15 9-17 ? * MON-FRI *)"})
	_, rule := s.only(t, "AWS::Events::Rule")
	if rule["ScheduleExpression"] != "cron(0/15 9-17 ? * MON-FRI *)" {
		t.Errorf("ScheduleExpression = %v", rule["ScheduleExpression"])
	}
	// Friday 17:45 to Monday 09:00 is 63h15m; twice that over 6 periods.
	assertAlarms(t, s, 21*time.Hour+5*time.Minute, 6)
}

// assertAlarms checks the notifying alarms and what they watch, for a
// schedule whose alarm window is periods × period.
func assertAlarms(t *testing.T, s *synthesized, period time.Duration, periods int) {
	t.Helper()
	fnID, _ := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	queueID, _ := s.named(t, "AWS::SQS::Queue", "ScheduleDeadLetterQueue")
	topicID, _ := s.only(t, "AWS::SNS::Topic")
	fnDim := []any{map[string]any{"Name": "FunctionName", "Value": ref(fnID)}}
	window := map[string]any{
		"Period": float64(period / time.Second), "EvaluationPeriods": float64(periods), "DatapointsToAlarm": float64(periods),
	}
	with := func(m map[string]any, extra map[string]any) map[string]any {
		out := maps.Clone(m)
		maps.Copy(out, extra)
		return out
	}
	want := map[string]map[string]any{
		// The last full run could not complete: fires on the first such
		// run, recovers on the first full run that completes, and keeps
		// its state between runs (ignore).
		"SyncRunFailedAlarm": {
			"Namespace": "AlexaSkillCredentials", "MetricName": "FullRunFailed", "Statistic": "Maximum", "Dimensions": fnDim,
			"Period": float64(300), "EvaluationPeriods": float64(1),
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": float64(1), "TreatMissingData": "ignore",
		},
		// No full run reported at all in the window: no data breaches.
		"NoFullSyncRunAlarm": with(window, map[string]any{
			"Namespace": "AlexaSkillCredentials", "MetricName": "FullRunFailed", "Statistic": "SampleCount", "Dimensions": fnDim,
			"ComparisonOperator": "LessThanThreshold", "Threshold": float64(1), "TreatMissingData": "breaching",
		}),
		// Skills failed in every full run of the window; a stopped run
		// reports no count, so it neither raises nor clears it.
		"SkillsFailingAlarm": with(window, map[string]any{
			"Namespace": "AlexaSkillCredentials", "MetricName": "FullRunSkillsFailed", "Statistic": "Minimum", "Dimensions": fnDim,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": float64(1), "TreatMissingData": "ignore",
		}),
		"DeadLetterQueueAlarm": {
			"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum", "Period": float64(300),
			"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": getAtt(queueID, "QueueName")}},
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": float64(1), "EvaluationPeriods": float64(1),
			"TreatMissingData": "ignore",
		},
	}
	alarms := s.resources("AWS::CloudWatch::Alarm")
	if len(alarms) != len(want) {
		t.Errorf("%d alarms; want %d: %v", len(alarms), len(want), slices.Sorted(maps.Keys(alarms)))
	}
	ids := map[string]string{}
	for prefix, w := range want {
		id, p := s.named(t, "AWS::CloudWatch::Alarm", prefix)
		ids[prefix] = id
		for k, v := range w {
			if !reflect.DeepEqual(p[k], v) {
				t.Errorf("%s %s = %s; want %s", prefix, k, toJSON(p[k]), toJSON(v))
			}
		}
		// Only the composite notifies for its two children.
		notifies := prefix == "SkillsFailingAlarm" || prefix == "DeadLetterQueueAlarm"
		for _, actions := range []string{"AlarmActions", "OKActions"} {
			if got := p[actions]; notifies != reflect.DeepEqual(got, []any{ref(topicID)}) || (!notifies && got != nil) {
				t.Errorf("%s %s = %s; want the topic: %v", prefix, actions, toJSON(got), notifies)
			}
		}
		if p["InsufficientDataActions"] != nil {
			t.Errorf("%s InsufficientDataActions = %s; want none", prefix, toJSON(p["InsufficientDataActions"]))
		}
	}
	_, composite := s.only(t, "AWS::CloudWatch::CompositeAlarm")
	rule := map[string]any{"Fn::Join": []any{"", []any{
		`(ALARM("`, getAtt(ids["SyncRunFailedAlarm"], "Arn"), `") OR ALARM("`, getAtt(ids["NoFullSyncRunAlarm"], "Arn"), `"))`,
	}}}
	if !reflect.DeepEqual(composite["AlarmRule"], rule) {
		t.Errorf("SyncRunAlarm AlarmRule = %s; want %s", toJSON(composite["AlarmRule"]), toJSON(rule))
	}
	for _, actions := range []string{"AlarmActions", "OKActions"} {
		if !reflect.DeepEqual(composite[actions], []any{ref(topicID)}) {
			t.Errorf("SyncRunAlarm %s = %s; want the topic", actions, toJSON(composite[actions]))
		}
	}
	// No alarm watches a metric every run emits (a {"skillIds"} run must
	// not clear them) or Lambda's Errors (a pair of notifications per run).
	for id, a := range alarms {
		switch a["Properties"].(map[string]any)["MetricName"] {
		case "SyncSucceeded", "SkillsFailed", "Errors":
			t.Errorf("alarm %s watches %v", id, a["Properties"].(map[string]any)["MetricName"])
		}
	}
}

// TestCdkNag fails on any unsuppressed AwsSolutions error or warning, and on
// a suppression without a specific reason.
func TestCdkNag(t *testing.T) {
	assertNoNagFindings(t, synth(t, nil))
}

// TestNagSuppressionsAreNeeded checks that every cdk-nag suppression of the
// stack still suppresses a finding: cdk-nag, told to log what it ignores,
// must report each suppressed rule (and each appliesTo finding) with the
// suppression's reason. A suppression left behind by a change would hide
// the next real finding of its rule.
func TestNagSuppressionsAreNeeded(t *testing.T) {
	for name, overrides := range map[string]map[string]any{"defaults": nil, "every key set": fullContext} {
		t.Run(name, func(t *testing.T) {
			ctx := maps.Clone(overrides)
			if ctx == nil {
				ctx = map[string]any{}
			}
			ctx["aws:cdk:enable-path-metadata"] = true // to find each resource's annotations
			app := newTestApp(t, ctx)
			cfg, err := LoadConfig(app.Node())
			if err != nil {
				t.Fatal(err)
			}
			stack := newApp(app, cfg, fakeCodeDir(t, "stand-in bootstrap for tests\n"), &cdknag.NagPackProps{Verbose: jsii.Bool(true), LogIgnores: jsii.Bool(true)})
			tmpl := templateOf(t, stack)
			ignored := map[string][]string{} // construct path -> messages
			for _, m := range *assertions.Annotations_FromStack(stack).FindInfo(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("CdkNagSuppression"))) {
				// Read through JSON: the Go fields of SynthesisMessage are
				// deprecated.
				var msg struct {
					ID    string `json:"id"`
					Entry struct {
						Data any `json:"data"`
					} `json:"entry"`
				}
				if err := json.Unmarshal([]byte(toJSON(m)), &msg); err != nil || msg.ID == "" {
					t.Fatalf("annotation %s: %v", toJSON(m), err)
				}
				ignored[msg.ID] = append(ignored[msg.ID], fmt.Sprint(msg.Entry.Data))
			}
			n := 0
			for id, r := range (*tmpl.ToJSON())["Resources"].(map[string]any) {
				md, _ := r.(map[string]any)["Metadata"].(map[string]any)
				path, _ := md["aws:cdk:path"].(string)
				nag, _ := md["cdk_nag"].(map[string]any)
				rules, _ := nag["rules_to_suppress"].([]any)
				for _, rule := range rules {
					rule := rule.(map[string]any)
					findings := []string{""}
					if applies, ok := rule["applies_to"].([]any); ok {
						findings = findings[:0]
						for _, a := range applies {
							findings = append(findings, a.(string))
						}
					}
					for _, f := range findings {
						n++
						head, reason := "CdkNagSuppression: ", rule["reason"].(string)
						if f != "" {
							head, reason = "CdkNagSuppression["+f+"]: ", "["+f+"] "+reason
						}
						want := head + rule["id"].(string) + " was triggered but suppressed. Provided reason: \"" + reason + "\""
						if !slices.ContainsFunc(ignored["/"+path], func(m string) bool { return strings.HasPrefix(m, want) }) {
							t.Errorf("%s: suppression of %s %q suppresses nothing; remove it", id, rule["id"], f)
						}
					}
				}
			}
			if n == 0 {
				t.Fatal("no suppressions found; was the metadata renamed?")
			}
		})
	}
}

func assertNoNagFindings(t *testing.T, s *synthesized) {
	t.Helper()
	annotations := assertions.Annotations_FromStack(s.stack)
	anyNag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, m := range *annotations.FindError(jsii.String("*"), anyNag) {
		t.Errorf("cdk-nag error: %s", toJSON(m))
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), anyNag) {
		t.Errorf("cdk-nag warning: %s", toJSON(m))
	}
	var suppressions int
	for id, r := range s.json["Resources"].(map[string]any) {
		md, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nag, _ := md["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, rule := range rules {
			rule := rule.(map[string]any)
			suppressions++
			if reason, _ := rule["reason"].(string); len(reason) < 60 {
				t.Errorf("%s suppresses %v with reason %q; want a specific reason", id, rule["id"], reason)
			}
		}
	}
	if suppressions == 0 {
		t.Error("no cdk-nag suppressions found; was the metadata renamed?")
	}
}

// TestAssetHash checks that the function asset is addressed by the content of
// the built binary: equal content gives the same S3 key wherever it was
// built, different content a different key.
func TestAssetHash(t *testing.T) {
	key := func(dir string) string {
		app := newTestApp(t, nil)
		cfg, err := LoadConfig(app.Node())
		if err != nil {
			t.Fatal(err)
		}
		stack := NewSkillCredentialsStack(app, "Test", &SkillCredentialsStackProps{Config: cfg, FunctionCodeDir: dir})
		tmpl := templateOf(t, stack)
		for id, r := range (*tmpl.ToJSON())["Resources"].(map[string]any) {
			if r := r.(map[string]any); r["Type"] == "AWS::Lambda::Function" && strings.HasPrefix(id, "SyncFunction") {
				return r["Properties"].(map[string]any)["Code"].(map[string]any)["S3Key"].(string)
			}
		}
		t.Fatal("no function")
		return ""
	}
	a := key(fakeCodeDir(t, "binary v1"))
	b := key(fakeCodeDir(t, "binary v1"))
	c := key(fakeCodeDir(t, "binary v2"))
	if a != b {
		t.Errorf("same binary in two directories: S3 keys %s and %s; want equal", a, b)
	}
	if a == c {
		t.Errorf("different binaries: both S3 key %s; want different", a)
	}
}

// assertKeptExceptOnCreate checks that resource r survives a stack update
// or deletion but not the rollback of a failed first create, so a failed
// first deploy leaves no secret or key behind to clash with the next one.
func assertKeptExceptOnCreate(t *testing.T, what string, r map[string]any) {
	t.Helper()
	if r["DeletionPolicy"] != "RetainExceptOnCreate" || r["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("%s DeletionPolicy %v UpdateReplacePolicy %v; want RetainExceptOnCreate and Retain", what, r["DeletionPolicy"], r["UpdateReplacePolicy"])
	}
}

func lwaSecretID(t *testing.T, s *synthesized) string {
	t.Helper()
	for id, r := range s.resources("AWS::SecretsManager::Secret") {
		if strings.Contains(r["Properties"].(map[string]any)["SecretString"].(string), `"refreshToken"`) {
			return id
		}
	}
	t.Fatal("no LWA secret")
	return ""
}

// roleStatements returns every statement of the policies attached to roleID.
func roleStatements(t *testing.T, s *synthesized, roleID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range s.resources("AWS::IAM::Policy") {
		p := r["Properties"].(map[string]any)
		if !slices.ContainsFunc(p["Roles"].([]any), func(v any) bool { return reflect.DeepEqual(v, ref(roleID)) }) {
			continue
		}
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	if len(out) == 0 {
		t.Fatal("no policy attached to the function role")
	}
	return out
}

// TestDashboard checks that the dashboard shows what an operator needs and
// that the outputs link to it.
func TestDashboard(t *testing.T) {
	s := synth(t, nil)
	dashID, dash := s.only(t, "AWS::CloudWatch::Dashboard")
	fnID, _ := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	logsID, _ := s.named(t, "AWS::Logs::LogGroup", "SyncFunctionLogs")
	dlqID, _ := s.named(t, "AWS::SQS::Queue", "ScheduleDeadLetterQueue")
	failedRunsID, _ := s.named(t, "AWS::SQS::Queue", "FailedRunsQueue")
	body := toJSON(dash["DashboardBody"])
	for _, want := range []string{
		// runs and their outcome
		`\"AWS/Lambda\",\"Invocations\"`, `\"AWS/Lambda\",\"Errors\"`, `\"SyncSucceeded\"`, `\"FullRunFailed\"`, `\"SkillsNotStarted\"`,
		// skills updated / unchanged / failed
		`\"SkillsUpdated\"`, `\"SkillsUnchanged\"`, `\"SkillsFailed\"`,
		// duration, SMAPI throttling
		`\"AWS/Lambda\",\"Duration\"`, `\"SMAPIRetries\"`, `\"SMAPIThrottled\"`,
		// both queues' depth
		toJSON(getAtt(dlqID, "QueueName")), toJSON(getAtt(failedRunsID, "QueueName")),
		// the function's metrics and logs, not another's
		toJSON(ref(fnID)), toJSON(ref(logsID)),
		// the alarms
		`\"type\":\"alarm\"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard body does not contain %s:\n%s", want, body)
		}
	}
	// The last runs, and the last failed skills with their errors and
	// request ids, from the function's log group.
	var queries []string
	for _, w := range dashboardWidgets(t, dash["DashboardBody"]) {
		if w.Type == "log" {
			queries = append(queries, w.Properties["query"].(string))
		}
	}
	for _, q := range []string{lastFailuresQuery, lastRunsQuery} {
		if !slices.Contains(queries, "SOURCE '<"+logsID+">' | "+q) {
			t.Errorf("dashboard log queries %q; want %q on the function's log group", queries, q)
		}
	}
	for _, f := range []string{"skill_id", "error", "request_id", `status = \"failed\"`} {
		if !strings.Contains(lastFailuresQuery, strings.ReplaceAll(f, `\"`, `"`)) {
			t.Errorf("last failures query %q lacks %s", lastFailuresQuery, f)
		}
	}
	url := toJSON(s.outputs()["DashboardUrl"]["Value"])
	if !strings.Contains(url, "https://console.aws.amazon.com/cloudwatch/home?region=") || !strings.Contains(url, "#dashboards/dashboard/") || !strings.Contains(url, toJSON(ref(dashID))) {
		t.Errorf("DashboardUrl = %s; want a console link to dashboard %s", url, dashID)
	}
}

// dashboardWidgets decodes a DashboardBody (an Fn::Join of JSON text and
// references), with each reference written as "<logical id>".
func dashboardWidgets(t *testing.T, body any) []struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
} {
	t.Helper()
	var text strings.Builder
	for _, part := range body.(map[string]any)["Fn::Join"].([]any)[1].([]any) {
		switch p := part.(type) {
		case string:
			text.WriteString(p)
		case map[string]any:
			if r, ok := p["Ref"].(string); ok {
				text.WriteString("<" + r + ">")
			} else {
				text.WriteString("<" + p["Fn::GetAtt"].([]any)[0].(string) + ">")
			}
		}
	}
	var doc struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(text.String()), &doc); err != nil {
		t.Fatalf("dashboard body %s: %v", text.String(), err)
	}
	return doc.Widgets
}

// named0 returns the logical id of the single resource of typ.
func (s *synthesized) named0(t *testing.T, typ string) string {
	t.Helper()
	id, _ := s.only(t, typ)
	return id
}
