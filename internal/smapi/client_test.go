package smapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/redacttest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

const (
	skillA       = "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
	lwaClientID  = "amzn1.application-oa2-client.lwa"
	lwaSecret    = "lwa-client-secret-DO-NOT-PRINT"
	refreshToken = "Atzr|refresh-token-DO-NOT-PRINT"
	skillSecret  = "skill-client-secret-DO-NOT-PRINT"
)

// sleepRecorder replaces the retrier's sleep: it records the waits and
// returns at once, so tests never wait for real time.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func newTestClient(t *testing.T) (*Client, *smapitest.Server, *sleepRecorder) {
	t.Helper()
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient(lwaClientID, lwaSecret, refreshToken)
	fake.SetSkill(skillA, "amzn1.application-oa2-client.skill-a", skillSecret)

	hc := NewHTTPClient(5 * time.Second)
	ts := NewTokenSource(fake.TokenURL(), hc)
	ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
	c, err := NewClient(fake.SMAPIURL(), ts, hc)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sleepRecorder{}
	c.Retrier.Sleep = rec.Sleep
	c.Retrier.Jitter = func(d time.Duration) time.Duration { return d }
	return c, fake, rec
}

// assertNoSecret fails if any secret the tests use appears in s.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range []string{lwaSecret, refreshToken, skillSecret, "Atza|"} {
		if strings.Contains(s, sec) {
			t.Errorf("%s leaks a secret (%q): %s", what, sec, s)
		}
	}
}

func TestGetSkillCredentialsRequest(t *testing.T) {
	c, fake, _ := newTestClient(t)
	got, err := c.GetSkillCredentials(context.Background(), skillA)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientID != "amzn1.application-oa2-client.skill-a" || got.ClientSecret.Reveal() != skillSecret || got.Attempts != 1 || got.RequestID == "" {
		t.Fatalf("GetSkillCredentials = %+v; want the fake's credentials after 1 attempt with a request id", got)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %+v; want one token request and one SMAPI request", reqs)
	}
	tok, get := reqs[0], reqs[1]
	if tok.Path != smapitest.TokenPath || tok.GrantType != "refresh_token" || tok.ClientID != lwaClientID || tok.Status != http.StatusOK {
		t.Errorf("token request = %+v", tok)
	}
	if get.Method != http.MethodGet || get.Path != "/smapi/v1/skills/"+skillA+"/credentials" || !get.Authorized {
		t.Errorf("SMAPI request = %+v; want an authorized GET below the base URL's path", get)
	}
	if get.Accept != "application/json" || !strings.HasPrefix(get.UserAgent, "alexa-skill-credentials/") {
		t.Errorf("SMAPI request headers: Accept %q, User-Agent %q", get.Accept, get.UserAgent)
	}
	if got.RequestID != get.RequestID {
		t.Errorf("RequestID = %q; want the response's %q", got.RequestID, get.RequestID)
	}
}

