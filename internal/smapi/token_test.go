package smapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"golang.org/x/oauth2"
)

// requestTimeout is the Lambda's per-request timeout (lambda/main.go).
const requestTimeout = 10 * time.Second

// newBubbleClient returns the client NewHTTPClient builds (its per-request
// timeout and redirect policy), served by the fake's in-process transport.
// Inside a synctest bubble, deadlines and timeouts then pass in fake time, at
// once and exactly.
func newBubbleClient(fake *smapitest.Server) *http.Client {
	hc := NewHTTPClient(requestTimeout)
	hc.Transport = fake.Transport()
	return hc
}

// inBubble runs f in a synctest bubble with a fake that knows the test's
// LWA client and skill A, and a token source served by it in process. The
// fake's loopback listener is started outside the bubble: a goroutine
// waiting on a socket would keep the bubble's clock still.
func inBubble(t *testing.T, f func(t *testing.T, fake *smapitest.Server, ts *TokenSource, hc *http.Client)) {
	t.Helper()
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient(lwaClientID, lwaSecret, refreshToken)
	fake.SetSkill(skillA, "amzn1.application-oa2-client.skill-a", skillSecret)
	synctest.Test(t, func(t *testing.T) {
		hc := newBubbleClient(fake)
		ts := NewTokenSource(fake.TokenURL(), hc)
		ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
		f(t, fake, ts, hc)
	})
}

// TestSlowAnswerTimesOutAndIsRetried: an answer slower than the client's
// timeout is abandoned after exactly that timeout and tried again.
func TestSlowAnswerTimesOutAndIsRetried(t *testing.T) {
	inBubble(t, func(t *testing.T, fake *smapitest.Server, ts *TokenSource, hc *http.Client) {
		c, err := NewClient(fake.SMAPIURL(), ts, hc)
		if err != nil {
			t.Fatal(err)
		}
		fake.Script(skillA, skillmessagingtest.Fault{Delay: time.Minute})
		start := time.Now()
		got, err := c.GetSkillCredentials(context.Background(), skillA)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if got.Attempts != 2 || fake.SkillRequests(skillA) != 2 {
			t.Fatalf("attempts = %d, requests = %d; want 2 (timeout, then OK)", got.Attempts, fake.SkillRequests(skillA))
		}
		// The timeout, then a backoff of at most BaseDelay.
		if elapsed < requestTimeout || elapsed > requestTimeout+c.Retrier.BaseDelay {
			t.Fatalf("took %s; want the %s timeout plus at most %s", elapsed, requestTimeout, c.Retrier.BaseDelay)
		}
	})
}

// TestSlowLWAEndsWithTheContext: a refresh LWA answers after 3 s ends at a
// 1 s deadline, with an error saying LWA did not answer in time; without a
// deadline, the client's timeout ends it.
func TestSlowLWAEndsWithTheContext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration // 0: no deadline, Token()
		delay    time.Duration
		want     time.Duration
	}{
		{"context deadline", time.Second, 3 * time.Second, time.Second},
		{"client timeout", 0, time.Minute, requestTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, fake *smapitest.Server, ts *TokenSource, _ *http.Client) {
				fake.ScriptToken(skillmessagingtest.Fault{Delay: tc.delay})
				start := time.Now()
				var err error
				if tc.deadline > 0 {
					ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
					defer cancel()
					_, err = ts.TokenContext(ctx)
				} else {
					_, err = ts.Token()
				}
				if elapsed := time.Since(start); elapsed != tc.want {
					t.Errorf("returned after %s; want %s", elapsed, tc.want)
				}
				if !errors.Is(err, ErrLWATimeout) || !strings.Contains(err.Error(), "refresh LWA access token: LWA did not answer in time") {
					t.Fatalf("err = %v; want ErrLWATimeout", err)
				}
				assertNoSecret(t, "error", err.Error())
			})
		})
	}
}

// TestSMAPICallEndsWhenLWAIsSlow: a refresh needed by a SMAPI request is
// bounded by the request's context; SMAPI is not called without a token.
func TestSMAPICallEndsWhenLWAIsSlow(t *testing.T) {
	inBubble(t, func(t *testing.T, fake *smapitest.Server, ts *TokenSource, hc *http.Client) {
		c, err := NewClient(fake.SMAPIURL(), ts, hc)
		if err != nil {
			t.Fatal(err)
		}
		fake.ScriptToken(skillmessagingtest.Fault{Delay: 3 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = c.GetSkillCredentials(ctx, skillA)
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Errorf("returned after %s; want the 1s deadline", elapsed)
		}
		var ce *CallError
		if !errors.Is(err, ErrLWATimeout) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "refresh LWA access token: LWA did not answer in time") || !strings.Contains(err.Error(), skillA) {
			t.Fatalf("err = %v; want a CallError for the skill wrapping ErrLWATimeout", err)
		}
		if n := fake.SkillRequests(skillA); n != 0 {
			t.Fatalf("%d SMAPI requests; want 0", n)
		}
	})
}

