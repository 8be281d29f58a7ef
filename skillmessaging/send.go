package skillmessaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
)

// The Alexa API endpoints of the three regions. A skill request carries the
// user's in context.System.apiEndpoint; pass that when you have it.
const (
	EndpointNorthAmerica = "https://api.amazonalexa.com"
	EndpointEurope       = "https://api.eu.amazonalexa.com"
	EndpointFarEast      = "https://api.fe.amazon.com"
)

// Limits of a message, checked before it is sent.
const (
	// MinExpiresAfterSeconds and MaxExpiresAfterSeconds bound
	// Message.ExpiresAfterSeconds.
	MinExpiresAfterSeconds = 60
	MaxExpiresAfterSeconds = 86400
	// DefaultExpiresAfterSeconds is sent when Message.ExpiresAfterSeconds is
	// zero (the API's own default).
	DefaultExpiresAfterSeconds = 3600
	// MaxDataBytes is the largest Message.Data, in bytes of JSON (6 KB).
	MaxDataBytes = 6 << 10
	// MaxUserIDBytes is the longest user id accepted.
	MaxUserIDBytes = 1024
)

// Message is what Send delivers to the skill, which receives Data in a
// Messaging.MessageReceived request.
type Message struct {
	// Data is marshalled with encoding/json and must be a JSON object of at
	// most MaxDataBytes; nil (or a nil map) sends {}. A json.RawMessage is
	// sent compacted.
	Data any
	// ExpiresAfterSeconds is how long Alexa keeps trying to deliver the
	// message: MinExpiresAfterSeconds to MaxExpiresAfterSeconds, or zero for
	// DefaultExpiresAfterSeconds.
	ExpiresAfterSeconds int
}

// SendResult is the API's acceptance of a message. Acceptance means Alexa
// queued the message, not that the skill received it.
type SendResult struct {
	// StatusCode is the HTTP status, 202 Accepted.
	StatusCode int
	// RequestID is the X-Amzn-RequestId of the answer.
	RequestID string
	// Attempts is how many requests it took (retries and a 403 refresh
	// included).
	Attempts int
}

// Sender sends Skill Messaging API messages for one skill, with tokens from
// its TokenSource. It is safe for concurrent use; build it once per process.
type Sender struct {
	skillID string
	tokens  *TokenSource
	set     settings
}

// NewSender returns a Sender for skillID whose credentials reader reads.
// opts may be nil.
func NewSender(reader *Reader, skillID string, opts *Options) (*Sender, error) {
	ts, err := NewTokenSource(reader, skillID, opts)
	if err != nil {
		return nil, err
	}
	return &Sender{skillID: skillID, tokens: ts, set: ts.set}, nil
}

// Format implements fmt.Formatter: a Sender prints its skill, never the
// token or credentials it holds, whatever the verb.
func (s *Sender) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "skillmessaging.Sender{skill: %s}", s.skillID)
}

// TokenSource returns the Sender's token source, for other Alexa APIs that
// take a Skill Messaging token.
func (s *Sender) TokenSource() *TokenSource { return s.tokens }

// Send posts msg for userID (the context.System.user.userId of a skill
// request) to endpoint (one of the Endpoint constants or the request's
// context.System.apiEndpoint). Arguments are checked first: errors matching
// ErrInvalidUserID, ErrInvalidMessage or ErrInvalidEndpoint mean nothing was
// sent. Throttling (429, honouring Retry-After) and server errors (5xx) are
// retried with backoff within ctx; after a 403 a new token is fetched and the
// message sent again, once. A refusal is an *Error (see its Is method for
// ErrInvalidMessage, ErrUnauthorized, ErrUnknownUser, ErrThrottled,
// ErrCredentialsRefused); failures to read the secret are a *SecretError.
func (s *Sender) Send(ctx context.Context, endpoint, userID string, msg Message) (*SendResult, error) {
	u, err := messageURL(endpoint, userID)
	if err != nil {
		return nil, fmt.Errorf("send skill message for skill %s: %w", s.skillID, err)
	}
	body, err := encodeMessage(msg)
	if err != nil {
		return nil, fmt.Errorf("send skill message for skill %s: %w", s.skillID, err)
	}
	var res SendResult
	refreshed := false
	_, err = s.set.retrier.Do(ctx, func(ctx context.Context) error {
		for {
			tok, err := s.tokens.token(ctx)
			if err != nil {
				return err
			}
			res.Attempts++
			err = s.post(ctx, u, tok.AccessToken, body, &res)
			if !refreshed && errors.Is(err, ErrUnauthorized) {
				// Expired or revoked early: get a new token, once.
				refreshed = true
				s.tokens.invalidate(tok.AccessToken)
				continue
			}
			return err
		}
	})
	if err != nil {
		return nil, fmt.Errorf("send skill message for skill %s (attempts: %d): %w", s.skillID, res.Attempts, err)
	}
	return &res, nil
}

