package alexahttp

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

// MaxBodyBytes bounds how much of a response body is read. An error answer
// is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// MaxMessageLen bounds a service-provided message or request id in an error.
const MaxMessageLen = 200

// ErrBodyTooLarge is ReadBody's error for a body over MaxBodyBytes.
var ErrBodyTooLarge = fmt.Errorf("body larger than %d bytes", MaxBodyBytes)

// ReadBody reads at most MaxBodyBytes of r; a longer body is an error.
func ReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	return body, nil
}

// CheckResponse returns nil for a 2xx answer and otherwise an *APIError for
// service with the status, the X-Amzn-RequestId, Retry-After (read against
// now) and the service's {"code", "message"} from body (Amazon's error model
// for the Alexa APIs: an integer code and a message; cut to a bounded
// length, never the body itself).
func CheckResponse(service string, resp *http.Response, body []byte, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &APIError{
		Service:    service,
		StatusCode: resp.StatusCode,
		RequestID:  RequestIDFromHeader(resp.Header),
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	var m struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.Message = Clip(m.Message, MaxMessageLen)
		var code int
		if json.Unmarshal(m.Code, &code) == nil {
			e.APICode = code
		}
	}
	return e
}

// LWAError turns an error of the golang.org/x/oauth2 packages into an
// *APIError with Service "LWA" (status, OAuth error code, description,
// request id, Retry-After) and drops the raw response body the oauth2 error
// carries. Other errors are returned as they are.
func LWAError(err error, now time.Time) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	e := &APIError{Service: "LWA", Code: Clip(re.ErrorCode, 60), Message: Clip(re.ErrorDescription, MaxMessageLen)}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
		e.RequestID = RequestIDFromHeader(re.Response.Header)
		e.RetryAfter = ParseRetryAfter(re.Response.Header.Get("Retry-After"), now)
	}
	return e
}

// RequestIDFromHeader returns the request id Amazon's services set
// (X-Amzn-RequestId and its variants), cut to a bounded length, or "".
func RequestIDFromHeader(h http.Header) string {
	for _, k := range []string{"X-Amzn-RequestId", "X-Amzn-Request-Id", "X-Amz-Request-Id"} {
		if v := h.Get(k); v != "" {
			return Clip(v, MaxMessageLen)
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
		return nil, LWAError(err, time.Now())
	}
	return tok, nil
}

// Clip keeps a string from a service or a caller printable, valid UTF-8 and
// at most n bytes (plus "…") in an error.
func Clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		cut := n
		// cut >= 0 would be an equivalent mutant: s is valid UTF-8 here, so
		// s[0] is a rune start and the loop stops there either way.
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
