package skillmessagingtest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// referenceID is Amazon's rule for a referenceId (see below).
var referenceID = regexp.MustCompile(`^[A-Za-z0-9~]{1,100}$`)

// The Proactive Events API, POST /v1/proactiveEvents (live) and
// /v1/proactiveEvents/stages/development, with a token of scope
// alexa::proactive_events. Sources:
//   - Amazon's reference,
//     https://developer.amazon.com/docs/smapi/proactive-events-api-reference.html:
//     expiryTime at least 5 minutes after the current time and at most 24
//     hours after timestamp; relevantAudience Unicast with payload.user, or
//     Multicast with an empty payload; HTTP 432 over the notification limits
//     of a live skill (script it with Fault{Status: 432});
//   - Amazon's Python SDK model, alexa/alexa-apis-for-python
//     ask_sdk_model/services/proactive_events: referenceId "alphanumeric and
//     ~", 1 to 100 characters (^[A-Za-z0-9~]{1,100}$); answers 202, 400,
//     403, 409 for a duplicate referenceId of the same customer, 429, 500;
//     error body {"code" (integer), "message"}.
const (
	// EventsPath is the live stage's endpoint below the fake's URL; the
	// development stage's is EventsPath + "/stages/development".
	EventsPath = AlexaPrefix + "/v1/proactiveEvents"
)

// Event is one proactive event the fake accepted with 202.
type Event struct {
	SkillID string
	// Stage is "live" or "development".
	Stage       string
	ReferenceID string
	Name        string
	// Audience is "Multicast" or "Unicast"; UserID is set for Unicast.
	Audience string
	UserID   string
	// Body is the request body as received.
	Body      json.RawMessage
	RequestID string
}

// ScriptEvents queues faults for the next Proactive Events requests that
// carry a valid token, one each.
func (s *Server) ScriptEvents(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eventFaults = append(s.eventFaults, faults...)
}

// Events returns the events accepted so far, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// EventRequests returns how many requests reached the Proactive Events
// endpoints, whatever their answer.
func (s *Server) EventRequests() int {
	return s.count(func(r Request) bool { return strings.HasPrefix(r.Path, EventsPath) })
}

func (s *Server) answerEvent(stage string) func(*http.Request) Answer {
	return func(r *http.Request) Answer {
		skillID, authorized := s.authorized(r, ProactiveEventsScope)
		if !authorized {
			return Answer{Status: http.StatusForbidden, Message: "The authentication token is invalid or doesn't have authentication to access the resource"}
		}
		s.mu.Lock()
		fault := pop(&s.eventFaults)
		s.mu.Unlock()
		a := Answer{Fault: fault, SkillID: skillID, Authorized: true}
		if fault.Status != 0 {
			return a
		}
		ev, problem := decodeEvent(r, time.Now())
		if problem != "" {
			a.Status, a.Message = http.StatusBadRequest, problem
			return a
		}
		ev.SkillID, ev.Stage, ev.RequestID = skillID, stage, requestID(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, old := range s.events {
			if old.SkillID == skillID && old.Stage == stage && old.ReferenceID == ev.ReferenceID && old.UserID == ev.UserID {
				a.Status, a.Message = http.StatusConflict, "A skill attempts to create duplicate events using the same referenceId for the same customer."
				return a
			}
		}
		s.events = append(s.events, ev)
		a.Status = http.StatusAccepted
		return a
	}
}

// decodeEvent checks an event as the API documents it.
func decodeEvent(r *http.Request, now time.Time) (Event, string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return Event{}, "Content-Type must be application/json."
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		return Event{}, "The request body could not be read."
	}
	var e struct {
		Timestamp   *time.Time `json:"timestamp"`
		ReferenceID string     `json:"referenceId"`
		ExpiryTime  *time.Time `json:"expiryTime"`
		Event       struct {
			Name    string          `json:"name"`
			Payload json.RawMessage `json:"payload"`
		} `json:"event"`
		Localized []map[string]any `json:"localizedAttributes"`
		Audience  struct {
			Type    string            `json:"type"`
			Payload map[string]string `json:"payload"`
		} `json:"relevantAudience"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, "The request body is not valid JSON."
	}
	switch {
	case e.Timestamp == nil || e.ExpiryTime == nil:
		return Event{}, "timestamp and expiryTime are required (ISO 8601)."
	case !referenceID.MatchString(e.ReferenceID):
		return Event{}, "referenceId must be 1 to 100 alphanumeric characters or ~."
	case e.ExpiryTime.Sub(now) < 5*time.Minute:
		return Event{}, "expiryTime must be at least 5 minutes in the future."
	case e.ExpiryTime.Sub(*e.Timestamp) > 24*time.Hour:
		return Event{}, "expiryTime must be at most 24 hours after timestamp."
	case !strings.HasPrefix(e.Event.Name, "AMAZON.") || strings.Count(e.Event.Name, ".") != 2:
		return Event{}, "event.name must be a supported schema name."
	case len(bytes.TrimSpace(e.Event.Payload)) == 0 || bytes.TrimSpace(e.Event.Payload)[0] != '{':
		return Event{}, "event.payload must be an object."
	case e.Localized == nil:
		return Event{}, "localizedAttributes is required."
	}
	for _, a := range e.Localized {
		if l, _ := a["locale"].(string); l == "" {
			return Event{}, "Every localizedAttributes item needs a locale."
		}
	}
	ev := Event{ReferenceID: e.ReferenceID, Name: e.Event.Name, Audience: e.Audience.Type, Body: body}
	switch e.Audience.Type {
	case "Multicast":
		if len(e.Audience.Payload) != 0 {
			return Event{}, "relevantAudience.payload must be empty for Multicast."
		}
	case "Unicast":
		ev.UserID = e.Audience.Payload["user"]
		if ev.UserID == "" {
			return Event{}, "relevantAudience.payload.user is required for Unicast."
		}
	default:
		return Event{}, "relevantAudience.type must be Multicast or Unicast."
	}
	return ev, ""
}
