package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

func TestSend(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, e *env)
		user   string // default the env's known user
		msg    Message
		want   error // nil, a sentinel, or context.Canceled
		status int   // HTTP status of the last answer (in the result or the *Error)
		// requests to the messaging endpoint and LWA, and the retry delays
		// (-1 for any backoff)
		messaging, grants int
		sleeps            []time.Duration
	}{
		{name: "202", status: http.StatusAccepted, messaging: 1, grants: 1},
		{name: "400 invalid data", setup: func(t *testing.T, e *env) {
			e.fake.ScriptMessages(skillmessagingtest.Fault{Status: http.StatusBadRequest, Message: "Invalid data."})
		}, want: ErrInvalidMessage, status: http.StatusBadRequest, messaging: 1, grants: 1},
		{name: "403 then OK after a new token", setup: func(t *testing.T, e *env) {
			send(t, e) // a token in the cache...
			e.fake.ExpireTokens()
			e.fake.ResetLog() // ...that Amazon no longer takes
		}, status: http.StatusAccepted, messaging: 2, grants: 1},
		{name: "403 with a token just granted: no new token", setup: func(t *testing.T, e *env) {
			f := skillmessagingtest.Fault{Status: http.StatusForbidden, Message: "The authentication token is invalid."}
			e.fake.ScriptMessages(f)
		}, want: ErrUnauthorized, status: http.StatusForbidden, messaging: 1, grants: 1},
		{name: "403 twice with a cached token: one new token", setup: func(t *testing.T, e *env) {
			send(t, e)
			e.fake.ResetLog()
			f := skillmessagingtest.Fault{Status: http.StatusForbidden, Message: "The authentication token is invalid."}
			e.fake.ScriptMessages(f, f)
		}, want: ErrUnauthorized, status: http.StatusForbidden, messaging: 2, grants: 1},
		{name: "404 unknown user", user: "amzn1.ask.account.NOBODY", want: ErrUnknownUser, status: http.StatusNotFound, messaging: 1, grants: 1},
		{name: "429 with Retry-After then OK", setup: func(t *testing.T, e *env) {
			e.fake.ScriptMessages(skillmessagingtest.Throttled("3"))
		}, status: http.StatusAccepted, messaging: 2, grants: 1, sleeps: []time.Duration{3 * time.Second}},
		{name: "429 until out of attempts", setup: func(t *testing.T, e *env) {
			for range DefaultMaxAttempts {
				e.fake.ScriptMessages(skillmessagingtest.Throttled("1"))
			}
		}, want: ErrThrottled, status: http.StatusTooManyRequests, messaging: DefaultMaxAttempts, grants: 1,
			sleeps: []time.Duration{time.Second, time.Second, time.Second, time.Second}},
		{name: "500 then OK", setup: func(t *testing.T, e *env) {
			e.fake.ScriptMessages(skillmessagingtest.ServerError(http.StatusInternalServerError))
		}, status: http.StatusAccepted, messaging: 2, grants: 1, sleeps: []time.Duration{-1}},
		{name: "503, 502 then OK", setup: func(t *testing.T, e *env) {
			e.fake.ScriptMessages(skillmessagingtest.ServerError(http.StatusServiceUnavailable), skillmessagingtest.ServerError(http.StatusBadGateway))
		}, status: http.StatusAccepted, messaging: 3, grants: 1, sleeps: []time.Duration{-1, -1}},
		{name: "501 not retried", setup: func(t *testing.T, e *env) {
			e.fake.ScriptMessages(skillmessagingtest.ServerError(http.StatusNotImplemented))
		}, status: http.StatusNotImplemented, want: errAnyAPI, messaging: 1, grants: 1},
		{name: "not synced", setup: func(t *testing.T, e *env) {
			putSecret(t, e.prefix+e.skillID, fmt.Sprintf(`{"skillId":%q}`, e.skillID))
		}, want: ErrNotSynced},
		{name: "rotated credentials, one reload", setup: func(t *testing.T, e *env) {
			send(t, e)                     // the reader caches the credentials...
			e.rotate(t, 2, true)           // ...Amazon and the sync rotate them...
			e.clock.Advance(2 * time.Hour) // ...and the token expires
			e.fake.ResetLog()
		}, status: http.StatusAccepted, messaging: 1, grants: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			callsBefore := e.sm.calls.Load()
			user := tc.user
			if user == "" {
				user = e.user
			}
			msg := Message{Data: map[string]string{"event": "order-shipped", "order": "42"}, ExpiresAfterSeconds: 600}
			res, err := e.sender.Send(context.Background(), e.fake.Endpoint(), user, msg)
			switch {
			case tc.want == errAnyAPI:
				var api *Error
				if !errors.As(err, &api) {
					t.Fatalf("Send(%q) = %v; want an *Error", user, err)
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("Send(%q) = %v; want %v", user, err, tc.want)
			}
			if got := e.fake.MessageRequests(); got != tc.messaging {
				t.Errorf("%d messaging requests; want %d", got, tc.messaging)
			}
			if got := e.fake.TokenRequests(); got != tc.grants {
				t.Errorf("%d token requests; want %d", got, tc.grants)
			}
			checkSleeps(t, e.sleeps.All(), tc.sleeps)
			if tc.name == "rotated credentials, one reload" {
				if got := e.sm.calls.Load() - callsBefore; got != 1 {
					t.Errorf("%d reloads of the secret; want 1", got)
				}
			}
			if err != nil {
				assertClean(t, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
				var internal *alexahttp.APIError
				if errors.As(err, &internal) {
					t.Fatalf("Send(%q) = %v: the module's internal *alexahttp.APIError is reachable through Unwrap", user, err)
				}
				if tc.status == 0 {
					return
				}
				var api *Error
				if !errors.As(err, &api) || api.StatusCode != tc.status || api.RequestID == "" || api.Service != ServiceSkillMessaging {
					t.Fatalf("Send(%q) = %v; want the API's HTTP %d with a request id", user, err, tc.status)
				}
				if !strings.Contains(err.Error(), api.RequestID) || !strings.Contains(err.Error(), e.skillID) {
					t.Fatalf("Send(%q) = %q; want the request id and the skill id in the text", user, err)
				}
				return
			}
			msgs := e.fake.Messages()
			last := msgs[len(msgs)-1]
			if res.StatusCode != tc.status || res.RequestID != last.RequestID || res.Attempts != tc.messaging {
				t.Fatalf("Send(%q) = %+v; want %d, request id %s, %d attempts", user, res, tc.status, last.RequestID, tc.messaging)
			}
			if string(last.Data) != `{"event":"order-shipped","order":"42"}` || last.ExpiresAfterSeconds != 600 || last.UserID != user || last.SkillID != e.skillID {
				t.Fatalf("the fake received %+v; want the message for %s from %s", last, user, e.skillID)
			}
		})
	}
}

