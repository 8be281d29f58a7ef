package skillmessagingtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	msgSkill  = "amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
	msgUser   = "amzn1.ask.account.AFAKEUSER1"
	msgClient = "amzn1.application-oa2-client.msg"
	msgSecret = "skill-secret-NEVER-PRINTED"
)

func postToken(t *testing.T, s *Server, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m, resp.Header
}

func grant(t *testing.T, s *Server, scope string) string {
	t.Helper()
	status, body, _ := postToken(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {msgClient},
		"client_secret": {msgSecret}, "scope": {scope}})
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("client_credentials grant = %d %v; want 200 with a token", status, body)
	}
	return tok
}

// messagingFake is a fake that knows msgSkill and msgUser, and a valid
// messaging token for them.
func messagingFake(t *testing.T) (*Server, string) {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	s.SetSkill(msgSkill, msgClient, msgSecret)
	s.AddUser(msgUser)
	return s, grant(t, s, MessagingScope)
}

func TestGrant(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetSkill(msgSkill, msgClient, msgSecret)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {msgClient}, "client_secret": {msgSecret}, "scope": {MessagingScope}}
	status, body, h := postToken(t, s, form)
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" || h.Get("X-Amzn-RequestId") == "" || body["expires_in"] != float64(3600) || body["token_type"] != "bearer" {
		t.Fatalf("grant = %d %v; want LWA's answer with a request id", status, body)
	}
	if got, ok := s.TokenSkill(tok); !ok || got != msgSkill {
		t.Fatalf("TokenSkill = %q, %v; want %s", got, ok, msgSkill)
	}
	tests := []struct {
		name   string
		change func(url.Values)
		status int
		code   string
	}{
		{"wrong scope", func(f url.Values) { f.Set("scope", "alexa::ask:skills:readwrite") }, http.StatusBadRequest, "invalid_scope"},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, http.StatusUnauthorized, "invalid_client"},
		{"no secret", func(f url.Values) { f.Del("client_secret") }, http.StatusBadRequest, "invalid_request"},
		{"refresh grant", func(f url.Values) { f.Set("grant_type", "refresh_token") }, http.StatusBadRequest, "unsupported_grant_type"},
	}
	for _, tc := range tests {
		f := url.Values{}
		for k, v := range form {
			f[k] = append([]string(nil), v...)
		}
		tc.change(f)
		if status, body, _ := postToken(t, s, f); status != tc.status || body["error"] != tc.code {
			t.Errorf("%s = %d %v; want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	// After a rotation at Amazon the old credentials are refused.
	s.SetSkill(msgSkill, msgClient, "skill-secret-2")
	if status, body, _ := postToken(t, s, form); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("rotated-away credentials = %d %v; want 401 invalid_client", status, body)
	}
	s.ScriptToken(Fault{Status: http.StatusServiceUnavailable, Code: "server_error", Message: "try later", RetryAfter: "2"})
	if status, body, h := postToken(t, s, form); status != http.StatusServiceUnavailable || body["error"] != "server_error" || h.Get("Retry-After") != "2" {
		t.Fatalf("scripted fault = %d %v; want 503 server_error with Retry-After", status, body)
	}
}

func postMessage(t *testing.T, s *Server, token, userID, contentType, body string) (*http.Response, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Endpoint()+"/v1/skillmessages/users/"+url.PathEscape(userID), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

func TestSendMessage(t *testing.T) {
	const ok = `{"data":{"event":"order-shipped"},"expiresAfterSeconds":600}`
	big := `{"data":{"k":"` + strings.Repeat("x", MaxMessageDataBytes-7) + `"}}`
	fits := `{"data":{"k":"` + strings.Repeat("x", MaxMessageDataBytes-8) + `"}}`
	tests := []struct {
		name        string
		token       string // "valid", "expired", "unknown", "proactive" or ""
		user        string
		contentType string
		body        string
		fault       *Fault
		wantStatus  int
		wantRetry   string
	}{
		{name: "accepted", token: "valid", user: msgUser, body: ok, wantStatus: http.StatusAccepted},
		{name: "default expiry", token: "valid", user: msgUser, body: `{"data":{}}`, wantStatus: http.StatusAccepted},
		{name: "data at the limit", token: "valid", user: msgUser, body: fits, wantStatus: http.StatusAccepted},
		{name: "no token", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "unknown token", token: "unknown", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "expired token", token: "expired", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "token of another scope", token: "proactive", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "unknown user", token: "valid", user: "amzn1.ask.account.NOBODY", body: ok, wantStatus: http.StatusNotFound},
		{name: "not JSON", token: "valid", user: msgUser, body: `{"data":`, wantStatus: http.StatusBadRequest},
		{name: "wrong content type", token: "valid", user: msgUser, contentType: "text/plain", body: ok, wantStatus: http.StatusBadRequest},
		{name: "data missing", token: "valid", user: msgUser, body: `{"expiresAfterSeconds":600}`, wantStatus: http.StatusBadRequest},
		{name: "data not an object", token: "valid", user: msgUser, body: `{"data":"text"}`, wantStatus: http.StatusBadRequest},
		{name: "data value not a string", token: "valid", user: msgUser, body: `{"data":{"n":1}}`, wantStatus: http.StatusBadRequest},
		{name: "data nested", token: "valid", user: msgUser, body: `{"data":{"o":{"a":"b"}}}`, wantStatus: http.StatusBadRequest},
		{name: "data too large", token: "valid", user: msgUser, body: big, wantStatus: http.StatusBadRequest},
		{name: "expiry too short", token: "valid", user: msgUser, body: `{"data":{},"expiresAfterSeconds":59}`, wantStatus: http.StatusBadRequest},
		{name: "expiry too long", token: "valid", user: msgUser, body: `{"data":{},"expiresAfterSeconds":86401}`, wantStatus: http.StatusBadRequest},
		{name: "throttled", token: "valid", user: msgUser, body: ok, fault: &Fault{Status: http.StatusTooManyRequests, RetryAfter: "3", Message: "Rate exceeded."}, wantStatus: http.StatusTooManyRequests, wantRetry: "3"},
		{name: "server error", token: "valid", user: msgUser, body: ok, fault: &Fault{Status: http.StatusInternalServerError, Message: "Internal Server Error"}, wantStatus: http.StatusInternalServerError},
		{name: "scripted 403", token: "valid", user: msgUser, body: ok, fault: &Fault{Status: http.StatusForbidden, Message: msgForbidden}, wantStatus: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer()
			defer s.Close()
			s.SetSkill(msgSkill, msgClient, msgSecret)
			s.AddUser(msgUser)
			var token string
			switch tc.token {
			case "valid":
				token = grant(t, s, MessagingScope)
			case "proactive":
				token = grant(t, s, ProactiveEventsScope)
			case "expired":
				token = grant(t, s, MessagingScope)
				s.ExpireTokens()
			case "unknown":
				token = "Atc|not-issued"
			}
			if tc.fault != nil {
				s.ScriptMessages(*tc.fault)
			}
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			resp, m := postMessage(t, s, token, tc.user, ct, tc.body)
			reqID := resp.Header.Get("X-Amzn-RequestId")
			if resp.StatusCode != tc.wantStatus || reqID == "" {
				t.Fatalf("POST %s = %d (request id %q) %v; want %d with a request id", tc.name, resp.StatusCode, reqID, m, tc.wantStatus)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After = %q; want %q", got, tc.wantRetry)
			}
			if resp.StatusCode != http.StatusAccepted && m["message"] == "" {
				t.Errorf("error answer has no message")
			}
			msgs := s.Messages()
			if tc.wantStatus != http.StatusAccepted {
				if len(msgs) != 0 {
					t.Errorf("Messages() = %d messages after a refusal; want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 || msgs[0].SkillID != msgSkill || msgs[0].UserID != msgUser || msgs[0].RequestID != reqID {
				t.Fatalf("Messages() = %+v; want one message from %s to %s with request id %s", msgs, msgSkill, msgUser, reqID)
			}
			if s.MessageRequests() != 1 {
				t.Errorf("MessageRequests() = %d; want 1", s.MessageRequests())
			}
		})
	}
}

func TestMessageLog(t *testing.T) {
	s, token := messagingFake(t)
	if resp, _ := postMessage(t, s, token, msgUser, "application/json", `{"data":{"n":"1"},"expiresAfterSeconds":60}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first message = %d; want 202", resp.StatusCode)
	}
	if resp, _ := postMessage(t, s, token, msgUser, "application/json; charset=utf-8", `{"data":{"n":"2"}}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second message = %d; want 202", resp.StatusCode)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || string(msgs[0].Data) != `{"n":"1"}` || msgs[0].ExpiresAfterSeconds != 60 ||
		string(msgs[1].Data) != `{"n":"2"}` || msgs[1].ExpiresAfterSeconds != DefaultExpiresAfterSeconds {
		t.Fatalf("Messages() = %+v; want {n:1} for 60 s then {n:2} for the default", msgs)
	}
	s.RemoveUser(msgUser)
	if resp, _ := postMessage(t, s, token, msgUser, "application/json", `{"data":{}}`); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("message to a removed user = %d; want 404", resp.StatusCode)
	}
	for _, r := range s.Requests() {
		if strings.Contains(r.Path+r.ClientID+r.GrantType+r.Scope, token) || strings.Contains(r.Path+r.ClientID, msgSecret) {
			t.Fatalf("request log holds a token or secret: %+v", r)
		}
	}
	if got, tokens := s.MessageRequests(), s.TokenRequests(); got != 3 || tokens != 1 {
		t.Fatalf("MessageRequests() = %d, TokenRequests() = %d; want 3 and 1", got, tokens)
	}
	s.ResetLog()
	if n := len(s.Requests()); n != 0 || len(s.Messages()) != 2 {
		t.Fatalf("after ResetLog: %d requests, %d messages; want 0 and 2", n, len(s.Messages()))
	}
	resp, err := http.Get(s.URL + "/v1/skillmessages/users/x") // outside /alexa
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Fatalf("a path outside the prefix = %d; want 404 with a request id", resp.StatusCode)
	}
}

// TestProactiveEvent: the fake refuses what Amazon refuses (the rules and
// their sources are in proactive.go); skillmessaging's
// TestProactiveEventRefusedBeforeSending refuses the same events before
// sending them.
func TestProactiveEvent(t *testing.T) {
	const iso = "2006-01-02T15:04:05.000Z"
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(iso) }
	ts, exp := at(0), at(time.Hour)
	ok := `{"timestamp":"` + ts + `","referenceId":"r1~a","expiryTime":"` + exp + `",` +
		`"event":{"name":"AMAZON.MessageAlert.Activated","payload":{"state":{"status":"UNREAD"}}},"localizedAttributes":[],` +
		`"relevantAudience":{"type":"Unicast","payload":{"user":"` + msgUser + `"}}}`
	repl := func(old, new string) string { return strings.Replace(ok, old, new, 1) }
	tests := []struct {
		name, token, path, body string
		want                    int
	}{
		{"live", "proactive", "", ok, http.StatusAccepted},
		{"development", "proactive", "/stages/development", ok, http.StatusAccepted},
		{"multicast", "proactive", "", repl(`"type":"Unicast","payload":{"user":"`+msgUser+`"}`, `"type":"Multicast","payload":{}`), http.StatusAccepted},
		{"expiry 24 hours after timestamp", "proactive", "", repl(exp, at(24*time.Hour)), http.StatusAccepted},
		{"messaging token", "messaging", "", ok, http.StatusForbidden},
		{"no token", "", "", ok, http.StatusForbidden},
		{"expiry under 5 minutes from now", "proactive", "", repl(exp, at(5*time.Minute-time.Second)), http.StatusBadRequest},
		{"expiry already past", "proactive", "", strings.Replace(repl(ts, at(-2*time.Hour)), exp, at(-time.Hour), 1), http.StatusBadRequest},
		{"expiry over 24 hours after timestamp", "proactive", "", repl(exp, at(24*time.Hour+time.Second)), http.StatusBadRequest},
		{"no expiry", "proactive", "", repl(`"expiryTime":"`+exp+`",`, ``), http.StatusBadRequest},
		{"no referenceId", "proactive", "", repl(`"r1~a"`, `""`), http.StatusBadRequest},
		{"referenceId with -", "proactive", "", repl(`"r1~a"`, `"order-42-shipped"`), http.StatusBadRequest},
		{"referenceId with é", "proactive", "", repl(`"r1~a"`, `"caf\u00e9"`), http.StatusBadRequest},
		{"referenceId of 101", "proactive", "", repl(`"r1~a"`, `"`+strings.Repeat("a", 101)+`"`), http.StatusBadRequest},
		{"bad name", "proactive", "", repl("AMAZON.MessageAlert.Activated", "MessageAlert"), http.StatusBadRequest},
		{"payload not an object", "proactive", "", repl(`{"state":{"status":"UNREAD"}}`, `[]`), http.StatusBadRequest},
		{"no localizedAttributes", "proactive", "", repl(`"localizedAttributes":[],`, ``), http.StatusBadRequest},
		{"attribute without locale", "proactive", "", repl(`"localizedAttributes":[]`, `"localizedAttributes":[{"a":"b"}]`), http.StatusBadRequest},
		{"unicast without user", "proactive", "", repl(`{"user":"`+msgUser+`"}`, `{}`), http.StatusBadRequest},
		{"multicast with a user", "proactive", "", repl(`"type":"Unicast"`, `"type":"Multicast"`), http.StatusBadRequest},
		{"unknown audience", "proactive", "", repl(`"Unicast"`, `"Broadcast"`), http.StatusBadRequest},
		{"not JSON", "proactive", "", `{`, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer()
			defer s.Close()
			s.SetSkill(msgSkill, msgClient, msgSecret)
			token := ""
			switch tc.token {
			case "proactive":
				token = grant(t, s, ProactiveEventsScope)
			case "messaging":
				token = grant(t, s, MessagingScope)
			}
			post := func() (*http.Response, map[string]any) {
				req, _ := http.NewRequest(http.MethodPost, s.Endpoint()+"/v1/proactiveEvents"+tc.path, strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				return resp, m
			}
			resp, m := post()
			if resp.StatusCode != tc.want || resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Fatalf("POST = %d %v; want %d with a request id", resp.StatusCode, m, tc.want)
			}
			if tc.want != http.StatusAccepted {
				if m["message"] == nil || m["code"] != float64(tc.want) || len(s.Events()) != 0 {
					t.Fatalf("refusal %v, %d events; want {code, message} and none accepted", m, len(s.Events()))
				}
				return
			}
			ev := s.Events()[0]
			stage := "live"
			if tc.path != "" {
				stage = "development"
			}
			user := msgUser
			if ev.Audience == "Multicast" {
				user = ""
			}
			if ev.Stage != stage || ev.SkillID != msgSkill || ev.UserID != user || ev.ReferenceID != "r1~a" || s.EventRequests() != 1 {
				t.Fatalf("Events() = %+v; want the %s event", s.Events(), stage)
			}
			if resp, _ := post(); resp.StatusCode != http.StatusConflict {
				t.Fatalf("the same referenceId again = %d; want 409", resp.StatusCode)
			}
			s.ScriptEvents(Throttled("4"))
			if resp, _ := post(); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "4" {
				t.Fatalf("scripted throttle = %d; want 429 with Retry-After", resp.StatusCode)
			}
		})
	}
}

func TestServerPrintsNoSecret(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetSkill(msgSkill, msgClient, msgSecret)
	tok := grant(t, s, MessagingScope)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, "NEVER-PRINTED") || strings.Contains(out, tok) || !strings.Contains(out, s.URL) {
			t.Fatalf("Sprintf(%q, server) = %s; want the URL, no secret or token", verb, out)
		}
	}
}
