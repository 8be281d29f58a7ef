package skillmessaging

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
)

// TestSecretErrorText: the kind, the reason and the cause each appear once,
// separated by ": ", whichever of them the error has.
func TestSecretErrorText(t *testing.T) {
	cause := errors.New("access denied")
	for _, tt := range []struct {
		e    SecretError
		want string
	}{
		{SecretError{SecretID: "s", Kind: ErrMalformedSecret, Reason: "clientId is empty", Err: cause}, "read skill secret s: malformed skill secret: clientId is empty: access denied"},
		{SecretError{SecretID: "s", Kind: ErrMalformedSecret, Err: cause}, "read skill secret s: malformed skill secret: access denied"},
		{SecretError{SecretID: "s", Reason: "no string value", Err: cause}, "read skill secret s: no string value: access denied"},
		{SecretError{SecretID: "s", Err: cause}, "read skill secret s: access denied"},
		{SecretError{SecretID: "s", Kind: ErrMalformedSecret, Reason: "clientId is empty"}, "read skill secret s: malformed skill secret: clientId is empty"},
		{SecretError{SecretID: "s", Kind: ErrNotSynced}, "read skill secret s: skill messaging credentials not synced yet"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q; want %q", tt.e, got, tt.want)
		}
	}
}

// TestErrorIs: the status edges of the kinds an *Error matches.
func TestErrorIs(t *testing.T) {
	for _, tt := range []struct {
		service string
		status  int
		target  error
		want    bool
	}{
		{ServiceSkillMessaging, 500, ErrServerError, true},
		{ServiceSkillMessaging, 499, ErrServerError, false},
		{ServiceLWA, 503, ErrServerError, true},
		{ServiceSkillMessaging, http.StatusUnauthorized, ErrUnauthorized, true},
		{ServiceSkillMessaging, http.StatusForbidden, ErrUnauthorized, true},
		{ServiceSkillMessaging, http.StatusBadRequest, ErrUnauthorized, false},
		{ServiceProactiveEvents, http.StatusNotFound, ErrUnauthorized, false},
		{ServiceSkillMessaging, http.StatusNotFound, ErrUnknownUser, true},
	} {
		e := &Error{Service: tt.service, StatusCode: tt.status}
		if got := errors.Is(e, tt.target); got != tt.want {
			t.Errorf("errors.Is(%s HTTP %d, %v) = %v; want %v", tt.service, tt.status, tt.target, got, tt.want)
		}
	}
}

// TestFailCountsAttempts: an operation's error says how many requests it
// made to the service at fault, and nothing when it made none (a failed
// secret read, a remembered refusal).
func TestFailCountsAttempts(t *testing.T) {
	lwa := &alexahttp.APIError{Service: ServiceLWA, StatusCode: 401, Code: "invalid_client"}
	api := &alexahttp.APIError{Service: ServiceSkillMessaging, StatusCode: 500}
	other := errors.New("connection reset")
	for _, tt := range []struct {
		c    counts
		err  error
		want string // the error's start
		n    int    // *Error.Attempts; -1: no *Error
	}{
		{counts{}, other, "op: connection reset", -1},
		{counts{api: 1}, other, "op (attempts: 1): connection reset", -1},
		{counts{api: 3, lwa: 1}, other, "op (attempts: 3): connection reset", -1},
		{counts{}, lwa, "op: LWA answered", 0},
		{counts{api: 2}, lwa, "op: LWA answered", 0},
		{counts{lwa: 2}, lwa, "op (attempts: 2): LWA answered", 2},
		{counts{api: 5, lwa: 1}, api, "op (attempts: 5): Skill Messaging API answered", 5},
	} {
		err := fail("op", tt.c, tt.err)
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("fail(op, %+v, %v) = %q; want it to start with %q", tt.c, tt.err, err, tt.want)
		}
		var pub *Error
		if got := errors.As(err, &pub); got != (tt.n >= 0) || (got && pub.Attempts != tt.n) {
			t.Errorf("fail(op, %+v, %v) = %#v; want an *Error with %d attempts: %v", tt.c, tt.err, err, tt.n, got)
		}
	}
}
