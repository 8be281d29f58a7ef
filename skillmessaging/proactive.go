package skillmessaging

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The Proactive Events API (Alexa notifications) takes the same skill
// credentials as Skill Messaging with another scope. Sources for the rules
// below: Amazon's reference,
// https://developer.amazon.com/docs/smapi/proactive-events-api-reference.html
// (endpoints, stages, request body), and Amazon's Python SDK model,
// alexa/alexa-apis-for-python ask_sdk_model/services/proactive_events
// (CreateProactiveEventRequest: referenceId of 1 to 100 characters;
// ProactiveEventsServiceClient: POST /v1/proactiveEvents, with
// /stages/development for the development stage, scope
// alexa::proactive_events, answers 202, 400, 403, 409 for a duplicate
// referenceId of the same customer, 429 and 500).

// ProactiveEventsScope is the OAuth scope of a Proactive Events token.
const ProactiveEventsScope = "alexa::proactive_events"

// Stage is the skill stage an event is sent to.
type Stage string

// The two stages: events to the development stage reach only the skill's
// developers and testers, without the live notification limits.
const (
	StageDevelopment Stage = "development"
	StageLive        Stage = "live"
)

// Limits of an event, checked before it is sent.
const (
	// MinEventLifetime and MaxEventLifetime bound ExpiryTime after
	// Timestamp.
	MinEventLifetime = 5 * time.Minute
	MaxEventLifetime = 24 * time.Hour
	// MaxReferenceIDLen is the longest Event.ReferenceID.
	MaxReferenceIDLen = 100
)

// AudienceType is who receives an event.
type AudienceType string

// The two audiences: every user subscribed to the skill's notifications, or
// one user.
const (
	Multicast AudienceType = "Multicast"
	Unicast   AudienceType = "Unicast"
)

// Audience is an event's relevantAudience.
type Audience struct {
	Type AudienceType
	// UserID is the user of a Unicast event (context.System.user.userId);
	// empty for Multicast.
	UserID string
}

// Event is one proactive event.
type Event struct {
	// Timestamp is when the event happened; zero means now.
	Timestamp time.Time
	// ReferenceID identifies the event on your side: 1 to 100 letters,
	// digits, '~' or '-'. The API refuses a second event with the same
	// ReferenceID for the same user (409, ErrDuplicateEvent).
	ReferenceID string
	// ExpiryTime is when Alexa drops the notification if still pending:
	// MinEventLifetime to MaxEventLifetime after Timestamp.
	ExpiryTime time.Time
	// Name is the event schema, "AMAZON.<Schema>.<State>" such as
	// AMAZON.MessageAlert.Activated.
	Name string
	// Payload is the schema's payload; it must marshal to a JSON object.
	Payload any
	// LocalizedAttributes are the per-locale values the payload refers to
	// ("localizedattribute:<key>"); each needs a "locale".
	LocalizedAttributes []map[string]string
	// Audience is Multicast or Unicast with a user id.
	Audience Audience
}

// ProactiveEventsSender sends proactive events for one skill to one stage,
// with tokens of scope alexa::proactive_events. Tokens go only where a
// Sender's go (AlexaAPIHosts, loopback, WithAllowedHosts); throttling and
// server errors are retried the same way. It is safe for concurrent use.
type ProactiveEventsSender struct {
	skillID string
	stage   Stage
	tokens  *TokenSource
}

// NewProactiveEventsSender returns a sender of skillID's events to stage,
// with the credentials creds provides.
func NewProactiveEventsSender(creds CredentialsProvider, skillID string, stage Stage, opts ...Option) (*ProactiveEventsSender, error) {
	if stage != StageDevelopment && stage != StageLive {
		return nil, fmt.Errorf("skillmessaging: stage %q, want %q or %q", stage, StageDevelopment, StageLive)
	}
	ts, err := newTokenSource(creds, skillID, ProactiveEventsScope, opts)
	if err != nil {
		return nil, err
	}
	return &ProactiveEventsSender{skillID: skillID, stage: stage, tokens: ts}, nil
}

// Format implements fmt.Formatter: the skill and stage, never a token or a
// secret.
func (s *ProactiveEventsSender) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "skillmessaging.ProactiveEventsSender{skill: %s, stage: %s}", s.skillID, s.stage)
}

