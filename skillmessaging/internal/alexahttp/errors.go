package alexahttp

import (
	"fmt"
	"strings"
	"time"
)

// APIError is a non-2xx answer from LWA or an Alexa API. It never holds the
// raw response body: only the service's own code and message.
type APIError struct {
	// Service names the service that answered.
	Service string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// RequestID is the X-Amzn-RequestId header, when the response had one.
	RequestID string
	// Code is LWA's OAuth error code (invalid_client, invalid_scope, …).
	Code string
	// APICode is the integer "code" of an Alexa API's error body
	// ({"code", "message"}), or zero.
	APICode int
	// Message is the service's message ("message", or LWA's
	// "error_description"), cut to a bounded length.
	Message string
	// RetryAfter is the delay the Retry-After header asked for, or zero.
	RetryAfter time.Duration
}

// HTTPStatusCode returns the HTTP status of the answer.
func (e *APIError) HTTPStatusCode() int { return e.StatusCode }

func (e *APIError) Error() string {
	return DescribeAnswer(e.Service, e.StatusCode, e.Code, e.APICode, e.Message, e.RequestID, "")
}

// DescribeAnswer is the one wording of a service's error answer: "<service>
// answered HTTP <status> <code> (code <apiCode>): <message> (request id
// <id>); <hint>", each part only when set.
func DescribeAnswer(service string, status int, code string, apiCode int, message, requestID, hint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s answered HTTP %d", service, status)
	if code != "" {
		fmt.Fprintf(&b, " %s", code)
	}
	if apiCode != 0 {
		fmt.Fprintf(&b, " (code %d)", apiCode)
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
