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

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"golang.org/x/oauth2"
)

// DefaultBaseURL is SMAPI's endpoint.
const DefaultBaseURL = "https://api.amazonalexa.com"

// Client calls the SMAPI Skill Credentials API. It is safe for concurrent
// use.
type Client struct {
	// BaseURL is SMAPI's endpoint; a path prefix is kept.
	BaseURL *url.URL
	// HTTPClient sends the requests and adds the Authorization header (an
	// oauth2.Transport over a TokenSource).
	HTTPClient *http.Client
	// Retrier decides what is tried again and how long to wait.
	Retrier Retrier
}

// NewClient returns a Client for baseURL (see ParseEndpoint) that
// authenticates with tokens from src over base, with the default retry
// policy.
func NewClient(baseURL string, src oauth2.TokenSource, base *http.Client) (*Client, error) {
	u, err := ParseEndpoint(baseURL)
	if err != nil {
		return nil, err
	}
	hc := *base
	hc.Transport = &oauth2.Transport{Source: src, Base: base.Transport}
	return &Client{BaseURL: u, HTTPClient: &hc, Retrier: DefaultRetrier()}, nil
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

// transportError unwraps an LWA refusal that happened inside the
// oauth2.Transport, so it is classified as LWA's answer, not a network error.
func transportError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("refresh LWA access token: %w", LWAError(re))
	}
	var api *APIError
	if errors.As(err, &api) {
		return api
	}
	return err
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
