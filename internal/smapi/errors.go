package smapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// APIError is a non-2xx answer from SMAPI or LWA. It never holds the raw
// response body: only the service's own message, which carries no secret.
type APIError struct {
	// Service is "SMAPI" or "LWA".
	Service string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// RequestID is the X-Amzn-RequestId header, when the response had one.
	RequestID string
	// Code is the OAuth error code LWA sent (invalid_grant, invalid_client, …).
	Code string
	// Message is the service's message ("message" for SMAPI,
	// "error_description" for LWA), cut to a bounded length.
	Message string
	// RetryAfter is the delay the Retry-After header asked for, or zero.
	RetryAfter time.Duration
}

// HTTPStatusCode returns the HTTP status of the answer.
func (e *APIError) HTTPStatusCode() int { return e.StatusCode }

func (e *APIError) Error() string {
	return DescribeAnswer(e.Service, e.StatusCode, e.Code, e.Message, e.RequestID, e.hint())
}

// DescribeAnswer is the one wording of a service's error answer, shared by
// every error type that reports one: "<service> answered HTTP <status>
// <code>: <message> (request id <id>); <hint>", each part only when set.
func DescribeAnswer(service string, status int, code, message, requestID, hint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s answered HTTP %d", service, status)
	if code != "" {
		fmt.Fprintf(&b, " %s", code)
	}
	if message != "" {
		fmt.Fprintf(&b, ": %s", message)
	}
	if requestID != "" {
		fmt.Fprintf(&b, " (request id %s)", requestID)
	}
	if hint != "" {
		fmt.Fprintf(&b, "; %s", hint)
	}
	return b.String()
}

// NeedsNewRefreshToken reports whether LWA refused the refresh token or the
// client: retrying cannot help, the operator must replace the LWA secret.
func (e *APIError) NeedsNewRefreshToken() bool {
	if e.Service != "LWA" {
		return false
	}
	switch e.Code {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	}
	return e.StatusCode == http.StatusUnauthorized
}

func (e *APIError) hint() string {
	if e.NeedsNewRefreshToken() {
		return "replace the refreshToken (and clientId/clientSecret if they changed) in the LWA secret, see docs/troubleshooting.md#lwa-refused"
	}
	if e.Service != "SMAPI" {
		return ""
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return "the LWA access token was refused: the refresh token needs the alexa::ask:skills:readwrite scope and must belong to a developer of the skill"
	case http.StatusNotFound:
		return "either the skill does not exist or Amazon has not issued skill messaging credentials for it yet (turn one of the skill's permissions off and on again in the developer console, then sync again)"
	case http.StatusTooManyRequests:
		return "throttled (SMAPI allows 25 requests per second per skill)"
	}
	return ""
}

// ResponseError is a 2xx answer whose body is not the expected credentials:
// not JSON, HTML, truncated, too large, or with an empty field. Nothing from
// such a response is ever written.
type ResponseError struct {
	StatusCode int
	RequestID  string
	// Reason says what was wrong, without quoting the body.
	Reason string
}

// HTTPStatusCode returns the HTTP status of the answer.
func (e *ResponseError) HTTPStatusCode() int { return e.StatusCode }

func (e *ResponseError) Error() string {
	s := fmt.Sprintf("unusable SMAPI response (HTTP %d): %s", e.StatusCode, e.Reason)
	if e.RequestID != "" {
		s += fmt.Sprintf(" (request id %s)", e.RequestID)
	}
	return s
}

// RequestID returns the X-Amzn-RequestId carried by err, or "".
func RequestID(err error) string {
	var api *APIError
	if errors.As(err, &api) {
		return api.RequestID
	}
	var resp *ResponseError
	if errors.As(err, &resp) {
		return resp.RequestID
	}
	return ""
}
