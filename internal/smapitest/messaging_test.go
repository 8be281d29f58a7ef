package smapitest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	msgSkill  = "amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
	msgUser   = "amzn1.ask.account.AFAKEUSER1"
	msgSecret = "skill-secret-NEVER-PRINTED"
)

// grantMessagingToken gets a Skill Messaging token from the fake's LWA.
func grantMessagingToken(t *testing.T, s *Server) string {
	t.Helper()
	status, body, _ := postToken(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {"msg-client"},
		"client_secret": {msgSecret}, "scope": {MessagingScope}})
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("client_credentials grant = %d; want 200 with a token", status)
	}
	return tok
}

func postMessage(t *testing.T, s *Server, token, userID, contentType, body string) (*http.Response, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.SMAPIURL()+"/v1/skillmessages/users/"+url.PathEscape(userID), strings.NewReader(body))
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
	big := `{"data":{"k":"` + strings.Repeat("x", MaxMessageDataBytes) + `"}}`
	tests := []struct {
		name        string
		token       string // "valid", "expired", "unknown" or ""
		user        string
		contentType string
		body        string
		fault       *Fault
		wantStatus  int
		wantRetry   string
	}{
		{name: "accepted", token: "valid", user: msgUser, body: ok, wantStatus: http.StatusAccepted},
		{name: "default expiry", token: "valid", user: msgUser, body: `{"data":{}}`, wantStatus: http.StatusAccepted},
		{name: "no token", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "unknown token", token: "unknown", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "expired token", token: "expired", user: msgUser, body: ok, wantStatus: http.StatusForbidden},
		{name: "unknown user", token: "valid", user: "amzn1.ask.account.NOBODY", body: ok, wantStatus: http.StatusNotFound},
		{name: "not JSON", token: "valid", user: msgUser, body: `{"data":`, wantStatus: http.StatusBadRequest},
		{name: "wrong content type", token: "valid", user: msgUser, contentType: "text/plain", body: ok, wantStatus: http.StatusBadRequest},
		{name: "data missing", token: "valid", user: msgUser, body: `{"expiresAfterSeconds":600}`, wantStatus: http.StatusBadRequest},
		{name: "data not an object", token: "valid", user: msgUser, body: `{"data":"text"}`, wantStatus: http.StatusBadRequest},
		{name: "data too large", token: "valid", user: msgUser, body: big, wantStatus: http.StatusBadRequest},
		{name: "expiry too short", token: "valid", user: msgUser, body: `{"data":{},"expiresAfterSeconds":59}`, wantStatus: http.StatusBadRequest},
		{name: "expiry too long", token: "valid", user: msgUser, body: `{"data":{},"expiresAfterSeconds":86401}`, wantStatus: http.StatusBadRequest},
		{name: "throttled", token: "valid", user: msgUser, body: ok, fault: &Fault{Status: http.StatusTooManyRequests, RetryAfter: "3", Message: "Rate exceeded."}, wantStatus: http.StatusTooManyRequests, wantRetry: "3"},
		{name: "server error", token: "valid", user: msgUser, body: ok, fault: &Fault{Status: http.StatusInternalServerError, Message: "Internal Server Error"}, wantStatus: http.StatusInternalServerError},
		{name: "scripted 403", token: "valid", user: msgUser, body: ok, fault: &Fault{Status: http.StatusForbidden, Message: msgForbidden}, wantStatus: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			defer s.Close()
			s.SetSkill(msgSkill, "msg-client", msgSecret)
			s.AddUser(msgUser)
			var token string
			switch tc.token {
			case "valid":
				token = grantMessagingToken(t, s)
			case "expired":
				token = grantMessagingToken(t, s)
				s.ExpireMessagingTokens()
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
			if s.MessagingRequests() != 1 {
				t.Errorf("MessagingRequests() = %d; want 1", s.MessagingRequests())
			}
		})
	}
}

func TestMessageLog(t *testing.T) {
	s := New()
	defer s.Close()
	s.SetSkill(msgSkill, "msg-client", msgSecret)
	s.AddUser(msgUser)
	token := grantMessagingToken(t, s)
	if resp, _ := postMessage(t, s, token, msgUser, "application/json", `{"data":{"n":1},"expiresAfterSeconds":60}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first message = %d; want 202", resp.StatusCode)
	}
	if resp, _ := postMessage(t, s, token, msgUser, "application/json; charset=utf-8", `{"data":{"n":2}}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second message = %d; want 202", resp.StatusCode)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || string(msgs[0].Data) != `{"n":1}` || msgs[0].ExpiresAfterSeconds != 60 ||
		string(msgs[1].Data) != `{"n":2}` || msgs[1].ExpiresAfterSeconds != DefaultExpiresAfterSeconds {
		t.Fatalf("Messages() = %+v; want {n:1} for 60 s then {n:2} for the default", msgs)
	}
	s.RemoveUser(msgUser)
	if resp, _ := postMessage(t, s, token, msgUser, "application/json", `{"data":{}}`); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("message to a removed user = %d; want 404", resp.StatusCode)
	}
	// The token is not in the request log.
	for _, r := range s.Requests() {
		if strings.Contains(r.Path+r.ClientID+r.GrantType, token) || strings.Contains(r.Path+r.ClientID, msgSecret) {
			t.Fatalf("request log holds a token or secret: %+v", r)
		}
	}
	if got := s.MessagingRequests(); got != 3 {
		t.Fatalf("MessagingRequests() = %d; want 3", got)
	}
}
