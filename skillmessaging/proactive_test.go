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

func newEventSender(t *testing.T, e *env, stage Stage) *ProactiveEventsSender {
	t.Helper()
	s, err := NewProactiveEventsSender(e.cache, e.skillID, stage, e.options()...)
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
	tests := []struct {
		name      string
		stage     Stage
		setup     func(t *testing.T, e *env, s *ProactiveEventsSender)
		event     func(e *env) Event
		want      error
		status    int
		requests  int
		wantPath  string
		wantSleep []time.Duration
	}{
		{name: "development multicast", stage: StageDevelopment, status: http.StatusAccepted, requests: 1, wantPath: "/alexa/v1/proactiveEvents/stages/development"},
		{name: "live unicast", stage: StageLive, event: func(e *env) Event {
			ev := orderEvent("order-42")
			ev.Audience = Audience{Type: Unicast, UserID: e.user}
			return ev
		}, status: http.StatusAccepted, requests: 1, wantPath: "/alexa/v1/proactiveEvents"},
		{name: "duplicate referenceId", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			if _, err := s.Send(context.Background(), e.fake.Endpoint(), orderEvent("order-42")); err != nil {
				t.Fatal(err)
			}
			e.fake.ResetLog()
		}, want: ErrDuplicateEvent, status: http.StatusConflict, requests: 1},
		{name: "429 then accepted", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Throttled("2"))
		}, status: http.StatusAccepted, requests: 2, wantSleep: []time.Duration{2 * time.Second}},
		{name: "500 then accepted", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.ServerError(http.StatusInternalServerError))
		}, status: http.StatusAccepted, requests: 2, wantSleep: []time.Duration{-1}},
		{name: "403 twice", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			f := skillmessagingtest.Fault{Status: http.StatusForbidden, Message: "The authentication token is invalid"}
			e.fake.ScriptEvents(f, f)
		}, want: ErrUnauthorized, status: http.StatusForbidden, requests: 2},
		{name: "400 from the API", stage: StageLive, setup: func(t *testing.T, e *env, s *ProactiveEventsSender) {
			e.fake.ScriptEvents(skillmessagingtest.Fault{Status: http.StatusBadRequest, Message: "Invalid event schema"})
		}, want: ErrInvalidMessage, status: http.StatusBadRequest, requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := newEventSender(t, e, tc.stage)
			if tc.setup != nil {
				tc.setup(t, e, s)
			}
			ev := orderEvent("order-42")
			if tc.event != nil {
				ev = tc.event(e)
			}
			res, err := s.Send(context.Background(), e.fake.Endpoint(), ev)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Send = %v; want %v", err, tc.want)
			}
			if got := e.fake.EventRequests(); got != tc.requests {
				t.Errorf("%d event requests; want %d", got, tc.requests)
			}
			checkSleeps(t, e.sleeps.All(), tc.wantSleep)
			reqs := e.fake.Requests()
			if len(reqs) > 0 && reqs[0].GrantType == "client_credentials" && reqs[0].Scope != ProactiveEventsScope {
				t.Errorf("token request scope %q; want %q", reqs[0].Scope, ProactiveEventsScope)
			}
			if err != nil {
				assertClean(t, err.Error())
				var api *Error
				if !errors.As(err, &api) || api.StatusCode != tc.status || api.Service != ServiceProactiveEvents || api.RequestID == "" {
					t.Fatalf("Send = %#v; want the API's %d with a request id", err, tc.status)
				}
				return
			}
			evs := e.fake.Events()
			got := evs[len(evs)-1]
			if res.StatusCode != tc.status || res.RequestID != got.RequestID || res.Attempts != tc.requests {
				t.Fatalf("Send = %+v; want %d with request id %s after %d attempts", res, tc.status, got.RequestID, tc.requests)
			}
			if got.SkillID != e.skillID || got.Stage != string(tc.stage) || got.ReferenceID != "order-42" || got.Name != "AMAZON.OrderStatus.Updated" || got.UserID != ev.Audience.UserID {
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

func TestProactiveEventRefusedBeforeSending(t *testing.T) {
	e := newEnv(t)
	s := newEventSender(t, e, StageDevelopment)
	change := map[string]func(*Event){
		"empty referenceId":     func(ev *Event) { ev.ReferenceID = "" },
		"long referenceId":      func(ev *Event) { ev.ReferenceID = strings.Repeat("a", MaxReferenceIDLen+1) },
		"referenceId with /":    func(ev *Event) { ev.ReferenceID = "a/b" },
		"expiry too soon":       func(ev *Event) { ev.ExpiryTime = ev.Timestamp.Add(MinEventLifetime - time.Second) },
		"expiry too late":       func(ev *Event) { ev.ExpiryTime = ev.Timestamp.Add(MaxEventLifetime + time.Second) },
		"no expiry":             func(ev *Event) { ev.ExpiryTime = time.Time{} },
		"name without AMAZON.":  func(ev *Event) { ev.Name = "OrderStatus.Updated" },
		"name with two parts":   func(ev *Event) { ev.Name = "AMAZON.OrderStatus" },
		"payload not an object": func(ev *Event) { ev.Payload = []string{"x"} },
		"payload nil":           func(ev *Event) { ev.Payload = nil },
		"payload unmarshalable": func(ev *Event) { ev.Payload = map[string]any{"f": func() {}} },
		"attribute no locale":   func(ev *Event) { ev.LocalizedAttributes = []map[string]string{{"sellerName": "x"}} },
		"no audience":           func(ev *Event) { ev.Audience = Audience{} },
		"multicast with user":   func(ev *Event) { ev.Audience = Audience{Type: Multicast, UserID: "amzn1.ask.account.A"} },
		"unicast without user":  func(ev *Event) { ev.Audience = Audience{Type: Unicast} },
	}
	for name, f := range change {
		ev := orderEvent("order-1")
		f(&ev)
		if _, err := s.Send(context.Background(), e.fake.Endpoint(), ev); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: Send = %v; want %v", name, err, ErrInvalidMessage)
		}
	}
	for _, endpoint := range []string{"https://events.attacker.example", "http://api.amazonalexa.com"} {
		if _, err := s.Send(context.Background(), endpoint, orderEvent("order-1")); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("Send to %s = %v; want %v", endpoint, err, ErrInvalidEndpoint)
		}
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d requests were made; want none", n)
	}
	// Defaults: a zero timestamp is now; no localized attributes is [].
	ev := orderEvent("order-2")
	ev.Timestamp, ev.LocalizedAttributes = time.Time{}, nil
	ev.Payload = map[string]any{"state": map[string]string{"status": "ORDER_SHIPPED"}}
	if _, err := s.Send(context.Background(), e.fake.Endpoint(), ev); err != nil {
		t.Fatalf("Send with defaults = %v; want 202", err)
	}
	if _, err := NewProactiveEventsSender(e.cache, e.skillID, "beta"); err == nil {
		t.Fatal(`NewProactiveEventsSender(stage "beta") succeeded; want an error`)
	}
	if got := fmtAll(s); strings.Contains(got, never) || !strings.Contains(got, "development") {
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
