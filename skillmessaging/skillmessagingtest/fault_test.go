package skillmessagingtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFaultZeroFieldsKeepTheNormalAnswer: one rule for every endpoint. A
// Status replaces the answer and leaves the request unhandled; without one
// the request is handled and only the fields set change its answer.
func TestFaultZeroFieldsKeepTheNormalAnswer(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantBody   string // "" for none
		wantCT     string
		wantRetry  string
		accepted   bool
	}{
		{name: "zero fault", wantStatus: http.StatusAccepted, accepted: true},
		{name: "delay only", fault: Fault{Delay: 20 * time.Millisecond}, wantStatus: http.StatusAccepted, accepted: true},
		{name: "status", fault: Fault{Status: http.StatusServiceUnavailable, Message: "later"}, wantStatus: http.StatusServiceUnavailable,
			wantBody: `{"message":"later"}`, wantCT: "application/json"},
		{name: "status 200 is not the normal answer", fault: Fault{Status: http.StatusOK, Body: `{}`}, wantStatus: http.StatusOK, wantBody: `{}`, wantCT: "application/json"},
		{name: "body only", fault: Fault{Body: "<html>", ContentType: "text/html"}, wantStatus: http.StatusAccepted, wantBody: "<html>", wantCT: "text/html", accepted: true},
		{name: "retry-after only", fault: Fault{RetryAfter: "7"}, wantStatus: http.StatusAccepted, wantRetry: "7", accepted: true},
		{name: "cut short", fault: Fault{Status: http.StatusInternalServerError, Message: "a long enough message", CutShort: true},
			wantStatus: http.StatusInternalServerError, wantBody: `{"message":"a lon`, wantCT: "application/json"},
		{name: "throttled", fault: Throttled("3"), wantStatus: http.StatusTooManyRequests, wantBody: `{"message":"Rate exceeded."}`, wantCT: "application/json", wantRetry: "3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, token := messagingFake(t)
			s.ScriptMessages(tc.fault)
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, s.Endpoint()+"/v1/skillmessages/users/"+msgUser, strings.NewReader(`{"data":{}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if el := time.Since(start); el < tc.fault.Delay {
				t.Errorf("answered after %v; want at least the Delay %v", el, tc.fault.Delay)
			}
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody || resp.Header.Get("Content-Type") != tc.wantCT || resp.Header.Get("Retry-After") != tc.wantRetry {
				t.Errorf("answer = %d %q (Content-Type %q, Retry-After %q); want %d %q (%q, %q)", resp.StatusCode, body,
					resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), tc.wantStatus, tc.wantBody, tc.wantCT, tc.wantRetry)
			}
			if got := len(s.Messages()); got != map[bool]int{true: 1}[tc.accepted] {
				t.Errorf("%d messages accepted; want accepted = %v", got, tc.accepted)
			}
			if last := s.Requests()[len(s.Requests())-1]; last.Status != tc.wantStatus || last.SkillID != msgSkill || !last.Authorized {
				t.Errorf("log entry %+v; want status %d for %s, authorized", last, tc.wantStatus, msgSkill)
			}
		})
	}
}

// TestFaultDelayEndsWhenTheClientGivesUp: a Delay longer than the client
// waits answers nothing and logs no status.
func TestFaultDelayEndsWhenTheClientGivesUp(t *testing.T) {
	s := NewServer()
	s.SetSkill(msgSkill, msgClient, msgSecret)
	s.ScriptToken(Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL(), strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request delayed an hour = %v; want the client's deadline", err)
	}
	s.Close() // waits for the handler, which ends when the client has gone
	if r := s.Requests(); len(r) != 1 || r[0].Status != 0 || r[0].GrantType != "client_credentials" {
		t.Fatalf("Requests() = %+v; want the token request, unanswered", r)
	}
}

const emailPath = AlexaPrefix + "/v2/accounts/~current/settings/Profile.email"

// TestHandle: an endpoint added with Handle is served as the fake's own:
// request ids, the log (with the query and the skill and authorization the
// endpoint reports), the error body, faults, MaxInFlight, Transport.
func TestHandle(t *testing.T) {
	s := NewServer()
	defer s.Close()
	var faults []Fault
	var mu sync.Mutex
	s.Handle("GET "+emailPath, func(r *http.Request) Answer {
		mu.Lock()
		f := pop(&faults)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer api-token" {
			return Answer{Status: http.StatusForbidden, Message: "Access denied", Fault: Fault{Delay: f.Delay}}
		}
		return Answer{Status: http.StatusOK, Body: "user@example.com", SkillID: msgSkill, Authorized: true, Fault: f}
	})
	get := func(hc *http.Client, token, query string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+emailPath+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	tests := []struct {
		name       string
		token      string
		fault      Fault
		wantStatus int
		wantBody   string
	}{
		{"answer", "api-token", Fault{}, http.StatusOK, `"user@example.com"`},
		{"error body", "other", Fault{}, http.StatusForbidden, `{"message":"Access denied"}`},
		{"fault", "api-token", ServerError(http.StatusBadGateway), http.StatusBadGateway, `{"message":"Bad Gateway"}`},
		{"cut short", "api-token", Fault{CutShort: true}, http.StatusOK, `"user@exa`},
	}
	for _, tc := range tests {
		for _, via := range []string{"server", "transport"} {
			hc := http.DefaultClient
			if via == "transport" {
				hc = &http.Client{Transport: s.Transport()}
			}
			s.ResetLog()
			mu.Lock()
			faults = []Fault{tc.fault}
			mu.Unlock()
			status, body, h := get(hc, tc.token, "?fields=a")
			if status != tc.wantStatus || body != tc.wantBody || h.Get("X-Amzn-RequestId") == "" {
				t.Errorf("%s via %s = %d %q (request id %q); want %d %q", tc.name, via, status, body, h.Get("X-Amzn-RequestId"), tc.wantStatus, tc.wantBody)
			}
			log := s.Requests()
			authorized := tc.token == "api-token"
			if len(log) != 1 || log[0].Path != emailPath || log[0].Query.Get("fields") != "a" || log[0].Accept != "application/json" ||
				log[0].Status != tc.wantStatus || log[0].RequestID != h.Get("X-Amzn-RequestId") || log[0].Authorized != authorized || (log[0].SkillID == msgSkill) != authorized {
				t.Errorf("%s via %s: Requests() = %+v", tc.name, via, log)
			}
		}
	}
	if got := s.MaxInFlight(); got != 1 {
		t.Errorf("MaxInFlight() = %d after one request at a time; want 1", got)
	}
}

// TestMaxInFlight counts the API requests answered at the same time, not
// the token requests.
func TestMaxInFlight(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetSkill(msgSkill, msgClient, msgSecret)
	arrived := make(chan bool)
	release := make(chan struct{})
	s.Handle("GET "+emailPath, func(r *http.Request) Answer {
		arrived <- true
		<-release
		return Answer{Status: http.StatusOK}
	})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(s.URL + emailPath)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	for range 3 {
		<-arrived
	}
	resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"client_credentials"}}) // while three API requests are in flight
	close(release)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := s.MaxInFlight(); got != 3 {
		t.Fatalf("MaxInFlight() = %d; want 3: the token request is not an API request", got)
	}
}

