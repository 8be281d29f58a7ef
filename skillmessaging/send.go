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

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
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
	// MaxDataBytes is the largest Message.Data, in bytes of JSON. Amazon
	// documents "6 KB" without saying whether a KB is 1,000 or 1,024 bytes
	// (https://developer.amazon.com/docs/smapi/skill-messaging-api-reference.html);
	// the smaller reading is taken.
	MaxDataBytes = 6000
	// MaxUserIDBytes is the longest user id accepted.
	MaxUserIDBytes = 1024
)

// Message is what Send delivers to the skill, which receives Data in a
// Messaging.MessageReceived request.
type Message struct {
	// Data is the message: Amazon's reference allows only string keys and
	// string values, at most MaxDataBytes of JSON. nil sends {}.
	Data map[string]string
	// ExpiresAfterSeconds is how long Alexa keeps trying to deliver the
	// message: MinExpiresAfterSeconds to MaxExpiresAfterSeconds, or zero for
	// DefaultExpiresAfterSeconds.
	ExpiresAfterSeconds int
}

// SendResult is what a send did: the API's last answer and how many
// requests it took. With a nil error it is the acceptance (202) of the
// message or event, which means Alexa queued it, not that the skill or user
// received it. With an error it says how far the send got.
type SendResult struct {
	// StatusCode is the HTTP status of the last answer (202 Accepted on
	// success), or zero if no request got an answer.
	StatusCode int
	// RequestID is the X-Amzn-RequestId of the last answer.
	RequestID string
	// Attempts is how many requests went to the API (retries and a retry
	// with a new token after a 401 or 403 included).
	Attempts int
}

// Sender sends Skill Messaging API messages for one skill, with tokens from
// its TokenSource. It is safe for concurrent use; build it once per process.
//
// Delivery is at least once: when an answer is lost (a timeout, a dropped
// connection, a 5xx after Amazon queued the message) Send posts again, and
// the skill can receive the message twice. Put an id of your own in Data and
// let the skill ignore one it has seen, or use WithMaxAttempts(1) and decide
// yourself.
type Sender struct {
	skillID string
	tokens  *TokenSource
	set     settings
}

// NewSender returns a Sender for skillID whose credentials creds provides (a
// *CredentialsCache in a skill Lambda).
func NewSender(creds CredentialsProvider, skillID string, opts ...Option) (*Sender, error) {
	ts, err := NewTokenSource(creds, skillID, opts...)
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
// request) to endpoint (the request's context.System.apiEndpoint, or one of
// the Endpoint constants). Arguments are checked first: errors matching
// ErrInvalidUserID, ErrInvalidMessage or ErrInvalidEndpoint mean nothing was
// sent, not even a token request, and come with a nil result. Throttling
// (429, honouring a Retry-After of up to MaxRetryAfter), server errors (5xx
// but 501) and lost answers are retried with backoff within ctx (see Sender
// on duplicates). After a 401 or 403 with a token that was not just granted,
// a new token is fetched and the message sent again, once, and at most once
// a minute. A refusal is an *Error (see its Is method for
// ErrInvalidMessage, ErrUnauthorized, ErrUnknownUser, ErrThrottled,
// ErrServerError, ErrCredentialsRefused) with the attempts it took; failures
// to read the secret are a *SecretError. Once past the argument checks, Send
// returns a non-nil *SendResult also with an error.
func (s *Sender) Send(ctx context.Context, endpoint, userID string, msg Message) (*SendResult, error) {
	op := "send skill message for skill " + s.skillID
	u, err := s.messageURL(endpoint, userID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body, err := encodeMessage(msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s.tokens.post(ctx, op, ServiceSkillMessaging, u, body)
}

// post sends body to u with a token, retrying as the retrier says and once
// with a new token after a 401 or 403 (see dropRefused). Its error is
// fail's, for operation op.
func (ts *TokenSource) post(ctx context.Context, op, service, u string, body []byte) (*SendResult, error) {
	var res SendResult
	var c counts
	uncertain := false // an earlier attempt may have been accepted
	refreshed := false
	_, err := ts.set.retrier.Do(ctx, func(ctx context.Context) error {
		for {
			tok, grants, err := ts.token(ctx)
			c.lwa += grants
			if err != nil {
				return err
			}
			res.Attempts++
			c.api = res.Attempts
			err = ts.postOnce(ctx, service, u, tok.AccessToken, body, &res)
			var api *alexahttp.APIError
			isAnswer := errors.As(err, &api)
			switch {
			case err == nil:
				return nil
			case isAnswer && api.StatusCode == http.StatusConflict && uncertain:
				c.retriedDuplicate = true
			case !isAnswer || api.StatusCode >= 500:
				// A server error or a lost answer: the service may have
				// accepted the request anyway.
				uncertain = true
			}
			if isAnswer && (api.StatusCode == http.StatusForbidden || api.StatusCode == http.StatusUnauthorized) &&
				!refreshed && grants == 0 && ts.dropRefused(tok.AccessToken) {
				// The cached token may have expired or been revoked early:
				// get a new one, once.
				refreshed = true
				continue
			}
			return err
		}
	})
	if err != nil {
		return &res, fail(op, c, err)
	}
	return &res, nil
}

func (ts *TokenSource) postOnce(ctx context.Context, service, u, accessToken string, body []byte, res *SendResult) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := ts.set.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := alexahttp.ReadBody(resp.Body) // only the error's code and message are read from it
	res.StatusCode = resp.StatusCode
	res.RequestID = alexahttp.RequestIDFromHeader(resp.Header)
	return alexahttp.CheckResponse(service, resp, b, ts.set.now())
}

// messageURL validates endpoint and userID and returns the message URL.
func (s *Sender) messageURL(endpoint, userID string) (string, error) {
	return messageURL(endpoint, userID, s.set.extraHosts)
}

func messageURL(endpoint, userID string, extraHosts []string) (string, error) {
	if err := ValidateUserID(userID); err != nil {
		return "", err
	}
	base, err := checkEndpoint(endpoint, extraHosts)
	if err != nil {
		return "", err
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
	data := msg.Data
	if data == nil {
		data = map[string]string{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: data cannot be marshalled to JSON: %w", ErrInvalidMessage, err)
	}
	if len(b) > MaxDataBytes {
		return nil, fmt.Errorf("%w: data is %d bytes of JSON, at most %d", ErrInvalidMessage, len(b), MaxDataBytes)
	}
	return json.Marshal(struct {
		Data                json.RawMessage `json:"data"`
		ExpiresAfterSeconds int             `json:"expiresAfterSeconds"`
	}{b, expires})
}
