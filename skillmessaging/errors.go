package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
)

// Errors about the skill's secret, matched with errors.Is. They come wrapped
// in a *SecretError naming the secret.
var (
	// ErrNotSynced means the secret exists but holds no clientId or
	// clientSecret yet: the credential sync has not filled it in. It is
	// worth trying again after the next sync.
	ErrNotSynced = errors.New("skill messaging credentials not synced yet")
	// ErrSecretNotFound means there is no such secret (or it has no
	// AWSCURRENT version).
	ErrSecretNotFound = errors.New("skill secret not found")
	// ErrMalformedSecret means the secret's value is not the JSON object the
	// sync writes, or belongs to another skill.
	ErrMalformedSecret = errors.New("malformed skill secret")
)

// Errors for arguments refused before any request, matched with errors.Is.
var (
	// ErrInvalidSkillID is returned for a skill id that is not
	// amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>.
	ErrInvalidSkillID = errors.New("invalid skill id")
	// ErrInvalidUserID is returned for an empty, too long or unsafe user id.
	ErrInvalidUserID = errors.New("invalid user id")
	// ErrInvalidMessage is returned for a message or event refused before
	// sending (see Message and Event for the rules), and also matches the
	// API's own 400 answer.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrInvalidEndpoint is returned for an endpoint the access token may
	// not be sent to: not https on an Alexa API host (see WithAllowedHosts) or on a
	// host allowed with WithAllowedHosts, nor http(s) on a loopback host.
	ErrInvalidEndpoint = errors.New("invalid endpoint")
)

// Errors an *Error matches with errors.Is, by the answer it carries.
var (
	// ErrCredentialsRefused means LWA refused the skill's client id and
	// secret (invalid_client) even after the secret was read again: they
	// were rotated at Amazon and the sync has not stored the new ones yet.
	ErrCredentialsRefused = errors.New("skill messaging credentials refused by LWA")
	// ErrUnauthorized means the API refused the access token (401 or 403).
	// A new token is fetched once after such an answer, at most once a
	// minute (see Sender.Send): a Proactive Events 403 often means the user
	// has not allowed notifications, which a new token does not change.
	ErrUnauthorized = errors.New("access token refused")
	// ErrUnknownUser means the user id is not a user of the skill (404).
	ErrUnknownUser = errors.New("unknown user")
	// ErrThrottled means the service was still throttling (429) after all
	// attempts, or asked to wait longer than MaxRetryAfter (see
	// Error.RetryAfter).
	ErrThrottled = errors.New("throttled")
	// ErrServerError means the service still answered a server error (5xx)
	// after all attempts.
	ErrServerError = errors.New("server error")
	// ErrNotificationLimit means the Proactive Events API refused the event
	// with HTTP 432: the skill is over the notification limits Amazon sets
	// for live skills (not the development stage). Retrying does not help;
	// see https://developer.amazon.com/docs/smapi/proactive-events-api-reference.html.
	ErrNotificationLimit = errors.New("notification limit exceeded")
	// ErrDuplicateEvent means the Proactive Events API already has an event
	// with this referenceId for this user (409) and this call had not sent
	// it before: the caller sent the same referenceId twice.
	ErrDuplicateEvent = errors.New("duplicate proactive event")
	// ErrRetriedDuplicate means a retry of this very call was refused as a
	// duplicate (409) after an earlier attempt whose answer was a server
	// error or was lost: that attempt was most likely accepted, so the
	// event was sent. It does not match ErrDuplicateEvent.
	ErrRetriedDuplicate = errors.New("proactive event accepted by an earlier attempt")
)

// MaxRetryAfter is the longest Retry-After a TokenSource or a sender waits
// before trying again (within the caller's context). An answer asking for
// longer ends the call with an *Error matching ErrThrottled whose
// RetryAfter says when to try again.
const MaxRetryAfter = time.Minute

