package skillmessaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

func newEventSender(t *testing.T, e *env) *ProactiveEventsSender {
	t.Helper()
	s, err := NewProactiveEventsSender(e.cache, e.skillID, e.options()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func orderEvent(ref string) Event {
	now := time.Now()
	return Event{
		Timestamp: now, ReferenceID: ref, ExpiryTime: now.Add(time.Hour),
		Name: "AMAZON.OrderStatus.Updated",
		Payload: map[string]any{"state": map[string]string{"status": "ORDER_SHIPPED"},
			"order": map[string]any{"seller": map[string]string{"name": "localizedattribute:sellerName"}}},
		LocalizedAttributes: []map[string]string{{"locale": "en-US", "sellerName": "Example Store"}},
		Audience:            Audience{Type: Multicast},
	}
}

func TestProactiveEvents(t *testing.T) {
	forbidden := skillmessagingtest.Fault{Status: http.StatusForbidden, Message: "The authentication token is invalid or doesn't have authentication to access the resource"}
	tests := []struct {
		name      string
		stage     Stage
		setup     func(t *testing.T, e *env, s *ProactiveEventsSender)
		event     func(e *env) Event
		want      error
		notWant   error
		status    int
		requests  int
		tokens    int // token requests of the Send itself
		wantPath  string
		wantSleep []time.Duration
	}{
		{name: "development multicast", stage: StageDevelopment, status: http.StatusAccepted, requests: 1, tokens: 1, wantPath: "/alexa/v1/proactiveEvents/stages/development"},
		{name: "live unicast", stage: StageLive, event: func(e *env) Event {
			ev := orderEvent("order42")
			ev.Audience = Audience{Type: Unicast, UserID: e.user}
			return ev
		}, status: http.StatusAccepted, requests: 1, tokens: 1, wantPath: "/alexa/v1/proactiveEvents"},
		{name: "caller's own duplicate", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageLive, orderEvent("order42")); err != nil {
				t.Fatal(err)
			}
			e.fake.ResetLog()
		}, want: ErrDuplicateEvent, notWant: ErrRetriedDuplicate, status: http.StatusConflict, requests: 1},
		{name: "500 then 409: accepted by the first attempt", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			// The first attempt was accepted but answered 500; the retry is a
			// duplicate (scripted: the fake stores no event on a fault).
			e.fake.ScriptEvents(skillmessagingtest.ServerError(http.StatusInternalServerError), skillmessagingtest.Fault{Status: http.StatusConflict, Message: "duplicate"})
		}, want: ErrRetriedDuplicate, notWant: ErrDuplicateEvent, status: http.StatusConflict, requests: 2, tokens: 1, wantSleep: []time.Duration{-1}},
		{name: "429 then accepted", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Throttled("2"))
		}, status: http.StatusAccepted, requests: 2, tokens: 1, wantSleep: []time.Duration{2 * time.Second}},
		{name: "Retry-After of a minute is waited", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Throttled("60"))
		}, status: http.StatusAccepted, requests: 2, tokens: 1, wantSleep: []time.Duration{time.Minute}},
		{name: "Retry-After over the cap ends the send", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Throttled("61"))
		}, want: ErrThrottled, status: http.StatusTooManyRequests, requests: 1, tokens: 1},
		{name: "500 then accepted", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.ServerError(http.StatusInternalServerError))
		}, status: http.StatusAccepted, requests: 2, tokens: 1, wantSleep: []time.Duration{-1}},
		{name: "server errors to the end", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			f := skillmessagingtest.ServerError(http.StatusServiceUnavailable)
			e.fake.ScriptEvents(f, f, f, f, f)
		}, want: ErrServerError, status: http.StatusServiceUnavailable, requests: DefaultMaxAttempts, tokens: 1, wantSleep: []time.Duration{-1, -1, -1, -1}},
		{name: "432 notification limit", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Fault{Status: 432, Message: "Notification limit exceeded"})
		}, want: ErrNotificationLimit, status: 432, requests: 1, tokens: 1},
		{name: "403 with a token just granted: no new token", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(forbidden)
		}, want: ErrUnauthorized, status: http.StatusForbidden, requests: 1, tokens: 1},
		{name: "403 with a cached token: one new token", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageLive, orderEvent("first")); err != nil {
				t.Fatal(err)
			}
			e.fake.ResetLog()
			e.fake.ScriptEvents(forbidden, forbidden)
		}, want: ErrUnauthorized, status: http.StatusForbidden, requests: 2, tokens: 1},
		{name: "403 again within a minute: the token is kept", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageLive, orderEvent("first")); err != nil {
				t.Fatal(err)
			}
			e.fake.ScriptEvents(forbidden, forbidden)
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageLive, orderEvent("second")); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Send = %v; want %v", err, ErrUnauthorized)
			}
			e.clock.Advance(refusedTokenRecheck - time.Second)
			e.fake.ResetLog()
			e.fake.ScriptEvents(forbidden)
		}, want: ErrUnauthorized, status: http.StatusForbidden, requests: 1, tokens: 0},
		{name: "403 again a minute later: one new token", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageLive, orderEvent("first")); err != nil {
				t.Fatal(err)
			}
			e.fake.ScriptEvents(forbidden, forbidden)
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageLive, orderEvent("second")); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Send = %v; want %v", err, ErrUnauthorized)
			}
			e.clock.Advance(refusedTokenRecheck)
			e.fake.ResetLog()
			e.fake.ScriptEvents(forbidden, forbidden)
		}, want: ErrUnauthorized, status: http.StatusForbidden, requests: 2, tokens: 1},
		{name: "400 from the API", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Fault{Status: http.StatusBadRequest, Message: "Invalid event schema"})
		}, want: ErrInvalidMessage, status: http.StatusBadRequest, requests: 1, tokens: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := newEventSender(t, e)
			if tc.setup != nil {
				tc.setup(t, e, s)
			}
			ev := orderEvent("order42")
			if tc.event != nil {
				ev = tc.event(e)
			}
			res, err := s.Send(context.Background(), e.fake.Endpoint(), tc.stage, ev)
			if !errors.Is(err, tc.want) || (tc.notWant != nil && errors.Is(err, tc.notWant)) {
				t.Fatalf("Send = %v; want %v (and not %v)", err, tc.want, tc.notWant)
			}
			if got := e.fake.EventRequests(); got != tc.requests {
				t.Errorf("%d event requests; want %d", got, tc.requests)
			}
			if got := e.fake.TokenRequests(); got != tc.tokens {
				t.Errorf("%d token requests; want %d", got, tc.tokens)
			}
			if res == nil || res.Attempts != tc.requests || res.StatusCode != tc.status {
				t.Fatalf("Send result = %+v; want %d attempts ending in %d", res, tc.requests, tc.status)
			}
			checkSleeps(t, e.sleeps.All(), tc.wantSleep)
			for _, r := range e.fake.Requests() {
				if r.GrantType == "client_credentials" && r.Scope != ProactiveEventsScope {
					t.Errorf("token request scope %q; want %q", r.Scope, ProactiveEventsScope)
				}
			}
			if err != nil {
				assertClean(t, err.Error())
				var api *Error
				if !errors.As(err, &api) || api.StatusCode != tc.status || api.Service != ServiceProactiveEvents || api.RequestID == "" ||
					api.RequestID != res.RequestID || api.Attempts != tc.requests {
					t.Fatalf("Send = %#v; want the API's %d with a request id after %d attempts", err, tc.status, tc.requests)
				}
				if api.Message != "" && api.APICode != tc.status {
					t.Errorf("Error.APICode = %d; want the body's code %d", api.APICode, tc.status)
				}
				return
			}
			evs := e.fake.Events()
			got := evs[len(evs)-1]
			if res.RequestID != got.RequestID {
				t.Fatalf("Send = %+v; want request id %s", res, got.RequestID)
			}
			if got.SkillID != e.skillID || got.Stage != string(tc.stage) || got.ReferenceID != "order42" || got.Name != "AMAZON.OrderStatus.Updated" || got.UserID != ev.Audience.UserID {
				t.Fatalf("the fake received %+v; want the event", got)
			}
			var body map[string]any
			if err := json.Unmarshal(got.Body, &body); err != nil || body["timestamp"] == nil || body["expiryTime"] == nil || body["localizedAttributes"] == nil {
				t.Fatalf("body %s: want timestamp, expiryTime and localizedAttributes", got.Body)
			}
			if tc.wantPath != "" {
				found := false
				for _, r := range e.fake.Requests() {
					found = found || r.Path == tc.wantPath
				}
				if !found {
					t.Errorf("no request to %s in %+v", tc.wantPath, e.fake.Requests())
				}
			}
		})
	}
}

