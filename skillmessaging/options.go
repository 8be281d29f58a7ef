package skillmessaging

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
)

// Option configures a TokenSource or a Sender when it is built. There is no
// way to change one afterwards.
type Option func(*config)

// WithTokenURL sets LWA's token endpoint (default DefaultTokenURL). It must
// be https, or http to a loopback host (tests).
func WithTokenURL(tokenURL string) Option { return func(c *config) { c.tokenURL = tokenURL } }

// WithHTTPClient sets the client for the requests to LWA and the Alexa APIs
// (default: 10 s per request, no redirects followed).
func WithHTTPClient(client *http.Client) Option { return func(c *config) { c.client = client } }

// WithMaxAttempts bounds the requests for one token or one message, first one
// included (default DefaultMaxAttempts).
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithAllowedHosts lets the access token also be sent to these https hosts
// (host or host:port, such as a proxy of yours in front of the Alexa APIs).
// Without it, the token goes only to Amazon's Alexa API hosts
// (api.amazonalexa.com, api.eu.amazonalexa.com, api.fe.amazonalexa.com and
// api.fe.amazon.com) and to http or https on a loopback host (tests): an
// endpoint taken from a request that someone else can shape cannot redirect
// it.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) {
		for _, h := range hosts {
			c.extraHosts = append(c.extraHosts, strings.ToLower(h))
		}
	}
}

// config is what the Options set. now and sleep are seams for this
// package's tests only.
type config struct {
	tokenURL    string
	client      *http.Client
	maxAttempts int
	extraHosts  []string

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// settings are the resolved configuration of a TokenSource or Sender.
type settings struct {
	tokenURL   string
	client     *http.Client
	retrier    alexahttp.Retrier
	now        func() time.Time
	extraHosts []string
}

// userAgent names the library and its version in every request.
const userAgent = "skillmessaging-go/" + Version + " (+https://github.com/alexa-skill-credentials)"

func newSettings(opts []Option) (settings, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	s := settings{tokenURL: c.tokenURL, client: c.client, retrier: alexahttp.DefaultRetrier(), now: c.now, extraHosts: c.extraHosts}
	if s.tokenURL == "" {
		s.tokenURL = DefaultTokenURL
	}
	if _, err := alexahttp.ParseEndpoint(s.tokenURL); err != nil {
		return settings{}, fmt.Errorf("%w: token URL: %w", ErrInvalidEndpoint, err)
	}
	if s.client == nil {
		s.client = alexahttp.NewHTTPClient(requestTimeout, userAgent)
	}
	s.retrier.MaxAttempts = DefaultMaxAttempts
	if c.maxAttempts > 0 {
		s.retrier.MaxAttempts = c.maxAttempts
	}
	s.retrier.MaxRetryAfter = MaxRetryAfter
	s.retrier.Sleep = c.sleep
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}