// Send posts ev to endpoint (the Alexa API endpoint of the users' region:
// EndpointNorthAmerica, EndpointEurope, or https://api.fe.amazonalexa.com).
// The event is checked first: an error matching ErrInvalidMessage or
// ErrInvalidEndpoint means nothing was sent. A refusal is an *Error with
// Service ServiceProactiveEvents (ErrInvalidMessage, ErrUnauthorized,
// ErrDuplicateEvent, ErrThrottled). A retried POST cannot notify twice: the
// API refuses the second one with 409, so ErrDuplicateEvent after more than
// one attempt means an earlier attempt was accepted.
func (s *ProactiveEventsSender) Send(ctx context.Context, endpoint string, ev Event) (*SendResult, error) {
	u, err := s.eventsURL(endpoint)
	if err != nil {
		return nil, fmt.Errorf("send proactive event for skill %s: %w", s.skillID, err)
	}
	body, err := encodeEvent(ev, s.tokens.set.now())
	if err != nil {
		return nil, fmt.Errorf("send proactive event %q for skill %s: %w", clip(ev.ReferenceID, 100), s.skillID, err)
	}
	res, err := s.tokens.post(ctx, ServiceProactiveEvents, u, body)
	if err != nil {
		return nil, publicError(fmt.Errorf("send proactive event %s for skill %s (attempts: %d): %w", ev.ReferenceID, s.skillID, res.Attempts, err))
	}
	return res, nil
}

func (s *ProactiveEventsSender) eventsURL(endpoint string) (string, error) {
	base, err := checkEndpoint(endpoint, s.tokens.set.extraHosts)
	if err != nil {
		return "", err
	}
	u := base.JoinPath("v1", "proactiveEvents")
	if s.stage == StageDevelopment {
		u = u.JoinPath("stages", "development")
	}
	return u.String(), nil
}

// encodeEvent checks ev against Amazon's rules and returns the request body.
func encodeEvent(ev Event, now time.Time) ([]byte, error) {
	if ev.Timestamp.IsZero() {
		ev.Timestamp = now
	}
	if err := checkReferenceID(ev.ReferenceID); err != nil {
		return nil, err
	}
	if life := ev.ExpiryTime.Sub(ev.Timestamp); life < MinEventLifetime || life > MaxEventLifetime {
		return nil, fmt.Errorf("%w: expiryTime is %s after timestamp, want %s to %s", ErrInvalidMessage, life.Round(time.Second), MinEventLifetime, MaxEventLifetime)
	}
	if parts := strings.Split(ev.Name, "."); len(parts) != 3 || parts[0] != "AMAZON" || parts[1] == "" || parts[2] == "" {
		return nil, fmt.Errorf("%w: event name %q, want AMAZON.<Schema>.<State>", ErrInvalidMessage, clip(ev.Name, 80))
	}
	payload, err := json.Marshal(ev.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload cannot be marshalled to JSON: %w", ErrInvalidMessage, err)
	}
	if len(payload) == 0 || payload[0] != '{' {
		return nil, fmt.Errorf("%w: payload must be a JSON object", ErrInvalidMessage)
	}
	localized := ev.LocalizedAttributes
	if localized == nil {
		localized = []map[string]string{}
	}
	for i, attrs := range localized {
		if attrs["locale"] == "" {
			return nil, fmt.Errorf("%w: localizedAttributes[%d] has no locale", ErrInvalidMessage, i)
		}
	}
	audience := map[string]any{"type": ev.Audience.Type, "payload": map[string]string{}}
	switch ev.Audience.Type {
	case Multicast:
		if ev.Audience.UserID != "" {
			return nil, fmt.Errorf("%w: a Multicast audience has no user id", ErrInvalidMessage)
		}
	case Unicast:
		if err := ValidateUserID(ev.Audience.UserID); err != nil {
			return nil, fmt.Errorf("%w: Unicast audience: %w", ErrInvalidMessage, err)
		}
		audience["payload"] = map[string]string{"user": ev.Audience.UserID}
	default:
		return nil, fmt.Errorf("%w: audience type %q, want %s or %s", ErrInvalidMessage, clip(string(ev.Audience.Type), 40), Multicast, Unicast)
	}
	const iso = "2006-01-02T15:04:05.000Z"
	return json.Marshal(map[string]any{
		"timestamp":           ev.Timestamp.UTC().Format(iso),
		"referenceId":         ev.ReferenceID,
		"expiryTime":          ev.ExpiryTime.UTC().Format(iso),
		"event":               map[string]any{"name": ev.Name, "payload": json.RawMessage(payload)},
		"localizedAttributes": localized,
		"relevantAudience":    audience,
	})
}

func checkReferenceID(id string) error {
	if id == "" || len(id) > MaxReferenceIDLen {
		return fmt.Errorf("%w: referenceId must be 1 to %d characters, not %d", ErrInvalidMessage, MaxReferenceIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '~' || c == '-') {
			return fmt.Errorf("%w: referenceId %q: byte %d is not a letter, digit, '~' or '-'", ErrInvalidMessage, clip(id, 100), i)
		}
	}
	return nil
}