// TestOneTokenForBothStages: the stage is chosen per call, and both stages
// use one token of scope alexa::proactive_events.
func TestOneTokenForBothStages(t *testing.T) {
	e := newEnv(t)
	s := newEventSender(t, e)
	for i, stage := range []Stage{StageDevelopment, StageLive, StageDevelopment} {
		if _, err := s.Send(context.Background(), e.fake.Endpoint(), stage, orderEvent(fmt.Sprintf("ref%d", i))); err != nil {
			t.Fatalf("Send to %s = %v", stage, err)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for both stages; want 1", n)
	}
	var stages []string
	for _, ev := range e.fake.Events() {
		stages = append(stages, ev.Stage)
	}
	if got := strings.Join(stages, ","); got != "development,live,development" {
		t.Fatalf("events went to %s", got)
	}
}

// TestProactiveEventRefusedBeforeSending: every rule of Amazon's is checked
// here, each case on its own: the error is ErrInvalidMessage without an
// answer of the service (*Error), no result, and no request at all, so that
// the case fails if the client-side check is deleted (the fake, as strict as
// Amazon, would then answer 400, an *Error). The same events are refused by
// the fake in skillmessagingtest's TestProactiveEventRules.
func TestProactiveEventRefusedBeforeSending(t *testing.T) {
	e := newEnv(t)
	s := newEventSender(t, e)
	now := e.clock.Now()
	tests := []struct {
		name   string
		change func(ev *Event)
		text   string // in the error
	}{
		{"empty referenceId", func(ev *Event) { ev.ReferenceID = "" }, "referenceId must be 1 to 100"},
		{"long referenceId", func(ev *Event) { ev.ReferenceID = strings.Repeat("a", MaxReferenceIDLen+1) }, "referenceId must be 1 to 100"},
		{"referenceId with -", func(ev *Event) { ev.ReferenceID = "order-42-shipped" }, "byte 5 is not an ASCII letter, digit or '~'"},
		{"referenceId with /", func(ev *Event) { ev.ReferenceID = "a/b" }, "byte 1"},
		{"referenceId with é", func(ev *Event) { ev.ReferenceID = "caf\u00e9" }, "byte 3"},
		{"no expiry", func(ev *Event) { ev.ExpiryTime = time.Time{} }, "expiryTime is required"},
		{"expiry already past", func(ev *Event) {
			ev.Timestamp, ev.ExpiryTime = now.Add(-2*time.Hour), now.Add(-time.Hour)
		}, "less than 5m0s after now"},
		{"expiry under 5 minutes from now", func(ev *Event) { ev.ExpiryTime = now.Add(MinExpiryAfterNow - time.Second) }, "less than 5m0s after now"},
		{"expiry over 24 hours after timestamp", func(ev *Event) { ev.ExpiryTime = ev.Timestamp.Add(MaxExpiryAfterTimestamp + time.Second) }, "more than 24h0m0s after timestamp"},
		{"name without AMAZON.", func(ev *Event) { ev.Name = "OrderStatus.Updated" }, "event name"},
		{"name with two parts", func(ev *Event) { ev.Name = "AMAZON.OrderStatus" }, "event name"},
		{"payload not an object", func(ev *Event) { ev.Payload = []string{"x"} }, "payload must be a JSON object"},
		{"payload nil", func(ev *Event) { ev.Payload = nil }, "payload must be a JSON object"},
		{"payload unmarshalable", func(ev *Event) { ev.Payload = map[string]any{"f": func() {}} }, "payload cannot be marshalled"},
		{"attribute without locale", func(ev *Event) { ev.LocalizedAttributes = []map[string]string{{"sellerName": "x"}} }, "has no locale"},
		{"no audience", func(ev *Event) { ev.Audience = Audience{} }, "audience type"},
		{"multicast with a user", func(ev *Event) { ev.Audience = Audience{Type: Multicast, UserID: "amzn1.ask.account.A"} }, "Multicast audience has no user"},
		{"unicast without a user", func(ev *Event) { ev.Audience = Audience{Type: Unicast} }, "Unicast audience"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.ResetLog()
			ev := orderEvent("order1")
			ev.Timestamp, ev.ExpiryTime = now, now.Add(time.Hour)
			tc.change(&ev)
			res, err := s.Send(context.Background(), e.fake.Endpoint(), StageDevelopment, ev)
			var api *Error
			if !errors.Is(err, ErrInvalidMessage) || errors.As(err, &api) || res != nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Send = %v, %v; want a client-side %v saying %q and no result", res, err, ErrInvalidMessage, tc.text)
			}
			if n := len(e.fake.Requests()); n != 0 {
				t.Fatalf("%d requests were made; want none", n)
			}
		})
	}
	for _, endpoint := range []string{"https://events.attacker.example", "http://api.amazonalexa.com"} {
		if _, err := s.Send(context.Background(), endpoint, StageDevelopment, orderEvent("order1")); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("Send to %s = %v; want %v", endpoint, err, ErrInvalidEndpoint)
		}
	}
	if _, err := s.Send(context.Background(), e.fake.Endpoint(), "beta", orderEvent("order1")); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf(`Send to stage "beta" = %v; want %v`, err, ErrInvalidEndpoint)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d requests were made; want none", n)
	}
	// Defaults: a zero timestamp is now; no localized attributes is []; the
	// referenceId may hold '~'; the expiry may be exactly 24 hours after the
	// timestamp.
	ev := orderEvent("order~2")
	ev.Timestamp, ev.LocalizedAttributes, ev.ExpiryTime = time.Time{}, nil, now.Add(MaxExpiryAfterTimestamp)
	ev.Payload = map[string]any{"state": map[string]string{"status": "ORDER_SHIPPED"}}
	if _, err := s.Send(context.Background(), e.fake.Endpoint(), StageDevelopment, ev); err != nil {
		t.Fatalf("Send with defaults = %v; want 202", err)
	}
	if got := fmtAll(s); strings.Contains(got, never) || !strings.Contains(got, e.skillID) {
		t.Fatalf("a ProactiveEventsSender prints as %q", got)
	}
}

func fmtAll(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		b.WriteString(fmt.Sprintf(verb, v))
	}
	return b.String()
}