// errAnyAPI in a test case accepts any *Error.
var errAnyAPI = errors.New("any *Error")

// send sends one message that must be accepted.
func send(t *testing.T, e *env) {
	t.Helper()
	if _, err := e.sender.Send(context.Background(), e.fake.Endpoint(), e.user, Message{}); err != nil {
		t.Fatalf("Send = %v; want 202", err)
	}
}

func TestSendRefusesBeforeSending(t *testing.T) {
	big := map[string]string{"k": strings.Repeat("x", MaxDataBytes)}
	tests := []struct {
		name     string
		endpoint string // "" for the fake's
		user     string
		msg      Message
		want     error
	}{
		{name: "empty user", user: "", want: ErrInvalidUserID},
		{name: "traversal", user: "../../v1/skills", want: ErrInvalidUserID},
		{name: "dot dot", user: "..", want: ErrInvalidUserID},
		{name: "slash", user: "amzn1.ask.account.A/B", want: ErrInvalidUserID},
		{name: "query", user: "amzn1.ask.account.A?x=1", want: ErrInvalidUserID},
		{name: "too long", user: strings.Repeat("A", MaxUserIDBytes+1), want: ErrInvalidUserID},
		{name: "expiry too short", msg: Message{ExpiresAfterSeconds: 59}, want: ErrInvalidMessage},
		{name: "expiry too long", msg: Message{ExpiresAfterSeconds: 86401}, want: ErrInvalidMessage},
		{name: "negative expiry", msg: Message{ExpiresAfterSeconds: -1}, want: ErrInvalidMessage},
		{name: "data too large", msg: Message{Data: big}, want: ErrInvalidMessage},
		{name: "data just over the size", msg: Message{Data: map[string]string{"k": strings.Repeat("x", MaxDataBytes-7)}}, want: ErrInvalidMessage},
		{name: "plain http", endpoint: "http://api.amazonalexa.com", want: ErrInvalidEndpoint},
		{name: "another https host", endpoint: "https://attacker.example", want: ErrInvalidEndpoint},
		{name: "look-alike host", endpoint: "https://api.amazonalexa.com.attacker.example", want: ErrInvalidEndpoint},
		{name: "Alexa host on another port", endpoint: "https://api.amazonalexa.com:8443", want: ErrInvalidEndpoint},
		{name: "user info", endpoint: "https://api.amazonalexa.com@attacker.example", want: ErrInvalidEndpoint},
		{name: "other scheme", endpoint: "ftp://api.amazonalexa.com", want: ErrInvalidEndpoint},
		{name: "relative", endpoint: "api.amazonalexa.com", want: ErrInvalidEndpoint},
		{name: "query in endpoint", endpoint: "https://api.amazonalexa.com/?a=b", want: ErrInvalidEndpoint},
	}
	e := newEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := tc.endpoint
			if endpoint == "" {
				endpoint = e.fake.Endpoint()
			}
			user := tc.user
			if user == "" && tc.want != ErrInvalidUserID {
				user = e.user
			}
			if _, err := e.sender.Send(context.Background(), endpoint, user, tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("Send(%q) = %v; want %v", user, err, tc.want)
			}
		})
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d requests were made; want none", n)
	}
	if n := e.sm.calls.Load(); n != 0 {
		t.Fatalf("%d secrets were read; want none", n)
	}
}

