package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"golang.org/x/oauth2"
)

var _ oauth2.TokenSource = (*TokenSource)(nil)

func TestTokenGrant(t *testing.T) {
	e := newEnv(t)
	ts := e.sender.TokenSource()
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("Token() = %v; want a token", err)
	}
	if skill, ok := e.fake.TokenSkill(tok.AccessToken); !ok || skill != e.skillID {
		t.Fatalf("the token is for %q (valid %v); want %s", skill, ok, e.skillID)
	}
	reqs := e.fake.Requests()
	if len(reqs) != 1 || reqs[0].GrantType != "client_credentials" || reqs[0].ClientID != "amzn1.application-oa2-client.test" || reqs[0].Status != http.StatusOK {
		t.Fatalf("LWA requests = %+v; want one client_credentials grant for the skill's client id", reqs)
	}
	// Reused until a minute before expiry (the fake's tokens last an hour).
	e.clock.Advance(58 * time.Minute)
	if again, err := ts.TokenContext(context.Background()); err != nil || again.AccessToken != tok.AccessToken {
		t.Fatalf("TokenContext after 58 min = %v; want the same token", err)
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Fatalf("after 58 min: %d token requests; want 1", n)
	}
	e.clock.Advance(90 * time.Second)
	if again, err := ts.TokenContext(context.Background()); err != nil || again.AccessToken == tok.AccessToken {
		t.Fatalf("TokenContext after 59.5 min = %v; want a new token", err)
	}
	if n := e.fake.TokenRequests(); n != 2 {
		t.Fatalf("after 59.5 min: %d token requests; want 2", n)
	}
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("%d GetSecretValue calls; want 1 (the credentials are cached)", n)
	}
	assertClean(t, fmt.Sprintf("%v %+v %#v %d", ts, ts, ts, ts), fmt.Sprintf("%v %+v %#v %s", e.sender, e.sender, e.sender, e.sender))
}

func TestTokenRotatedCredentials(t *testing.T) {
	tests := []struct {
		name        string
		stored      bool // the sync already stored the new credentials
		again       bool // and they changed at Amazon once more since
		wantErr     error
		wantGrants  int // token requests after the first token
		wantReloads int64
	}{
		{name: "stored", stored: true, wantGrants: 2, wantReloads: 1},
		{name: "not stored yet", stored: false, wantErr: ErrCredentialsRefused, wantGrants: 1, wantReloads: 1},
		{name: "stored, then changed again", stored: true, again: true, wantErr: ErrCredentialsRefused, wantGrants: 2, wantReloads: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ts := e.sender.TokenSource()
			if _, err := ts.Token(); err != nil {
				t.Fatalf("Token() = %v; want a token", err)
			}
			e.rotate(t, 2, tc.stored)
			if tc.again {
				e.rotate(t, 3, false)
			}
			e.fake.ResetLog()
			e.clock.Advance(2 * time.Hour) // the token expired; the Reader's cache has not
			tok, err := ts.TokenContext(context.Background())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("TokenContext after a rotation = %v; want %v", err, tc.wantErr)
			}
			if got := e.sm.calls.Load() - 1; got != tc.wantReloads {
				t.Errorf("%d reloads of the secret; want %d", got, tc.wantReloads)
			}
			if got := e.fake.TokenRequests(); got != tc.wantGrants {
				t.Errorf("%d token requests; want %d", got, tc.wantGrants)
			}
			if err != nil {
				var api *Error
				if !errors.As(err, &api) || api.StatusCode != http.StatusUnauthorized || api.Code != "invalid_client" || api.RequestID == "" || api.Service != ServiceLWA {
					t.Fatalf("TokenContext = %#v; want LWA's 401 invalid_client with a request id", err)
				}
				if api.Attempts != tc.wantGrants || !strings.Contains(err.Error(), fmt.Sprintf("(attempts: %d)", tc.wantGrants)) {
					t.Errorf("TokenContext = %v (Attempts %d); want the %d grant requests counted", err, api.Attempts, tc.wantGrants)
				}
				assertClean(t, err.Error(), fmt.Sprintf("%+v", err))
				return
			}
			if skill, ok := e.fake.TokenSkill(tok.AccessToken); !ok || skill != e.skillID {
				t.Fatalf("the new token is for %q (valid %v); want %s", skill, ok, e.skillID)
			}
		})
	}
}

func TestTokenLWAFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     []skillmessagingtest.Fault
		wantErr    error
		wantStatus int
		wantSleeps []time.Duration
	}{
		{name: "503 then OK", faults: []skillmessagingtest.Fault{skillmessagingtest.ServerError(http.StatusServiceUnavailable)}, wantSleeps: []time.Duration{-1}},
		{name: "429 then OK", faults: []skillmessagingtest.Fault{{Status: http.StatusTooManyRequests, RetryAfter: "2", Code: "slow_down"}}, wantSleeps: []time.Duration{2 * time.Second}},
		{name: "invalid_scope", faults: []skillmessagingtest.Fault{{Status: http.StatusBadRequest, Code: "invalid_scope", Message: "The request has an invalid parameter : scope"}}, wantStatus: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.ScriptToken(tc.faults...)
			_, err := e.sender.TokenSource().TokenContext(context.Background())
			sleeps := e.sleeps.All()
			if tc.wantStatus != 0 {
				var api *Error
				if !errors.As(err, &api) || api.StatusCode != tc.wantStatus {
					t.Fatalf("TokenContext = %v; want HTTP %d", err, tc.wantStatus)
				}
				if len(sleeps) != 0 {
					t.Fatalf("slept %v; want no retry", sleeps)
				}
				return
			}
			if err != nil {
				t.Fatalf("TokenContext = %v; want a token", err)
			}
			checkSleeps(t, sleeps, tc.wantSleeps)
		})
	}
}

// checkSleeps compares the delays; -1 stands for any backoff.
func checkSleeps(t *testing.T, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("slept %v; want %v", got, want)
	}
	for i := range want {
		if want[i] >= 0 && got[i] != want[i] {
			t.Fatalf("slept %v; want %v", got, want)
		}
	}
}

func TestNewTokenSourceRefuses(t *testing.T) {
	r := NewCredentialsCache(secrets, "x/")
	tests := []struct {
		name    string
		skillID string
		opts    []Option
		want    error
	}{
		{"invalid skill id", "amzn1.ask.skill.nope", nil, ErrInvalidSkillID},
		{"plain http", newSkillID(), []Option{WithTokenURL("http://api.amazon.com/auth/o2/token")}, ErrInvalidEndpoint},
		{"not a URL", newSkillID(), []Option{WithTokenURL("::")}, ErrInvalidEndpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTokenSource(r, tc.skillID, tc.opts...); !errors.Is(err, tc.want) {
				t.Fatalf("NewTokenSource(%q) = %v; want %v", tc.skillID, err, tc.want)
			}
		})
	}
}