func TestGetSkillCredentialsFaults(t *testing.T) {
	tests := []struct {
		name         string
		faults       []skillmessagingtest.Fault
		unknownSkill bool
		wantErr      string // substring of the error; "" means success
		wantStatus   int    // HTTP status in the error
		wantAttempts int
		wantWaits    []time.Duration
	}{
		{name: "429 then OK honours Retry-After seconds", faults: []skillmessagingtest.Fault{skillmessagingtest.Throttled("3")},
			wantAttempts: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "429 without Retry-After backs off", faults: []skillmessagingtest.Fault{skillmessagingtest.Throttled("")},
			wantAttempts: 2, wantWaits: []time.Duration{200 * time.Millisecond}},
		{name: "503 burst then OK backs off exponentially", faults: []skillmessagingtest.Fault{skillmessagingtest.ServerError(503), skillmessagingtest.ServerError(500), skillmessagingtest.ServerError(503)},
			wantAttempts: 4, wantWaits: []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}},
		{name: "cut-short body is retried", faults: []skillmessagingtest.Fault{skillmessagingtest.Fault{CutShort: true}},
			wantAttempts: 2, wantWaits: []time.Duration{200 * time.Millisecond}},
		{name: "500 on every attempt gives up", faults: repeat(skillmessagingtest.ServerError(500), 5),
			wantErr: "SMAPI answered HTTP 500", wantStatus: 500, wantAttempts: 5},
		{name: "404 is not retried and explains", unknownSkill: true,
			wantErr: "has not issued skill messaging credentials", wantStatus: 404, wantAttempts: 1},
		{name: "501 is not retried", faults: []skillmessagingtest.Fault{skillmessagingtest.ServerError(501)},
			wantErr: "HTTP 501", wantStatus: 501, wantAttempts: 1},
		{name: "HTML 200 is refused", faults: []skillmessagingtest.Fault{smapitest.HTMLPage()},
			wantErr: `content type "text/html; charset=utf-8"`, wantStatus: 200, wantAttempts: 1},
		{name: "partial JSON is refused", faults: []skillmessagingtest.Fault{smapitest.PartialJSON()},
			wantErr: "not valid JSON", wantStatus: 200, wantAttempts: 1},
		{name: "empty secret is refused", faults: []skillmessagingtest.Fault{smapitest.EmptySecret()},
			wantErr: "clientSecret is missing or empty", wantStatus: 200, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake, rec := newTestClient(t)
			skill := skillA
			if tt.unknownSkill {
				skill = "amzn1.ask.skill.99999999-9999-4999-8999-999999999999"
			}
			fake.Script(skill, tt.faults...)
			got, err := c.GetSkillCredentials(context.Background(), skill)
			if fake.SkillRequests(skill) != tt.wantAttempts {
				t.Errorf("SMAPI requests = %d; want %d", fake.SkillRequests(skill), tt.wantAttempts)
			}
			if tt.wantWaits != nil && !equalDurations(rec.waits, tt.wantWaits) {
				t.Errorf("waits = %v; want %v", rec.waits, tt.wantWaits)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("GetSkillCredentials: %v", err)
				}
				if got.Attempts != tt.wantAttempts || got.ClientSecret.Reveal() != skillSecret {
					t.Fatalf("GetSkillCredentials = %+v; want %d attempts", got, tt.wantAttempts)
				}
				return
			}
			if err == nil {
				t.Fatalf("GetSkillCredentials = %+v; want error %q", got, tt.wantErr)
			}
			msg := err.Error()
			assertNoSecret(t, "error", msg)
			if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, skill) || !strings.Contains(msg, "get skill messaging credentials") {
				t.Errorf("error = %q; want it to name the skill, the operation and %q", msg, tt.wantErr)
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Attempts != tt.wantAttempts {
				t.Errorf("error %v: want a *CallError with %d attempts", err, tt.wantAttempts)
			}
			var sc interface{ HTTPStatusCode() int }
			if !errors.As(err, &sc) || sc.HTTPStatusCode() != tt.wantStatus {
				t.Errorf("error %v: want HTTP status %d", err, tt.wantStatus)
			}
			last := fake.Requests()[len(fake.Requests())-1]
			if id := RequestID(err); id == "" || id != last.RequestID || !strings.Contains(msg, id) {
				t.Errorf("RequestID(err) = %q; want the last response's %q in the error", id, last.RequestID)
			}
		})
	}
}