func TestSendDefaults(t *testing.T) {
	tests := []struct {
		name     string
		msg      Message
		wantData string
	}{
		{"nil data", Message{}, `{}`},
		{"nil map", Message{Data: map[string]string(nil)}, `{}`},
		{"empty map", Message{Data: map[string]string{}}, `{}`},
		{"MaxDataBytes exactly", Message{Data: map[string]string{"k": strings.Repeat("x", MaxDataBytes-8)}}, `{"k":"` + strings.Repeat("x", MaxDataBytes-8) + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.sender.Send(context.Background(), e.fake.Endpoint(), e.user, tc.msg); err != nil {
				t.Fatalf("Send(%q) = %v; want 202", e.user, err)
			}
			m := e.fake.Messages()[0]
			if string(m.Data) != tc.wantData || m.ExpiresAfterSeconds != DefaultExpiresAfterSeconds {
				t.Fatalf("the fake received %s for %d s; want %s for %d s", m.Data, m.ExpiresAfterSeconds, tc.wantData, DefaultExpiresAfterSeconds)
			}
		})
	}
}

func TestSendWithinContext(t *testing.T) {
	e := newEnv(t)
	e.fake.ScriptMessages(skillmessagingtest.ServerError(http.StatusServiceUnavailable))
	ctx, cancel := context.WithCancel(context.Background())
	opts := append(e.options(), withSleep(func(ctx context.Context, d time.Duration) error {
		cancel() // the caller gives up while the sender waits
		<-ctx.Done()
		return ctx.Err()
	}))
	s, err := NewSender(e.cache, e.skillID, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, e.fake.Endpoint(), e.user, Message{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send(%q) = %v; want %v", e.user, err, context.Canceled)
	}
	if n := e.fake.MessageRequests(); n != 1 {
		t.Fatalf("%d messaging requests; want 1", n)
	}

	// A deadline too close for the Retry-After: no sleep past it.
	e.fake.ScriptMessages(skillmessagingtest.Throttled("30"))
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	_, err = e.sender.Send(ctx, e.fake.Endpoint(), e.user, Message{})
	if !errors.Is(err, ErrThrottled) || len(e.sleeps.All()) != 0 {
		t.Fatalf("Send with 5 s left and Retry-After 30 s = %v after sleeping %v; want %v without sleeping", err, e.sleeps.All(), ErrThrottled)
	}
}

func TestMessageURL(t *testing.T) {
	tests := []struct {
		endpoint, user, want string
	}{
		{EndpointNorthAmerica, "amzn1.ask.account.ABC", "https://api.amazonalexa.com/v1/skillmessages/users/amzn1.ask.account.ABC"},
		{EndpointEurope + "/", "amzn1.ask.account.ABC", "https://api.eu.amazonalexa.com/v1/skillmessages/users/amzn1.ask.account.ABC"},
		{EndpointFarEast, "a_b-c", "https://api.fe.amazon.com/v1/skillmessages/users/a_b-c"},
		{"https://api.fe.amazonalexa.com", "a", "https://api.fe.amazonalexa.com/v1/skillmessages/users/a"},
		{"https://API.EU.AMAZONALEXA.COM:443", "a", "https://API.EU.AMAZONALEXA.COM:443/v1/skillmessages/users/a"},
		{"http://127.0.0.1:8080/prefix", "amzn1.ask.account.X", "http://127.0.0.1:8080/prefix/v1/skillmessages/users/amzn1.ask.account.X"},
	}
	for _, tc := range tests {
		got, err := messageURL(tc.endpoint, tc.user, nil)
		if err != nil || got != tc.want {
			t.Errorf("messageURL(%q) = %q, %v; want %v", tc.endpoint+" "+tc.user, got, err, tc.want)
		}
	}
}

// TestLWARefusalInSend: a Send whose token LWA refuses says so in this
// library's words (not the credential sync's advice about its LWA secret),
// with the LWA attempts on the *Error and no "attempts: 0" for the API it
// never reached.
func TestLWARefusalInSend(t *testing.T) {
	e := newEnv(t)
	creds := StaticCredentials(Credentials{ClientID: "amzn1.application-oa2-client.test", ClientSecret: Secret("wrong-" + never)})
	s, err := NewSender(creds, e.skillID, e.options()...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Send(context.Background(), e.fake.Endpoint(), e.user, Message{})
	var api *Error
	if !errors.Is(err, ErrCredentialsRefused) || !errors.As(err, &api) || api.Service != ServiceLWA || api.Attempts != 1 || api.RequestID == "" {
		t.Fatalf("Send = %#v; want LWA's invalid_client after 1 grant request", err)
	}
	text := err.Error()
	assertClean(t, text)
	for _, bad := range []string{"refreshToken", "LWA secret", "attempts: 0"} {
		if strings.Contains(text, bad) {
			t.Errorf("Send = %q; it says %q", text, bad)
		}
	}
	if !strings.Contains(text, "credential sync has not run") || !strings.Contains(text, "(attempts: 1)") {
		t.Errorf("Send = %q; want the library's hint and the attempt count", text)
	}
	if res == nil || res.Attempts != 0 || e.fake.MessageRequests() != 0 {
		t.Fatalf("Send result = %+v, %d messaging requests; want none", res, e.fake.MessageRequests())
	}
}
