package smapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Version is the product version sent in the User-Agent.
const Version = "0.1.0"

// UserAgent names the product and version in every request.
const UserAgent = "alexa-skill-credentials/" + Version + " (+https://github.com/alexa-skill-credentials)"

// NewHTTPClient returns the HTTP client for LWA and SMAPI: a per-attempt
// timeout, the product's User-Agent and Accept: application/json on every
// request, idle connections kept for every concurrent worker (the default
// keeps two per host, so a sync at concurrency 8 would open a new TLS
// connection for most requests), and no redirects (a 3xx is reported, not
// followed).
func NewHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{
		Timeout:   timeout,
		Transport: &headerTransport{base: t},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type headerTransport struct{ base http.RoundTripper }

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	return t.base.RoundTrip(req)
}

// ParseEndpoint parses an endpoint URL from configuration. It must be
// absolute https, or plain http to a loopback host (tests and the demo), with
// no query or fragment.
func ParseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q is not a URL: %w", raw, err)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("endpoint %q must be an absolute URL without user, query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("endpoint %q: plain http is allowed only to a loopback host", raw)
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be https", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