func repeat(f skillmessagingtest.Fault, n int) []skillmessagingtest.Fault {
	fs := make([]skillmessagingtest.Fault, n)
	for i := range fs {
		fs[i] = f
	}
	return fs
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetSkillCredentialsInvalidSkillIDSendsNothing(t *testing.T) {
	c, fake, _ := newTestClient(t)
	_, err := c.GetSkillCredentials(context.Background(), "amzn1.ask.skill.x/../../v1/other")
	if !errors.Is(err, contract.ErrInvalidSkillID) {
		t.Fatalf("err = %v; want contract.ErrInvalidSkillID", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests sent for an invalid skill id; want 0", n)
	}
}

func TestRetryStopsBeforeDeadline(t *testing.T) {
	c, fake, rec := newTestClient(t)
	fake.Script(skillA, skillmessagingtest.Throttled("30"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.GetSkillCredentials(ctx, skillA)
	if !errors.Is(err, ErrNoTimeToRetry) {
		t.Fatalf("err = %v; want ErrNoTimeToRetry", err)
	}
	if len(rec.waits) != 0 || fake.SkillRequests(skillA) != 1 {
		t.Fatalf("waited %v and sent %d requests; want no wait past the deadline and 1 request", rec.waits, fake.SkillRequests(skillA))
	}
	if !strings.Contains(err.Error(), "HTTP 429") {
		t.Errorf("err = %v; want the 429 that was not retried", err)
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	c, fake, rec := newTestClient(t)
	fake.Script(skillA, skillmessagingtest.Throttled("600"))
	if _, err := c.GetSkillCredentials(context.Background(), skillA); err != nil {
		t.Fatal(err)
	}
	if !equalDurations(rec.waits, []time.Duration{c.Retrier.MaxDelay}) {
		t.Fatalf("waits = %v; want Retry-After capped at %v", rec.waits, c.Retrier.MaxDelay)
	}
}

func TestTokenSource(t *testing.T) {
	t.Run("one refresh for many calls", func(t *testing.T) {
		c, fake, _ := newTestClient(t)
		for range 3 {
			if _, err := c.GetSkillCredentials(context.Background(), skillA); err != nil {
				t.Fatal(err)
			}
		}
		if n := fake.TokenRequests(); n != 1 {
			t.Fatalf("token requests = %d; want 1", n)
		}
	})
	t.Run("rotated refresh token is detected", func(t *testing.T) {
		fake := smapitest.New()
		defer fake.Close()
		fake.AddClient(lwaClientID, lwaSecret, refreshToken)
		fake.RotateRefreshToken("Atzr|rotated")
		ts := NewTokenSource(fake.TokenURL(), NewHTTPClient(time.Second))
		creds := RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken}
		ts.SetCredentials(creds)
		if got := ts.RefreshToken(); got != refreshToken {
			t.Fatalf("RefreshToken before refresh = %q", got.Reveal())
		}
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
		if got := ts.RefreshToken(); got.Reveal() != "Atzr|rotated" {
			t.Fatalf("RefreshToken = %q; want the rotated one", got.Reveal())
		}
		// The stored secret still holds the old token until the caller
		// persists: setting it again keeps the cached access token.
		ts.SetCredentials(creds)
		creds.RefreshToken = "Atzr|rotated"
		ts.SetCredentials(creds)
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
		if n := fake.TokenRequests(); n != 1 {
			t.Fatalf("token requests = %d; want 1", n)
		}
		// New client credentials mean a new refresh.
		fake.AddClient("other-client", "other-secret", "Atzr|other")
		ts.SetCredentials(RefreshCredentials{ClientID: "other-client", ClientSecret: "other-secret", RefreshToken: "Atzr|other"})
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
		if n := fake.TokenRequests(); n != 2 {
			t.Fatalf("token requests = %d; want 2 after new credentials", n)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			creds    RefreshCredentials
			wantCode string
			status   int
		}{
			"invalid_grant":  {RefreshCredentials{lwaClientID, lwaSecret, "Atzr|revoked"}, "invalid_grant", 400},
			"invalid_client": {RefreshCredentials{lwaClientID, "wrong-secret", refreshToken}, "invalid_client", 401},
		} {
			t.Run(name, func(t *testing.T) {
				fake := smapitest.New()
				defer fake.Close()
				fake.AddClient(lwaClientID, lwaSecret, refreshToken)
				ts := NewTokenSource(fake.TokenURL(), NewHTTPClient(time.Second))
				ts.SetCredentials(tc.creds)
				_, err := ts.Token()
				var api *APIError
				if !errors.As(err, &api) || api.Code != tc.wantCode || api.StatusCode != tc.status || !api.NeedsNewRefreshToken() {
					t.Fatalf("Token() error = %v; want LWA %s with HTTP %d", err, tc.wantCode, tc.status)
				}
				if api.RequestID == "" || !strings.Contains(err.Error(), api.RequestID) || !strings.Contains(err.Error(), "replace the refreshToken") {
					t.Errorf("error = %q; want the request id and the remedy", err)
				}
				assertNoSecret(t, "error", err.Error())
				if strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), "Atzr|revoked") {
					t.Errorf("error leaks the credentials sent: %q", err)
				}
			})
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		if _, err := NewTokenSource("http://127.0.0.1:1", NewHTTPClient(time.Second)).Token(); !errors.Is(err, ErrNoCredentials) {
			t.Fatalf("err = %v; want ErrNoCredentials", err)
		}
	})
}

func TestParseEndpoint(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.amazonalexa.com":          true,
		"https://api.amazon.com/auth/o2/token": true,
		"http://127.0.0.1:8080/smapi":          true,
		"http://localhost:1234":                true,
		"http://[::1]:1234":                    true,
		"http://api.amazonalexa.com":           false,
		"http://10.0.0.1":                      false,
		"ftp://127.0.0.1":                      false,
		"api.amazonalexa.com":                  false,
		"https://api.amazonalexa.com?x=1":      false,
		"https://user:pw@api.amazonalexa.com":  false,
		"":                                     false,
	} {
		if _, err := ParseEndpoint(raw); (err == nil) != ok {
			t.Errorf("ParseEndpoint(%q) = %v; want ok=%v", raw, err, ok)
		}
	}
}

// TestRedaction: no smapi type that holds a secret prints it, with any fmt
// verb, through either slog handler or as JSON; the token source is checked
// after a refresh that rotated the refresh token, holding every secret.
func TestRedaction(t *testing.T) {
	const rotated = "Atzr|rotated-DO-NOT-PRINT"
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient(lwaClientID, lwaSecret, refreshToken)
	fake.RotateRefreshToken(rotated)
	ts := NewTokenSource(fake.TokenURL(), NewHTTPClient(5*time.Second))
	creds := RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken}
	ts.SetCredentials(creds)
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(fake.SMAPIURL(), ts, NewHTTPClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	sc := SkillCredentials{ClientID: "x", ClientSecret: secret.Value(skillSecret), RequestID: "r"}
	secrets := []string{lwaSecret, refreshToken, rotated, skillSecret, tok.AccessToken}
	for name, v := range map[string]any{
		"RefreshCredentials":  creds,
		"*RefreshCredentials": &creds,
		"SkillCredentials":    sc,
		"*SkillCredentials":   &sc,
		"*TokenSource":        ts,
		"*Client":             c,
	} {
		redacttest.Check(t, name, v, secrets...)
	}
}

// TestFullJitter: each backoff is drawn from [0, cap] with the cap doubling
// from BaseDelay, spread over the whole range (full jitter, not a fixed or
// halved wait); an injected source is asked for exactly those caps.
func TestFullJitter(t *testing.T) {
	caps := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}
	fail := func(context.Context) error {
		return &APIError{Service: "SMAPI", StatusCode: http.StatusServiceUnavailable}
	}
	low, high := make([]int, len(caps)), make([]int, len(caps))
	for range 200 {
		rec := &sleepRecorder{}
		r := DefaultRetrier()
		r.Sleep = rec.Sleep
		if n, _ := r.Do(context.Background(), fail); n != 5 || len(rec.waits) != len(caps) {
			t.Fatalf("attempts %d, waits %v; want 5 attempts and 4 waits", n, rec.waits)
		}
		for i, w := range rec.waits {
			if w < 0 || w > caps[i] {
				t.Fatalf("wait %d = %s; want it in [0, %s]", i+1, w, caps[i])
			}
			if w < caps[i]/2 {
				low[i]++
			} else {
				high[i]++
			}
		}
	}
	for i := range caps {
		if low[i] == 0 || high[i] == 0 {
			t.Errorf("wait %d: %d of 200 below %s, %d above; want both halves of [0, %s]", i+1, low[i], caps[i]/2, high[i], caps[i])
		}
	}

	var asked []time.Duration
	rec := &sleepRecorder{}
	r := DefaultRetrier()
	r.Sleep = rec.Sleep
	r.Jitter = func(d time.Duration) time.Duration { asked = append(asked, d); return d / 4 }
	_, _ = r.Do(context.Background(), fail)
	// (The backoff after the last attempt is asked for too, and not used.)
	for i := range caps {
		if len(asked) < len(caps) || len(rec.waits) != len(caps) || asked[i] != caps[i] || rec.waits[i] != caps[i]/4 {
			t.Fatalf("jitter asked %v, waits %v; want caps %v and a quarter of each", asked, rec.waits, caps)
		}
	}
}
