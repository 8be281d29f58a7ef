package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/logbuf"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const (
	skillID      = "amzn1.ask.skill.5a6b7c8d-1a2b-4c3d-8e4f-9a8b7c6d5e4f"
	otherSkill   = "amzn1.ask.skill.6b7c8d9e-1a2b-4c3d-8e4f-9a8b7c6d5e4f"
	clientID     = "amzn1.application-oa2-client.skill-lambda"
	clientSecret = "skill-lambda-secret-NEVER-PRINTED"
	prefix       = "alexa/skill-messaging/"
	userID       = "amzn1.ask.account.AEXAMPLESKILLLAMBDAUSER"
)

// TestSendsMessageEndToEnd wires the function as main does, against moto's
// Secrets Manager and the fake LWA and Alexa API, and sends messages.
func TestSendsMessageEndToEnd(t *testing.T) {
	ctx := context.Background()
	moto := motoserver.StartT(t)
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	fake := skillmessagingtest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetSkill(skillID, clientID, clientSecret)
	fake.AddUser(userID)

	api := moto.SecretsManager()
	for name, value := range map[string]string{
		prefix + skillID:    fmt.Sprintf(`{"skillId":%q,"clientId":%q,"clientSecret":%q}`, skillID, clientID, clientSecret),
		prefix + otherSkill: fmt.Sprintf(`{"skillId":%q}`, otherSkill),
	} {
		if _, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		env     map[string]string
		event   string
		wantErr error  // from Handle
		wantLog string // in the log line
	}{
		{name: "prefix", env: map[string]string{"SKILL_SECRET_PREFIX": prefix},
			event: `{"userId":%q,"apiEndpoint":%q,"data":{"event":"order-shipped","order":"42"},"expiresAfterSeconds":600}`, wantLog: `"msg":"message sent"`},
		{name: "full secret name and default endpoint", env: map[string]string{"SKILL_SECRET_ID": prefix + skillID, "ALEXA_API_ENDPOINT": "%s"},
			event: `{"userId":%[1]q,"data":{"event":"order-shipped","order":"42"},"expiresAfterSeconds":600}`, wantLog: `"msg":"message sent"`},
		{name: "unknown user", env: map[string]string{"SKILL_SECRET_PREFIX": prefix},
			event: `{"userId":"amzn1.ask.account.NOBODY","apiEndpoint":%[2]q}`, wantErr: skillmessaging.ErrUnknownUser, wantLog: `"msg":"message not sent"`},
		{name: "not synced", env: map[string]string{"SKILL_ID": otherSkill, "SKILL_SECRET_PREFIX": prefix},
			event: `{"userId":%q,"apiEndpoint":%q}`, wantErr: skillmessaging.ErrNotSynced, wantLog: `not synced yet`},
		// The payload names where the token goes: only Amazon's Alexa API
		// hosts (and loopback, for this test) are accepted.
		{name: "endpoint outside the Alexa API hosts", env: map[string]string{"SKILL_SECRET_PREFIX": prefix},
			event: `{"userId":%[1]q,"apiEndpoint":"https://collector.attacker.example"}`, wantErr: skillmessaging.ErrInvalidEndpoint, wantLog: `only to Amazon's Alexa API hosts`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake.ResetLog()
			before := len(fake.Messages())
			env := map[string]string{"SKILL_ID": skillID, "LWA_TOKEN_URL": fake.TokenURL()}
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "%s", fake.Endpoint())
			}
			var logs logbuf.Buffer
			h, err := setup(ctx, func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("setup = %v; want a handler", err)
			}
			var ev Event
			if err := json.Unmarshal(fmt.Appendf(nil, tc.event, userID, fake.Endpoint()), &ev); err != nil {
				t.Fatal(err)
			}
			res, err := h.Handle(ctx, ev)
			out := logs.String()
			if err != nil {
				out += err.Error()
			}
			if res != nil {
				b, _ := json.Marshal(res)
				out += string(b)
			}
			if strings.Contains(out, "NEVER-PRINTED") || strings.Contains(out, "Atc|") {
				t.Fatalf("output holds a secret or token: %s", out)
			}
			if !strings.Contains(out, tc.wantLog) {
				t.Errorf("logs = %s; want %s", out, tc.wantLog)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Handle(%s) = %v; want %v", tc.event, err, tc.wantErr)
				}
				if tc.wantErr == skillmessaging.ErrInvalidEndpoint && len(fake.Requests()) != 0 {
					t.Fatalf("a refused endpoint still made %d requests (%+v); want none, not even for a token", len(fake.Requests()), fake.Requests())
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle(%s) = %v; want the message sent", tc.event, err)
			}
			msgs := fake.Messages()
			if len(msgs) != before+1 {
				t.Fatalf("the fake accepted %d messages; want 1", len(msgs)-before)
			}
			m := msgs[len(msgs)-1]
			if m.SkillID != skillID || m.UserID != userID || string(m.Data) != `{"event":"order-shipped","order":"42"}` || m.ExpiresAfterSeconds != 600 {
				t.Fatalf("the fake received %+v; want the event's message from %s to %s", m, skillID, userID)
			}
			if res.RequestID != m.RequestID || res.Attempts != 1 || !strings.Contains(out, `"request_id":"`+m.RequestID+`"`) {
				t.Fatalf("Handle = %+v, logs %s; want request id %s logged and returned", res, out, m.RequestID)
			}
		})
	}
}

func TestSetupRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no skill id", map[string]string{"SKILL_SECRET_PREFIX": prefix}, "SKILL_ID"},
		{"no secret", map[string]string{"SKILL_ID": skillID}, "SKILL_SECRET_PREFIX"},
		{"both secrets", map[string]string{"SKILL_ID": skillID, "SKILL_SECRET_PREFIX": prefix, "SKILL_SECRET_ID": "x"}, "exactly one"},
		{"invalid skill id", map[string]string{"SKILL_ID": "amzn1.ask.skill.x", "SKILL_SECRET_PREFIX": prefix}, "invalid skill id"},
		{"plain http token URL", map[string]string{"SKILL_ID": skillID, "SKILL_SECRET_PREFIX": prefix, "LWA_TOKEN_URL": "http://api.amazon.com/auth/o2/token"}, "LWA_TOKEN_URL"},
	}
	t.Setenv("AWS_REGION", "us-east-1")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := setup(context.Background(), func(k string) string { return tc.env[k] }, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("setup(%v) = %v; want an error naming %s", tc.env, err, tc.want)
			}
		})
	}
}
