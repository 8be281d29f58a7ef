package credsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/redacttest"
)

// lwaValue is the LWA secret's value with each key's value as given.
func lwaValue(clientID, clientSecret, refreshToken string) string {
	b, _ := json.Marshal(map[string]string{"clientId": clientID, "clientSecret": clientSecret, "refreshToken": refreshToken, "owner": "team-a"})
	return string(b)
}

// assertNoLeak checks the run's outputs for the LWA secrets in every form
// redacttest knows (as is, and their bytes in decimal, hex, …).
func (e *env) assertNoLeak(sum *Summary, err error, secrets ...string) {
	e.t.Helper()
	outputs := map[string]string{"logs": e.logs.String(), "summary": toJSON(sum)}
	if err != nil {
		outputs["error"] = err.Error()
	}
	for what, out := range outputs {
		for _, s := range secrets {
			if form := redacttest.Leak(out, "%v", strings.TrimSpace(s)); form != "" {
				e.t.Errorf("%s shows a secret (%s):\n%s", what, form, out)
			}
		}
	}
}

// TestLWASecretWhitespace: a newline or space pasted around a value of the
// LWA secret is removed before use (the fake LWA, like LWA, refuses a value
// with it), with a warning naming the key and never the value; the run
// succeeds and no LWA secret is printed anywhere.
func TestLWASecretWhitespace(t *testing.T) {
	for _, tc := range []struct {
		name, key, pasted string
	}{
		{"clientId trailing newline", "clientId", lwaClientID + "\n"},
		{"clientId leading space", "clientId", " " + lwaClientID},
		{"clientSecret trailing newline", "clientSecret", lwaClientSecret + "\n"},
		{"clientSecret CRLF", "clientSecret", lwaClientSecret + "\r\n"},
		{"clientSecret spaces", "clientSecret", "  " + lwaClientSecret + " "},
		{"refreshToken trailing newline", "refreshToken", lwaRefreshToken + "\n"},
		{"refreshToken tab", "refreshToken", "\t" + lwaRefreshToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, 2)
			values := map[string]string{"clientId": lwaClientID, "clientSecret": lwaClientSecret, "refreshToken": lwaRefreshToken}
			values[tc.key] = tc.pasted
			if _, err := e.api.PutSecretValue(t.Context(), putValue(e.lwaID, lwaValue(values["clientId"], values["clientSecret"], values["refreshToken"]))); err != nil {
				t.Fatal(err)
			}
			sum, err := e.run(`{}`) // checks logs, summary and error for the secrets too
			if err != nil {
				t.Fatalf("run with whitespace around %s: %v", tc.key, err)
			}
			wantCounts(t, sum, 2, 2, 0, 0)
			e.assertNoLeak(sum, err, lwaClientSecret, lwaRefreshToken)

			var warnings []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				if m["level"] == "WARN" {
					warnings = append(warnings, m)
				}
			}
			if len(warnings) != 1 || warnings[0]["msg"] != "LWA secret value repaired" || warnings[0]["key"] != tc.key || warnings[0]["secret_id"] != e.lwaID ||
				!strings.Contains(fmt.Sprint(warnings[0]["problem"]), "whitespace") {
				t.Fatalf("warnings = %v; want one naming key %s of %s", warnings, tc.key, e.lwaID)
			}
			// The operator's value is not rewritten behind their back.
			if n := e.versions(e.lwaID); n != 2 {
				t.Errorf("LWA secret has %d versions; want 2 (nothing written by the run)", n)
			}
		})
	}
}

// TestLWARefusalHints: LWA's invalid_client sends the operator to the
// security profile's client id and secret, invalid_grant to the refresh
// token; neither points at the other, and both keep LWA's error for
// errors.As and name the LWA secret.
func TestLWARefusalHints(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		clientID, secret, token string
		code                    string
		want                    []string
		wantNot                 string
	}{
		{"wrong client secret", lwaClientID, "other-client-secret-NEVER-PRINTED", lwaRefreshToken, "invalid_client",
			[]string{"check clientId and clientSecret in", "security profile"}, "refreshToken"},
		{"unknown client id", "amzn1.application-oa2-client.other", lwaClientSecret, lwaRefreshToken, "invalid_client",
			[]string{"check clientId and clientSecret in", "security profile"}, "refreshToken"},
		{"refused refresh token", lwaClientID, lwaClientSecret, "Atzr|revoked-NEVER-PRINTED", "invalid_grant",
			[]string{"replace the refreshToken in", "alexa::ask:skills:readwrite"}, "clientSecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			if _, err := e.api.PutSecretValue(t.Context(), putValue(e.lwaID, lwaValue(tc.clientID, tc.secret, tc.token))); err != nil {
				t.Fatal(err)
			}
			sum, err := e.run(`{}`)
			var api *smapi.APIError
			if !errors.As(err, &api) || api.Code != tc.code {
				t.Fatalf("err = %v; want LWA's %s", err, tc.code)
			}
			msg := err.Error()
			for _, w := range append(tc.want, tc.code, e.lwaID, "no skill secret was touched", "request id") {
				if !strings.Contains(msg, w) {
					t.Errorf("err = %q; want %q in it", msg, w)
				}
			}
			if strings.Contains(msg, tc.wantNot) {
				t.Errorf("err = %q; it names %s, which is not what LWA refused", msg, tc.wantNot)
			}
			e.assertNoLeak(sum, err, lwaClientSecret, lwaRefreshToken, tc.secret, tc.token)
			if n := e.fake.SkillRequests(skill(1)); n != 0 {
				t.Errorf("%d SMAPI requests after LWA refused; want 0", n)
			}
		})
	}
}
