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
// below:
//   - Amazon's reference,
//     https://developer.amazon.com/docs/smapi/proactive-events-api-reference.html:
//     endpoints and stages, the request body, expiryTime at least 5 minutes
//     after the current time and at most 24 hours after timestamp,
//     relevantAudience Unicast (payload.user) or Multicast (empty payload),
//     HTTP 432 for a live skill over its notification limits;
//   - Amazon's Python SDK model, alexa/alexa-apis-for-python
//     ask_sdk_model/services/proactive_events: CreateProactiveEventRequest
//     ("The allowed characters for the referenceId field are alphanumeric
//     and ~, and the length of the referenceId field must be 1-100
//     characters", that is ^[A-Za-z0-9~]{1,100}$), RelevantAudienceType
//     Unicast and Multicast, Error {code (integer), message},
//     ProactiveEventsServiceClient (POST /v1/proactiveEvents, with
//     /stages/development for the development stage and the stage chosen per
//     call, scope alexa::proactive_events, answers 202, 400, 403, 409 for a
//     duplicate referenceId of the same customer, 429 and 500).

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
	// MinExpiryAfterNow is how soon ExpiryTime may be, after the current
	// time.
	MinExpiryAfterNow = 5 * time.Minute
	// MaxExpiryAfterTimestamp is how late ExpiryTime may be, after
	// Timestamp.
	MaxExpiryAfterTimestamp = 24 * time.Hour
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
	// ReferenceID identifies the event on your side: 1 to 100 ASCII
	// letters, digits or '~' (no '-'). The API refuses a second event with
	// the same ReferenceID for the same user (409, ErrDuplicateEvent).
	ReferenceID string
	// ExpiryTime is when Alexa drops the notification if still pending:
	// required, at least MinExpiryAfterNow after the current time and at
	// most MaxExpiryAfterTimestamp after Timestamp.
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

// ProactiveEventsSender sends proactive events for one skill, to the stage
// chosen per call, with one cache of tokens of scope alexa::proactive_events
// for both stages. Tokens go only where a Sender's go (Amazon's Alexa API
// hosts, loopback, WithAllowedHosts); throttling and server errors are
// retried the same way. It is safe for concurrent use.
type ProactiveEventsSender struct {
	skillID string
	tokens  *TokenSource
}

// NewProactiveEventsSender returns a sender of skillID's events with the
// credentials creds provides.
func NewProactiveEventsSender(creds CredentialsProvider, skillID string, opts ...Option) (*ProactiveEventsSender, error) {
	ts, err := newTokenSource(creds, skillID, ProactiveEventsScope, opts)
	if err != nil {
		return nil, err
	}
	return &ProactiveEventsSender{skillID: skillID, tokens: ts}, nil
}

// Format implements fmt.Formatter: the skill, never a token or a secret.
func (s *ProactiveEventsSender) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "skillmessaging.ProactiveEventsSender{skill: %s}", s.skillID)
}

// Send posts ev to stage (StageDevelopment or StageLive) at endpoint (the
// Alexa API endpoint of the users' region: EndpointNorthAmerica,
// EndpointEurope, or https://api.fe.amazonalexa.com). The event is checked
// first against Amazon's rules (see Event): an error matching
// ErrInvalidMessage or ErrInvalidEndpoint, with a nil result, means nothing
// was sent. A refusal is an *Error with Service ServiceProactiveEvents
// (ErrInvalidMessage, ErrUnauthorized, ErrDuplicateEvent,
// ErrRetriedDuplicate, ErrNotificationLimit, ErrThrottled, ErrServerError)
// with the attempts it took. A retried POST cannot notify twice: the API
// refuses the second one with 409, which matches ErrRetriedDuplicate (the
// event was most likely sent by the earlier attempt) rather than
// ErrDuplicateEvent (you sent this referenceId before). A 403 gets a new
// token at most once a minute (see ErrUnauthorized). Once past the checks,
// Send returns a non-nil *SendResult also with an error.
func (s *ProactiveEventsSender) Send(ctx context.Context, endpoint string, stage Stage, ev Event) (*SendResult, error) {
	op := fmt.Sprintf("send proactive event %q to stage %s for skill %s", clip(ev.ReferenceID, MaxReferenceIDLen), clip(string(stage), 20), s.skillID)
	u, err := s.eventsURL(endpoint, stage)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body, err := encodeEvent(ev, s.tokens.set.now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s.tokens.post(ctx, op, ServiceProactiveEvents, u, body)
}

func (s *ProactiveEventsSender) eventsURL(endpoint string, stage Stage) (string, error) {
	if stage != StageDevelopment && stage != StageLive {
		return "", fmt.Errorf("%w: stage %q, want %q or %q", ErrInvalidEndpoint, clip(string(stage), 20), StageDevelopment, StageLive)
	}
	base, err := checkEndpoint(endpoint, s.tokens.set.extraHosts)
	if err != nil {
		return "", err
	}
	u := base.JoinPath("v1", "proactiveEvents")
	if stage == StageDevelopment {
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
	switch {
	case ev.ExpiryTime.IsZero():
		return nil, fmt.Errorf("%w: expiryTime is required", ErrInvalidMessage)
	case ev.ExpiryTime.Sub(now) < MinExpiryAfterNow:
		return nil, fmt.Errorf("%w: expiryTime %s is less than %s after now (%s)", ErrInvalidMessage, ev.ExpiryTime.UTC().Format(time.RFC3339), MinExpiryAfterNow, now.UTC().Format(time.RFC3339))
	case ev.ExpiryTime.Sub(ev.Timestamp) > MaxExpiryAfterTimestamp:
		return nil, fmt.Errorf("%w: expiryTime %s is more than %s after timestamp %s", ErrInvalidMessage, ev.ExpiryTime.UTC().Format(time.RFC3339), MaxExpiryAfterTimestamp, ev.Timestamp.UTC().Format(time.RFC3339))
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
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '~') {
			return fmt.Errorf("%w: referenceId %q: byte %d is not an ASCII letter, digit or '~'", ErrInvalidMessage, clip(id, MaxReferenceIDLen), i)
		}
	}
	return nil
}