// TestHandleOtherGrants: with the token path, Handle answers LWA's other
// grants; the fake keeps client_credentials and its faults apply to both.
func TestHandleOtherGrants(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetSkill(msgSkill, msgClient, msgSecret)
	s.Handle("POST "+TokenPath, func(r *http.Request) Answer {
		if r.PostForm.Get("refresh_token") != "Atzr|ok" {
			return Answer{Status: http.StatusBadRequest, Code: "invalid_grant", Message: "bad refresh token"}
		}
		return Answer{Status: http.StatusOK, Body: map[string]any{"access_token": "Atza|user", "token_type": "bearer", "expires_in": 3600}}
	})
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {"c"}, "client_secret": {"s"}, "refresh_token": {"Atzr|ok"}}
	if status, body, _ := postToken(t, s, refresh); status != http.StatusOK || body["access_token"] != "Atza|user" {
		t.Fatalf("refresh grant = %d %v; want the endpoint's token", status, body)
	}
	refresh.Set("refresh_token", "Atzr|revoked")
	if status, body, _ := postToken(t, s, refresh); status != http.StatusBadRequest || body["error"] != "invalid_grant" || body["error_description"] != "bad refresh token" {
		t.Fatalf("refused refresh grant = %d %v; want LWA's error body", status, body)
	}
	grant(t, s, MessagingScope)
	s.ScriptToken(Fault{Status: http.StatusTooManyRequests, Code: "slow_down"})
	if status, body, _ := postToken(t, s, refresh); status != http.StatusTooManyRequests || body["error"] != "slow_down" {
		t.Fatalf("scripted token fault on another grant = %d %v; want 429 slow_down", status, body)
	}
	if log := s.Requests(); len(log) != 4 || log[0].GrantType != "refresh_token" || log[0].ClientID != "c" || log[2].GrantType != "client_credentials" {
		t.Fatalf("Requests() = %+v; want the four token requests", log)
	}
}

// TestResetLogWhileAnswering: a request answered after ResetLog does not
// write its status into the entry of a request logged since.
func TestResetLogWhileAnswering(t *testing.T) {
	s := NewServer()
	defer s.Close()
	get := func(path string) {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}
	s.Handle("GET "+emailPath, func(r *http.Request) Answer {
		s.ResetLog()
		get("/first")
		get("/second") // logged where this request's entry was
		return Answer{Status: http.StatusTeapot}
	})
	get("/before")
	get(emailPath)
	log := s.Requests()
	if len(log) != 2 || log[0].Path != "/first" || log[1].Path != "/second" || log[1].Status != http.StatusNotFound {
		t.Fatalf("Requests() = %+v; want /first and /second, both 404", log)
	}
}