// SecretError is a failure to get usable credentials from the skill's
// secret. It never holds the secret's value.
type SecretError struct {
	// SecretID is the name (or ARN) that was read.
	SecretID string
	// Kind is ErrNotSynced, ErrSecretNotFound, ErrMalformedSecret, or nil
	// when Secrets Manager failed otherwise (access denied, KMS, network:
	// see Err).
	Kind error
	// Reason says what was wrong with the value, without quoting it.
	Reason string
	// Err is the Secrets Manager error, if there was one.
	Err error
}

// Error says which secret and what was wrong, never quoting its value.
func (e *SecretError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read skill secret %s: ", e.SecretID)
	switch {
	case e.Kind != nil && e.Reason != "":
		fmt.Fprintf(&b, "%v: %s", e.Kind, e.Reason)
	case e.Kind != nil:
		fmt.Fprintf(&b, "%v", e.Kind)
	case e.Reason != "":
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		if e.Kind != nil || e.Reason != "" {
			b.WriteString(": ")
		}
		fmt.Fprintf(&b, "%v", e.Err)
	}
	return b.String()
}

// Unwrap returns Kind and Err, so errors.Is and errors.As see both.
func (e *SecretError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Services named in Error.Service.
const (
	ServiceLWA             = "LWA"
	ServiceSkillMessaging  = "Skill Messaging API"
	ServiceProactiveEvents = "Proactive Events API"
)

// Error is a non-2xx answer from LWA or an Alexa API. It holds the
// service's own code and message, never a response body, a token or a
// secret.
type Error struct {
	// Service is ServiceLWA, ServiceSkillMessaging or
	// ServiceProactiveEvents.
	Service string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// RequestID is the X-Amzn-RequestId of the answer, if it had one.
	RequestID string
	// Code is LWA's OAuth error code (invalid_client, invalid_scope, …).
	Code string
	// APICode is the integer "code" of an Alexa API's error body
	// ({"code", "message"} in Amazon's models), or zero.
	APICode int
	// Message is the service's message, cut to a bounded length.
	Message string
	// RetryAfter is the delay the Retry-After header asked for, or zero.
	RetryAfter time.Duration
	// Attempts is how many requests the call made to the service that
	// answered (retries and a new token after a 403 included).
	Attempts int

	// retriedDuplicate: a 409 answering a retry after an attempt whose
	// answer was a server error or lost.
	retriedDuplicate bool
}

// Error names the service, status, codes, message and request id, with a
// hint where one helps.
func (e *Error) Error() string {
	return alexahttp.DescribeAnswer(e.Service, e.StatusCode, e.Code, e.APICode, e.Message, e.RequestID, e.hint())
}

// HTTPStatusCode returns the HTTP status of the answer.
func (e *Error) HTTPStatusCode() int { return e.StatusCode }

// Is reports whether the answer is the kind target names:
// ErrCredentialsRefused, ErrInvalidMessage, ErrUnauthorized, ErrUnknownUser,
// ErrThrottled, ErrServerError, ErrNotificationLimit, ErrDuplicateEvent or
// ErrRetriedDuplicate.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrCredentialsRefused:
		return e.Service == ServiceLWA && e.Code == "invalid_client"
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServerError:
		return e.StatusCode >= 500
	}
	if e.Service != ServiceSkillMessaging && e.Service != ServiceProactiveEvents {
		return false
	}
	switch target {
	case ErrDuplicateEvent:
		return e.Service == ServiceProactiveEvents && e.StatusCode == http.StatusConflict && !e.retriedDuplicate
	case ErrRetriedDuplicate:
		return e.Service == ServiceProactiveEvents && e.StatusCode == http.StatusConflict && e.retriedDuplicate
	case ErrNotificationLimit:
		return e.Service == ServiceProactiveEvents && e.StatusCode == statusNotificationLimit
	case ErrInvalidMessage:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized
	case ErrUnknownUser:
		return e.Service == ServiceSkillMessaging && e.StatusCode == http.StatusNotFound
	}
	return false
}

