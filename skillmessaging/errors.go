package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/alexahttp"
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
	// not be sent to: not https on an Alexa API host (AlexaAPIHosts) or on a
	// host allowed with WithAllowedHosts, nor http(s) on a loopback host.
	ErrInvalidEndpoint = errors.New("invalid endpoint")
)

// Errors an *Error matches with errors.Is, by the answer it carries.
var (
	// ErrCredentialsRefused means LWA refused the skill's client id and
	// secret (invalid_client) even after the secret was read again: they
	// were rotated at Amazon and the sync has not stored the new ones yet.
	ErrCredentialsRefused = errors.New("skill messaging credentials refused by LWA")
	// ErrUnauthorized means the Skill Messaging API refused the access
	// token (403) even after a new token was fetched.
	ErrUnauthorized = errors.New("access token refused")
	// ErrUnknownUser means the user id is not a user of the skill (404).
	ErrUnknownUser = errors.New("unknown user")
	// ErrThrottled means the service was still throttling (429) after all
	// attempts.
	ErrThrottled = errors.New("throttled")
	// ErrDuplicateEvent means the Proactive Events API already has an event
	// with this referenceId for this user (409).
	ErrDuplicateEvent = errors.New("duplicate proactive event")
)

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

// Error is a non-2xx answer from LWA or the Skill Messaging API. It holds the
// service's own message, never a response body, a token or a secret.
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
	// Message is the service's message, cut to a bounded length.
	Message string
	// RetryAfter is the delay the Retry-After header asked for, or zero.
	RetryAfter time.Duration
}

// Error names the service, status, code, message and request id, with a
// hint where one helps.
func (e *Error) Error() string {
	return alexahttp.DescribeAnswer(e.Service, e.StatusCode, e.Code, e.Message, e.RequestID, e.hint())
}

// HTTPStatusCode returns the HTTP status of the answer.
func (e *Error) HTTPStatusCode() int { return e.StatusCode }

// Is reports whether the answer is the kind target names: ErrCredentialsRefused,
// ErrInvalidMessage, ErrUnauthorized, ErrUnknownUser or ErrThrottled.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrCredentialsRefused:
		return e.Service == ServiceLWA && e.Code == "invalid_client"
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	}
	if e.Service != ServiceSkillMessaging && e.Service != ServiceProactiveEvents {
		return false
	}
	switch target {
	case ErrDuplicateEvent:
		return e.Service == ServiceProactiveEvents && e.StatusCode == http.StatusConflict
	case ErrInvalidMessage:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized
	case ErrUnknownUser:
		return e.Service == ServiceSkillMessaging && e.StatusCode == http.StatusNotFound
	}
	return false
}

func (e *Error) hint() string {
	switch {
	case e.Is(ErrCredentialsRefused):
		return "the skill's messaging credentials were refused even after reading its secret again: they were probably rotated at Amazon and the credential sync has not run since"
	case e.Service == ServiceLWA && e.Code == "invalid_scope":
		return "the skill cannot get Skill Messaging tokens (scope alexa:skill_messaging)"
	case e.Is(ErrUnauthorized):
		return "the access token was refused even after getting a new one"
	case e.Is(ErrUnknownUser):
		return "the user id is not a user of this skill (or the endpoint is not the user's region)"
	}
	return ""
}

// publicError replaces the module's *alexahttp.APIError anywhere in err's chain
// by an *Error, keeping the text around it, so that no internal
// type is reachable through Unwrap. Other errors are returned as they are.
func publicError(err error) error {
	var api *alexahttp.APIError
	if !errors.As(err, &api) {
		return err
	}
	pub := &Error{Service: api.Service, StatusCode: api.StatusCode, RequestID: api.RequestID, Code: api.Code,
		Message: api.Message, RetryAfter: api.RetryAfter}
	if error(api) == err {
		return pub
	}
	// The text is kept; below it are the public error, a failure to read
	// the credentials again, and the context's error when the caller gave
	// up.
	w := &wrapped{msg: err.Error(), errs: []error{pub}}
	var se *SecretError
	if errors.As(err, &se) {
		w.errs = append(w.errs, se)
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
