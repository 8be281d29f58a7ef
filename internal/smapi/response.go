package smapi

import (
	"io"
	"net/http"
)

// CheckResponse returns nil for a 2xx answer and otherwise an *APIError for
// service with the status, the X-Amzn-RequestId, Retry-After and the
// service's {"message"} from body (cut to a bounded length, never the body
// itself). Other packages that call Amazon use it so their errors are
// classified by Retrier like SMAPI's.
func CheckResponse(service string, resp *http.Response, body []byte) error {
	err := checkResponse(resp, body)
	if api, ok := err.(*APIError); ok {
		api.Service = service
	}
	return err
}

// ReadBody reads at most MaxBodyBytes of r; a longer body is an error.
func ReadBody(r io.Reader) ([]byte, error) { return readBody(r) }

// RequestIDFromHeader returns the request id Amazon's services set
// (X-Amzn-RequestId and its variants), cut to a bounded length, or "".
func RequestIDFromHeader(h http.Header) string { return requestID(h) }

// LWAError turns an error of the golang.org/x/oauth2 packages into an
// *APIError with Service "LWA" (status, OAuth error code, description,
// request id, Retry-After), dropping the raw response body the oauth2 error
// carries. Other errors are returned as they are.
func LWAError(err error) error { return lwaError(err) }
