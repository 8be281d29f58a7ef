package smapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

// TestRecordedAnswers replays the real-shape answers in testdata/smapi
// through the shared fake and checks what the client makes of them.
func TestRecordedAnswers(t *testing.T) {
	t.Run("SMAPI errors", func(t *testing.T) {
		for _, tc := range []struct {
			fixture string
			status  int
			want    string
		}{
			{"error-404.json", http.StatusNotFound, "The resource being requested was not found."},
			{"error-429.json", http.StatusTooManyRequests, "Rate exceeded."},
		} {
			c, fake, _ := newTestClient(t)
			c.Retrier.MaxAttempts = 1
			fake.Script(skillA, skillmessagingtest.Fault{Status: tc.status, Body: string(readFixture(t, tc.fixture))})
			_, err := c.GetSkillCredentials(context.Background(), skillA)
			var api *APIError
			if !errors.As(err, &api) || api.StatusCode != tc.status || api.Message != tc.want || api.RequestID == "" {
				t.Errorf("%s: error = %v; want HTTP %d with message %q and a request id", tc.fixture, err, tc.status, tc.want)
			}
		}
	})
	t.Run("LWA token", func(t *testing.T) {
		ts := tokenSourceAnswering(t, http.StatusOK, "lwa-token-ok.json")
		tok, err := ts.Token()
		if err != nil || tok.AccessToken != "Atza|fixture-access-token" || time.Until(tok.Expiry) < 59*time.Minute {
			t.Fatalf("Token() = %v, %v; want the fixture's token valid for an hour", tok, err)
		}
		if got := ts.RefreshToken().Reveal(); got != "Atzr|fixture-refresh-token" {
			t.Fatalf("RefreshToken() = %q; want the refresh token of the answer", got)
		}
	})
	t.Run("LWA invalid_grant", func(t *testing.T) {
		ts := tokenSourceAnswering(t, http.StatusBadRequest, "lwa-invalid-grant.json")
		_, err := ts.Token()
		var api *APIError
		if !errors.As(err, &api) || api.Code != "invalid_grant" || !api.NeedsNewRefreshToken() || !strings.Contains(api.Message, "invalid grant parameter") {
			t.Fatalf("Token() error = %v; want LWA invalid_grant with its description", err)
		}
	})
}

// tokenSourceAnswering returns a TokenSource whose first refresh gets the
// recorded LWA answer in testdata/smapi/fixture with status.
func tokenSourceAnswering(t *testing.T, status int, fixture string) *TokenSource {
	t.Helper()
	fake := smapitest.New()
	t.Cleanup(fake.Close)
	fake.ScriptToken(skillmessagingtest.Fault{Status: status, Body: string(readFixture(t, fixture))})
	ts := NewTokenSource(fake.TokenURL(), NewHTTPClient(time.Second))
	ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
	return ts
}
