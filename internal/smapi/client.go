package smapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
)

// DefaultBaseURL is SMAPI's endpoint.
const DefaultBaseURL = "https://api.amazonalexa.com"

// MaxBodyBytes bounds how much of a response body is read. A credentials
// answer is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// Client calls the SMAPI Skill Credentials API. It is safe for concurrent
// use.
type Client struct {
	// BaseURL is SMAPI's endpoint; a path prefix is kept.
	BaseURL *url.URL
	// HTTPClient sends the requests and adds the Authorization header (a
	// transport over a TokenSource).
	HTTPClient *http.Client
	// Retrier decides what is tried again and how long to wait.
	Retrier Retrier
}

// NewClient returns a Client for baseURL (see ParseEndpoint) that
// authenticates with tokens from src over base, with the default retry
// policy.
func NewClient(baseURL string, src *TokenSource, base *http.Client) (*Client, error) {
	u, err := ParseEndpoint(baseURL)
	if err != nil {
		return nil, err
	}
	hc := *base
	hc.Transport = &authTransport{src: src, base: base.Transport}
	return &Client{BaseURL: u, HTTPClient: &hc, Retrier: DefaultRetrier()}, nil
}

// authTransport adds the LWA access token to every request, like
// oauth2.Transport, but refreshes it within the request's context, so a slow
// LWA cannot hold a request past its deadline.
type authTransport struct {
	src  *TokenSource
	base http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.src.TokenContext(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &tokenError{err}
	}
	req = req.Clone(req.Context())
	tok.SetAuthHeader(req)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

// SkillCredentials are a skill's Skill Messaging credentials.
type SkillCredentials struct {
	ClientID     string
	ClientSecret secret.Value
	// RequestID is the X-Amzn-RequestId of the answer.
	RequestID string
	// Attempts is how many requests it took.
	Attempts int
}

// CallError is the error of a call that failed: it names the operation and
// the skill and says how many attempts were made. Err is an *APIError, a
// *ResponseError, or a transport or context error.
type CallError struct {
	Op       string
	SkillID  string
	Attempts int
	Err      error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s for skill %s: %v (attempts: %d)", e.Op, e.SkillID, e.Err, e.Attempts)
}

func (e *CallError) Unwrap() error { return e.Err }

// GetSkillCredentials returns the Skill Messaging credentials of skillID,
// retrying as Retrier says. An invalid skill id is refused before any request.
// Errors are *CallError.
func (c *Client) GetSkillCredentials(ctx context.Context, skillID string) (*SkillCredentials, error) {
	const op = "get skill messaging credentials"
	if err := ValidateSkillID(skillID); err != nil {
		return nil, &CallError{Op: op, SkillID: skillID, Err: err}
	}
	u := c.BaseURL.JoinPath("v1", "skills", url.PathEscape(skillID), "credentials")
	var creds *SkillCredentials
	attempts, err := c.Retrier.Do(ctx, func(ctx context.Context) error {
		var err error
		creds, err = c.getOnce(ctx, u.String())
		return err
	})
	if err != nil {
		return nil, &CallError{Op: op, SkillID: skillID, Attempts: attempts, Err: err}
	}
	creds.Attempts = attempts
	return creds, nil
}

func (c *Client) getOnce(ctx context.Context, u string) (*SkillCredentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	body, err := ReadBody(resp.Body)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return nil, &ResponseError{StatusCode: resp.StatusCode, RequestID: RequestIDFromHeader(resp.Header), Reason: err.Error()}
		}
		return nil, fmt.Errorf("read SMAPI response (HTTP %d, request id %q): %w", resp.StatusCode, RequestIDFromHeader(resp.Header), err)
	}
	if err := CheckResponse("SMAPI", resp, body); err != nil {
		return nil, err
	}
	id, sec, reason := DecodeCredentials(resp.Header.Get("Content-Type"), body)
	if reason != "" {
		return nil, &ResponseError{StatusCode: resp.StatusCode, RequestID: RequestIDFromHeader(resp.Header), Reason: reason}
	}
	return &SkillCredentials{ClientID: id, ClientSecret: sec, RequestID: RequestIDFromHeader(resp.Header)}, nil
}

// transportError unwraps a failed token refresh from the *url.Error
// around it, so it reads as the refresh error it is (an LWA answer or
// timeout), not as a network error.
func transportError(err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		return te.err
	}
	return err
}

// tokenError marks an error of the token source inside a round trip.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

var errBodyTooLarge = fmt.Errorf("body larger than %d bytes", MaxBodyBytes)

// ReadBody reads at most MaxBodyBytes of r; a longer body is an error.
func ReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	return body, nil
}

// CheckResponse returns nil for a 2xx answer and otherwise an *APIError for
// service with the status, the X-Amzn-RequestId, Retry-After and the
// service's {"message"} from body (cut to a bounded length, never the body
// itself). Every client of Amazon's APIs in this module uses it, so Retrier
// classifies their errors alike.
func CheckResponse(service string, resp *http.Response, body []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &APIError{
		Service:    service,
		StatusCode: resp.StatusCode,
		RequestID:  RequestIDFromHeader(resp.Header),
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.Message = clip(m.Message)
	}
	return e
}

// DecodeCredentials checks a 2xx answer's content type and body and returns
// the credentials, or a reason (which never quotes the body) why they cannot
// be used.
func DecodeCredentials(contentType string, body []byte) (clientID string, clientSecret secret.Value, reason string) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return "", "", fmt.Sprintf("content type %q, want application/json", clip(contentType))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", "", "empty body"
	}
	var v struct {
		Creds *struct {
			ClientID     *string `json:"clientId"`
			ClientSecret *string `json:"clientSecret"`
		} `json:"skillMessagingCredentials"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return "", "", fmt.Sprintf("body is not valid JSON (at byte %d of %d)", syn.Offset, len(body))
		case errors.As(err, &typ):
			return "", "", fmt.Sprintf("body has the wrong JSON shape (field %q)", clip(typ.Field))
		default:
			return "", "", "body is not valid JSON"
		}
	}
	switch {
	case v.Creds == nil:
		return "", "", "no skillMessagingCredentials object in the body"
	case v.Creds.ClientID == nil || strings.TrimSpace(*v.Creds.ClientID) == "":
		return "", "", "skillMessagingCredentials.clientId is missing or empty"
	case v.Creds.ClientSecret == nil || strings.TrimSpace(*v.Creds.ClientSecret) == "":
		return "", "", "skillMessagingCredentials.clientSecret is missing or empty"
	}
	return *v.Creds.ClientID, secret.Value(*v.Creds.ClientSecret), ""
}

// clip keeps a service-provided string printable and short.
func clip(s string) string {
	const max = 200
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
