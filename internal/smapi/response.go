package smapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// MaxBodyBytes bounds how much of a response body is read. A credentials
// answer is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// errBodyTooLarge is ReadBody's error for a body over MaxBodyBytes.
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

// LWAError turns an error of the golang.org/x/oauth2 packages into an
// *APIError with Service "LWA" (status, OAuth error code, description,
// request id, Retry-After) so that callers and Retrier can classify it, and
// drops the raw response body the oauth2 error carries. Other errors are
// returned as they are.
func LWAError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	e := &APIError{Service: "LWA", Code: re.ErrorCode, Message: clip(re.ErrorDescription)}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
		e.RequestID = RequestIDFromHeader(re.Response.Header)
		e.RetryAfter = ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
	}
	return e
}

// RequestIDFromHeader returns the request id Amazon's services set
// (X-Amzn-RequestId and its variants), cut to a bounded length, or "".
func RequestIDFromHeader(h http.Header) string {
	for _, k := range []string{"X-Amzn-RequestId", "X-Amzn-Request-Id", "X-Amz-Request-Id"} {
		if v := h.Get(k); v != "" {
			return clip(v)
		}
	}
	return ""
}

// ClientCredentialsToken gets an access token from LWA at tokenURL with a
// skill's client id and secret: the client_credentials grant with scope
// (alexa:skill_messaging, alexa::proactive_events), credentials as form
// parameters (no probing of the auth style), one request, no retry. A
// refusal is an *APIError with Service "LWA".
func ClientCredentialsToken(ctx context.Context, client *http.Client, tokenURL, scope, clientID, clientSecret string) (*oauth2.Token, error) {
	conf := &clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     tokenURL,
		Scopes:       []string{scope},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	tok, err := conf.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	if err != nil {
		return nil, fmt.Errorf("LWA client_credentials grant (scope %s): %w", scope, LWAError(err))
	}
	return tok, nil
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
		// cut >= 0 would be an equivalent mutant: s is valid UTF-8 here, so
		// s[0] is a rune start and the loop stops there either way.
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
