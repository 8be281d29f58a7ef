package alexahttp

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// NewHTTPClient returns the HTTP client for LWA and the Alexa APIs: a
// per-request timeout, userAgent and Accept: application/json on every
// request, idle connections kept for many concurrent senders (the default
// keeps two per host), and no redirects (a 3xx is reported, not followed, so
// a token never follows one).
func NewHTTPClient(timeout time.Duration, userAgent string) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{
		Timeout:   timeout,
		Transport: &headerTransport{base: t, userAgent: userAgent},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type headerTransport struct {
	base      http.RoundTripper
	userAgent string
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", t.userAgent)
	req.Header.Set("Accept", "application/json")
	return t.base.RoundTrip(req)
}

// ParseEndpoint parses an endpoint URL: absolute https, or plain http to a
// loopback host (tests), with no user, query or fragment.
func ParseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q is not a URL", Clip(raw, 120))
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("endpoint %q must be an absolute URL without user, query or fragment", Clip(raw, 120))
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("endpoint %q: plain http is allowed only to a loopback host", Clip(raw, 120))
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be https", Clip(raw, 120))
	}
}

// IsLoopback reports whether host (without port) is localhost or a
// loopback IP address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
