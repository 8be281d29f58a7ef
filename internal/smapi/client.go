package smapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
)

// DefaultBaseURL is SMAPI's endpoint.
const DefaultBaseURL = "https://api.amazonalexa.com"

// Client calls SMAPI: the Skill Credentials API and the vendor and skill
// lists. It is safe for concurrent use.
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
// the skill (or vendor) and says how many attempts were made. Err is an
// *APIError, a *ResponseError, or a transport or context error.
type CallError struct {
	Op       string
	SkillID  string
	VendorID string
	Attempts int
	Err      error
}

func (e *CallError) Error() string {
	subject := ""
	switch {
	case e.SkillID != "":
		subject = " for skill " + e.SkillID
	case e.VendorID != "":
		subject = " of vendor " + e.VendorID
	}
	return fmt.Sprintf("%s%s: %v (attempts: %d)", e.Op, subject, e.Err, e.Attempts)
}

func (e *CallError) Unwrap() error { return e.Err }

// GetSkillCredentials returns the Skill Messaging credentials of skillID,
// retrying as Retrier says. An invalid skill id is refused before any request.
// Errors are *CallError.
func (c *Client) GetSkillCredentials(ctx context.Context, skillID string) (*SkillCredentials, error) {
	const op = "get skill messaging credentials"
	if err := contract.ValidateSkillID(skillID); err != nil {
		return nil, &CallError{Op: op, SkillID: skillID, Err: err}
	}
	u := c.BaseURL.JoinPath("v1", "skills", url.PathEscape(skillID), "credentials")
	var creds SkillCredentials
	reqID, attempts, err := c.get(ctx, skillID, u.String(), func(contentType string, body []byte) string {
		var reason string
		creds.ClientID, creds.ClientSecret, reason = DecodeCredentials(contentType, body)
		return reason
	})
	if err != nil {
		return nil, &CallError{Op: op, SkillID: skillID, Attempts: attempts, Err: err}
	}
	creds.RequestID, creds.Attempts = reqID, attempts
	return &creds, nil
}

// get is the one request path of every SMAPI operation: a GET of u, retried
// as Retrier says (and so paced and bounded alike; key is what a 429 holds
// back, see Pacer), whose 2xx body decode checks. decode returns why the body
// cannot be used, or "". get returns the X-Amzn-RequestId of the answer used
// and the attempts made.
func (c *Client) get(ctx context.Context, key, u string, decode func(contentType string, body []byte) (reason string)) (requestID string, attempts int, err error) {
	attempts, err = c.Retrier.DoKey(ctx, key, func(ctx context.Context) error {
		var err error
		requestID, err = c.getOnce(ctx, u, decode)
		return err
	})
	return requestID, attempts, err
}

func (c *Client) getOnce(ctx context.Context, u string, decode func(string, []byte) string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return "", transportError(err)
	}
	defer resp.Body.Close()
	reqID := RequestIDFromHeader(resp.Header)
	body, err := ReadBody(resp.Body)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return "", &ResponseError{StatusCode: resp.StatusCode, RequestID: reqID, Reason: err.Error()}
		}
		return "", fmt.Errorf("read SMAPI response (HTTP %d, request id %q): %w", resp.StatusCode, reqID, err)
	}
	if err := CheckResponse("SMAPI", resp, body); err != nil {
		return "", err
	}
	if reason := decode(resp.Header.Get("Content-Type"), body); reason != "" {
		return "", &ResponseError{StatusCode: resp.StatusCode, RequestID: reqID, Reason: reason}
	}
	return reqID, nil
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

// DecodeCredentials checks a 2xx answer's content type and body and returns
// the credentials, or a reason (which never quotes the body) why they cannot
// be used.
func DecodeCredentials(contentType string, body []byte) (clientID string, clientSecret secret.Value, reason string) {
	var v struct {
		Creds *struct {
			ClientID     *string `json:"clientId"`
			ClientSecret *string `json:"clientSecret"`
		} `json:"skillMessagingCredentials"`
	}
	if reason := decodeJSON(contentType, body, &v); reason != "" {
		return "", "", reason
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

// decodeJSON checks a 2xx answer's content type and decodes its body into v.
// It returns why the body cannot be used (never quoting it), or "".
// SMAPI's own specification gives some list operations the content type
// "application/json+hal" (alexa/ask-cli test/integration/fixtures/smapi_spec.json,
// listSkillsForVendorV1); that and any */*+json type count as JSON.
func decodeJSON(contentType string, body []byte, v any) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && !strings.HasPrefix(mt, "application/json+")) {
		return fmt.Sprintf("content type %q, want application/json", clip(contentType))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body"
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Sprintf("body is not valid JSON (at byte %d of %d)", syn.Offset, len(body))
		case errors.As(err, &typ):
			return fmt.Sprintf("body has the wrong JSON shape (field %q)", clip(typ.Field))
		default:
			return "body is not valid JSON"
		}
	}
	return ""
}
