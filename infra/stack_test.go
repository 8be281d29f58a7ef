package main

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
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
	"readerRoleArns":    []any{testReaderRole},
}

// TestStackDefaults synthesizes cdk.json as committed and checks everything
// the stack promises.
func TestStackDefaults(t *testing.T) {
	s := synth(t, nil)

	keyID, keyProps := s.only(t, "AWS::KMS::Key")
	lwaID := lwaSecretID(t, s)
	fnID, fn := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	logsID, logs := s.named(t, "AWS::Logs::LogGroup", "SyncFunctionLogs")
	queueID, queue := s.only(t, "AWS::SQS::Queue")
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
		s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
			"FunctionName":         ref(fnID),
			"MaximumRetryAttempts": float64(2),
		})
	})

	t.Run("dead-letter queue", func(t *testing.T) {
		if !reflect.DeepEqual(queue["KmsMasterKeyId"], getAtt(keyID, "Arn")) {
			t.Errorf("queue KmsMasterKeyId = %s; want the stack's key", toJSON(queue["KmsMasterKeyId"]))
		}
		_, policy := s.only(t, "AWS::SQS::QueuePolicy")
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
		if keyProps["EnableKeyRotation"] != true {
			t.Errorf("key EnableKeyRotation = %v; want true", keyProps["EnableKeyRotation"])
		}
		if !reflect.DeepEqual(topic["KmsMasterKeyId"], getAtt(keyID, "Arn")) {
			t.Errorf("topic KmsMasterKeyId = %s; want the stack's key", toJSON(topic["KmsMasterKeyId"]))
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

	t.Run("key policy", func(t *testing.T) {
		stmts := keyProps["KeyPolicy"].(map[string]any)["Statement"].([]any)
		for _, service := range []string{"events.amazonaws.com", "cloudwatch.amazonaws.com"} {
			var found []any
			for _, st := range stmts {
				st := st.(map[string]any)
				if reflect.DeepEqual(st["Principal"], map[string]any{"Service": service}) {
					found = append(found, st)
				}
			}
			if len(found) != 1 {
				t.Errorf("%d key policy statements for %s; want 1", len(found), service)
				continue
			}
			st := found[0].(map[string]any)
			if got := asStrings(st["Action"]); !reflect.DeepEqual(got, []any{"kms:Decrypt", "kms:GenerateDataKey"}) {
				t.Errorf("key policy actions for %s = %v; want [kms:Decrypt kms:GenerateDataKey]", service, got)
			}
			if st["Effect"] != "Allow" || st["Resource"] != "*" {
				t.Errorf("key policy statement for %s = %s; want Allow on the key (*)", service, toJSON(st))
			}
			// No condition: AWS's examples for these deliveries have none,
			// and a service that does not send aws:SourceAccount would be
			// denied silently.
			if st["Condition"] != nil {
				t.Errorf("key policy condition for %s = %s; want none", service, toJSON(st["Condition"]))
			}
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
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("LWA secret DeletionPolicy %v UpdateReplacePolicy %v; want Retain", r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
		if n := len(s.resources("AWS::SecretsManager::Secret")); n != 1 {
			t.Errorf("%d secrets with no skillIds; want only the LWA secret", n)
		}
	})

	t.Run("alarms", func(t *testing.T) {
		alarms := s.resources("AWS::CloudWatch::Alarm")
		if len(alarms) != 3 {
			t.Fatalf("%d alarms; want 3", len(alarms))
		}
		want := []map[string]any{
			{
				"Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": float64(300),
				"Dimensions":         []any{map[string]any{"Name": "FunctionName", "Value": ref(fnID)}},
				"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": float64(1), "EvaluationPeriods": float64(1),
				"TreatMissingData": "notBreaching",
			},
			{
				"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum", "Period": float64(300),
				"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": getAtt(queueID, "QueueName")}},
				"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": float64(1), "EvaluationPeriods": float64(1),
				"TreatMissingData": "notBreaching",
			},
			{
				"Namespace": "AlexaSkillCredentials", "MetricName": "SyncSucceeded", "Statistic": "Sum", "Period": float64(86400),
				"Dimensions":         []any{map[string]any{"Name": "FunctionName", "Value": ref(fnID)}},
				"ComparisonOperator": "LessThanThreshold", "Threshold": float64(1), "EvaluationPeriods": float64(1), "DatapointsToAlarm": float64(1),
				"TreatMissingData": "breaching",
			},
		}
		for i, w := range want {
			var match bool
			for _, a := range alarms {
				p := a["Properties"].(map[string]any)
				if p["MetricName"] != w["MetricName"] {
					continue
				}
				match = true
				for k, v := range w {
					if !reflect.DeepEqual(p[k], v) {
						t.Errorf("alarm %d (%s) %s = %s; want %s", i, w["MetricName"], k, toJSON(p[k]), toJSON(v))
					}
				}
				for _, actions := range []string{"AlarmActions", "OKActions"} {
					if !reflect.DeepEqual(p[actions], []any{ref(topicID)}) {
						t.Errorf("alarm %s %s = %s; want the topic", w["MetricName"], actions, toJSON(p[actions]))
					}
				}
			}
			if !match {
				t.Errorf("no alarm on %s", w["MetricName"])
			}
		}
		if n := len(s.resources("AWS::SNS::Subscription")); n != 0 {
			t.Errorf("%d topic subscriptions without alarmEmail; want 0", n)
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
			"KeyArn":                getAtt(keyID, "Arn"),
			"FillLwaSecretCommand": map[string]any{"Fn::Join": []any{"", []any{
				"aws secretsmanager put-secret-value --region ", ref("AWS::Region"),
				" --secret-id ", ref(lwaID), " --secret-string file://lwa-secret.json",
			}}},
			"NextSteps": map[string]any{"Fn::Join": []any{"", []any{
				"If the LWA secret still holds its placeholder (first deploy: the deploy-time sync skipped every skill), " +
					"write lwa-secret.json as the README section Deploy shows (step 4), store it with: aws secretsmanager put-secret-value --region ",
				ref("AWS::Region"), " --secret-id ", ref(lwaID),
				" --secret-string file://lwa-secret.json ; delete the file, then run: make sync (invokes ", ref(fnID),
				" and prints the summary; it fails if a skill failed).",
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
	keyID, _ := s.only(t, "AWS::KMS::Key")
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
	s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"MetricName": "SyncSucceeded", "Period": float64(12 * 3600), "EvaluationPeriods": float64(1),
	})

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
				if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
					t.Errorf("skill secret %s is not retained: %v/%v", skillID, r["DeletionPolicy"], r["UpdateReplacePolicy"])
				}
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
	s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"MetricName":        "SyncSucceeded",
		"Period":            float64(21*3600 + 5*60),
		"EvaluationPeriods": float64(6),
		"DatapointsToAlarm": float64(6),
		"TreatMissingData":  "breaching",
	})
}

// TestCdkNag fails on any unsuppressed AwsSolutions error or warning, and on
// a suppression without a specific reason.
func TestCdkNag(t *testing.T) {
	assertNoNagFindings(t, synth(t, nil))
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