// TestMessagingTokenEndsWithTheContext: testSecret's grant is bounded too.
func TestMessagingTokenEndsWithTheContext(t *testing.T) {
	inBubble(t, func(t *testing.T, fake *smapitest.Server, ts *TokenSource, _ *http.Client) {
		fake.ScriptToken(skillmessagingtest.Fault{Delay: 3 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := ts.CheckMessagingCredentials(ctx, "amzn1.application-oa2-client.skill-a", skillSecret)
		if !errors.Is(err, ErrLWATimeout) || !strings.Contains(err.Error(), "LWA did not answer in time") {
			t.Fatalf("err = %v; want ErrLWATimeout", err)
		}
		assertNoSecret(t, "error", err.Error())
		// Refusals are not timeouts.
		err = ts.CheckMessagingCredentials(context.Background(), "amzn1.application-oa2-client.skill-a", "wrong-secret")
		var api *APIError
		if errors.Is(err, ErrLWATimeout) || !errors.As(err, &api) || api.Code != "invalid_client" {
			t.Fatalf("err = %v; want LWA's invalid_client, not a timeout", err)
		}
	})
}

// TestConcurrentCallersShareOneRefresh: callers that need a token while a
// refresh is under way wait for it; one whose context ends first gives up
// alone.
func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	inBubble(t, func(t *testing.T, fake *smapitest.Server, ts *TokenSource, _ *http.Client) {
		fake.ScriptToken(skillmessagingtest.Fault{Delay: 2 * time.Second})
		var wg sync.WaitGroup
		toks := make([]*oauth2.Token, 5)
		errs := make([]error, 5)
		for i := range toks {
			wg.Go(func() { toks[i], errs[i] = ts.TokenContext(context.Background()) })
		}
		synctest.Wait()
		impatient, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := ts.TokenContext(impatient); !errors.Is(err, ErrLWATimeout) {
			t.Errorf("caller with a 1s deadline: err = %v; want ErrLWATimeout while the refresh goes on", err)
		}
		wg.Wait()
		for i := range toks {
			if errs[i] != nil || toks[i] == nil || toks[i].AccessToken != toks[0].AccessToken {
				t.Fatalf("caller %d: %v, %v; want the shared token", i, toks[i], errs[i])
			}
		}
		if n := fake.TokenRequests(); n != 1 {
			t.Fatalf("token requests = %d; want 1", n)
		}
		if toks[0].RefreshToken != "" {
			t.Error("the access token handed out carries the refresh token")
		}
	})
}

// TestTokenExpiryByWallClock: the cached access token is judged by the wall
// clock. After a freeze of the container (wall clock on, monotonic clock
// still), a token past its expiry is refreshed.
func TestTokenExpiryByWallClock(t *testing.T) {
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient(lwaClientID, lwaSecret, refreshToken)
	ts := NewTokenSource(fake.TokenURL(), NewHTTPClient(5*time.Second))
	ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
	tok, err := ts.Token() // expires in an hour, by a reading with a monotonic clock
	if err != nil {
		t.Fatal(err)
	}
	if tok.Expiry.Round(0).Sub(time.Now().Round(0)) < 59*time.Minute {
		t.Fatalf("expiry %v; want the fake's hour", tok.Expiry)
	}
	expiry := tok.Expiry.Round(0)
	tests := []struct {
		name        string
		now         func() (time.Time, error)
		wantRefresh bool
	}{
		{"frozen for 30 minutes", func() (time.Time, error) { return Thawed(time.Now(), 30*time.Minute) }, false},
		{"frozen for 2 hours", func() (time.Time, error) { return Thawed(time.Now(), 2*time.Hour) }, true},
		{"11 s before expiry", func() (time.Time, error) { return expiry.Add(-11 * time.Second), nil }, false},
		{"10 s before expiry", func() (time.Time, error) { return expiry.Add(-expiryDelta), nil }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now, err := tt.now()
			if err != nil {
				t.Fatal(err)
			}
			ts.now = func() time.Time { return now }
			before := fake.TokenRequests()
			got, err := ts.Token()
			if err != nil {
				t.Fatal(err)
			}
			if refreshed := fake.TokenRequests() > before; refreshed != tt.wantRefresh {
				t.Fatalf("refreshed = %v; want %v", refreshed, tt.wantRefresh)
			}
			if !tt.wantRefresh && got.AccessToken != tok.AccessToken {
				t.Fatal("a new token without a refresh")
			}
			// Reset: the next case starts from the first token.
			ts.mu.Lock()
			ts.tok = tok
			ts.mu.Unlock()
		})
	}
}

// TestTokenWithoutExpiry: a token LWA sends without expires_in is kept, as
// golang.org/x/oauth2 keeps it.
func TestTokenWithoutExpiry(t *testing.T) {
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.AddClient(lwaClientID, lwaSecret, refreshToken)
	fake.ScriptToken(skillmessagingtest.Fault{Status: http.StatusOK, Body: `{"access_token":"Atza|no-expiry","token_type":"bearer"}`})
	ts := NewTokenSource(fake.TokenURL(), NewHTTPClient(5*time.Second))
	ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
	for range 2 {
		if tok, err := ts.Token(); err != nil || tok.AccessToken != "Atza|no-expiry" {
			t.Fatalf("Token() = %v, %v", tok, err)
		}
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d; want 1", n)
	}
}
