package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestOperatorOutputs checks the outputs docs/operations.md relies on, with
// a prefix other than the default: the function's ARN, the dead-letter
// queue's URL and the command listing every secret under the configured
// prefix (never a default name). make list-secrets runs the same query.
func TestOperatorOutputs(t *testing.T) {
	s := synth(t, map[string]any{"skillSecretPrefix": "agency-b/skills/", "lwaSecretName": "agency-b/lwa"})
	fnID, _ := s.named(t, "AWS::Lambda::Function", "SyncFunction")
	dlqID, _ := s.named(t, "AWS::SQS::Queue", "ScheduleDeadLetterQueue")
	out := s.outputs()
	want := map[string]any{
		"SyncFunctionArn":    getAtt(fnID, "Arn"),
		"DeadLetterQueueUrl": ref(dlqID),
		"ListSkillSecretsCommand": map[string]any{"Fn::Join": []any{"", []any{
			"aws secretsmanager list-secrets --region ", ref("AWS::Region"),
			" --filters Key=name,Values='agency-b/skills/' --query '" + listSkillSecretsQuery + "' --output text",
		}}},
	}
	for id, v := range want {
		if got := out[id]["Value"]; !reflect.DeepEqual(got, v) {
			t.Errorf("output %s = %s; want %s", id, toJSON(got), toJSON(v))
		}
	}

	mk, err := os.ReadFile("infra.mk")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "--query '"+listSkillSecretsQuery+"'") {
		t.Errorf("infra.mk's list-secrets does not run --query '%s', the ListSkillSecretsCommand output's", listSkillSecretsQuery)
	}
}