// statusNotificationLimit is the Proactive Events API's answer to a live
// skill over its notification limits.
const statusNotificationLimit = 432

// hint is this library's advice for the answer: what a skill developer can
// do, never the credential sync's.
func (e *Error) hint() string {
	switch {
	case e.Is(ErrCredentialsRefused):
		return "the skill's messaging credentials were refused even after reading its secret again: they were probably rotated at Amazon and the credential sync has not run since"
	case e.Service == ServiceLWA && e.Code == "invalid_scope":
		return "the skill cannot get tokens of this scope: check that the skill has the permission (Skill Messaging, or Proactive Events in its manifest)"
	case e.Service == ServiceLWA && (e.Code == "invalid_request" || e.Code == "unauthorized_client"):
		return "LWA refused the skill's client id and secret: check that the skill secret holds the skill's messaging credentials"
	case e.Is(ErrRetriedDuplicate):
		return "an earlier attempt of this call was most likely accepted"
	case e.Is(ErrDuplicateEvent):
		return "an event with this referenceId was already sent to this audience"
	case e.Is(ErrNotificationLimit):
		return "the skill is over Amazon's notification limits for live skills"
	case e.Service == ServiceProactiveEvents && e.StatusCode == http.StatusForbidden:
		return "the token was refused, or the skill may not notify this audience (notifications not allowed by the user, or proactive events not in the skill's manifest)"
	case e.Is(ErrUnauthorized):
		return "the access token was refused"
	case e.Is(ErrUnknownUser):
		return "the user id is not a user of this skill (or the endpoint is not the user's region)"
	case e.StatusCode == http.StatusTooManyRequests && e.RetryAfter > MaxRetryAfter:
		return fmt.Sprintf("asked to wait %s, longer than the %s this library waits", e.RetryAfter, MaxRetryAfter)
	}
	return ""
}

// counts are what a call did before it failed: requests to the Alexa API
// and to LWA, and whether a 409 answered a retry after an attempt whose
// answer was a server error or lost.
type counts struct {
	api, lwa         int
	retriedDuplicate bool
}

// fail builds the error of operation op (such as "send skill message for
// skill X") from err: the module's *alexahttp.APIError anywhere in err's
// chain is replaced by an *Error carrying the attempts, so that no internal
// type is reachable through Unwrap. Other errors are wrapped as they are.
func fail(op string, c counts, err error) error {
	var api *alexahttp.APIError
	if !errors.As(err, &api) {
		if c.api > 0 {
			op = fmt.Sprintf("%s (attempts: %d)", op, c.api)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	attempts := c.api
	if api.Service == ServiceLWA {
		attempts = c.lwa
	}
	if attempts > 0 {
		op = fmt.Sprintf("%s (attempts: %d)", op, attempts)
	}
	pub := &Error{Service: api.Service, StatusCode: api.StatusCode, RequestID: api.RequestID, Code: api.Code, APICode: api.APICode,
		Message: api.Message, RetryAfter: api.RetryAfter, Attempts: attempts,
		retriedDuplicate: c.retriedDuplicate && api.StatusCode == http.StatusConflict}
	// The text around the answer is kept (a deadline, a failed re-read of
	// the secret); the answer's own words become the public error's.
	w := &wrapped{msg: op + ": " + strings.Replace(err.Error(), api.Error(), pub.Error(), 1), errs: []error{pub}}
	var se *SecretError
	if errors.As(err, &se) {
		w.errs = append(w.errs, se)
	}
	var re *RotationError
	if errors.As(err, &re) {
		w.errs = append(w.errs, re)
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) {
			w.errs = append(w.errs, ctxErr)
		}
	}
	return w
}

// wrapped is an error whose text was built around an *Error.
type wrapped struct {
	msg  string
	errs []error
}

func (w *wrapped) Error() string   { return w.msg }
func (w *wrapped) Unwrap() []error { return w.errs }