func (s *Sender) post(ctx context.Context, u, accessToken string, body []byte, res *SendResult) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := s.set.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := smapi.ReadBody(resp.Body) // only the error message is read from it
	res.StatusCode = resp.StatusCode
	res.RequestID = smapi.RequestIDFromHeader(resp.Header)
	return publicError(ServiceSkillMessaging, smapi.CheckResponse(ServiceSkillMessaging, resp, b))
}

// messageURL validates endpoint and userID and returns the message URL.
func messageURL(endpoint, userID string) (string, error) {
	if err := ValidateUserID(userID); err != nil {
		return "", err
	}
	base, err := smapi.ParseEndpoint(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidEndpoint, err)
	}
	esc := url.PathEscape(userID)
	u := base.JoinPath("v1", "skillmessages", "users", esc)
	// Defence in depth, as go-github's checkURLPathTraversal: the user id
	// must be the last segment, untouched by path cleaning.
	if p := "/" + strings.TrimPrefix(u.EscapedPath(), "/"); !strings.HasSuffix(p, "/v1/skillmessages/users/"+esc) {
		return "", fmt.Errorf("%w %q: not a single path segment", ErrInvalidUserID, clip(userID, 80))
	}
	return u.String(), nil
}

// ValidateUserID returns nil for a user id the Skill Messaging API can be
// sent: non-empty, at most MaxUserIDBytes, of ASCII letters, digits, '.',
// '-' and '_' (as amzn1.ask.account.…), and never "." or containing "..".
// Otherwise it returns an error matching ErrInvalidUserID.
func ValidateUserID(userID string) error {
	switch {
	case userID == "":
		return fmt.Errorf("%w: empty", ErrInvalidUserID)
	case len(userID) > MaxUserIDBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidUserID, len(userID), MaxUserIDBytes)
	case userID == "." || strings.Contains(userID, ".."):
		return fmt.Errorf("%w %q: a path traversal", ErrInvalidUserID, clip(userID, 80))
	}
	for i := 0; i < len(userID); i++ {
		c := userID[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w %q: byte %d is not a letter, digit, '.', '-' or '_'", ErrInvalidUserID, clip(userID, 80), i)
		}
	}
	return nil
}

// encodeMessage validates msg and returns the request body.
func encodeMessage(msg Message) ([]byte, error) {
	expires := msg.ExpiresAfterSeconds
	if expires == 0 {
		expires = DefaultExpiresAfterSeconds
	}
	if expires < MinExpiresAfterSeconds || expires > MaxExpiresAfterSeconds {
		return nil, fmt.Errorf("%w: expiresAfterSeconds %d, want %d to %d", ErrInvalidMessage, expires, MinExpiresAfterSeconds, MaxExpiresAfterSeconds)
	}
	data := []byte("{}")
	if msg.Data != nil {
		var err error
		if data, err = json.Marshal(msg.Data); err != nil {
			return nil, fmt.Errorf("%w: data cannot be marshalled to JSON: %w", ErrInvalidMessage, err)
		}
		if string(data) == "null" { // a nil map or pointer
			data = []byte("{}")
		}
	}
	switch {
	case len(data) == 0 || data[0] != '{':
		return nil, fmt.Errorf("%w: data must be a JSON object", ErrInvalidMessage)
	case len(data) > MaxDataBytes:
		return nil, fmt.Errorf("%w: data is %d bytes of JSON, at most %d", ErrInvalidMessage, len(data), MaxDataBytes)
	}
	return json.Marshal(struct {
		Data                json.RawMessage `json:"data"`
		ExpiresAfterSeconds int             `json:"expiresAfterSeconds"`
	}{data, expires})
}
