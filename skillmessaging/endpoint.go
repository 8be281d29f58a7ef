package skillmessaging

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
)

// The Alexa API endpoints of the three regions. A skill request carries the
// user's in context.System.apiEndpoint; pass that when you have it.
//
// Amazon's Skill Messaging reference names https://api.fe.amazon.com for the
// Far East (https://developer.amazon.com/docs/smapi/skill-messaging-api-reference.html),
// while skill requests from Far East users carry
// https://api.fe.amazonalexa.com as their apiEndpoint, which is also the Far
// East host of the Proactive Events API
// (https://developer.amazon.com/docs/smapi/proactive-events-api-reference.html).
// Both are accepted; prefer the request's apiEndpoint, and
// EndpointFarEast only when you have no request at hand.
const (
	EndpointNorthAmerica = "https://api.amazonalexa.com"
	EndpointEurope       = "https://api.eu.amazonalexa.com"
	EndpointFarEast      = "https://api.fe.amazon.com"
)

// alexaAPIHosts are the hosts an access token is sent to without
// WithAllowedHosts: Amazon's Alexa API hosts of the three regions, with the
// two Far East names Amazon's documentation uses. Unexported: it is a
// security allow-list no importer may change.
var alexaAPIHosts = []string{"api.amazonalexa.com", "api.eu.amazonalexa.com", "api.fe.amazonalexa.com", "api.fe.amazon.com"}

// checkEndpoint parses an endpoint an access token is about to be sent to:
// https on an Alexa API host or on a host of extra, or http(s) on a loopback
// host. Anything else matches ErrInvalidEndpoint.
func checkEndpoint(endpoint string, extra []string) (*url.URL, error) {
	u, err := alexahttp.ParseEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEndpoint, err)
	}
	host := strings.ToLower(u.Hostname())
	if alexahttp.IsLoopback(host) {
		return u, nil
	}
	if u.Scheme == "https" {
		if (u.Port() == "" || u.Port() == "443") && slices.Contains(alexaAPIHosts, host) {
			return u, nil
		}
		if slices.Contains(extra, strings.ToLower(u.Host)) || (u.Port() == "" && slices.Contains(extra, host)) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w %q: the access token is sent only to Amazon's Alexa API hosts (%s) or a loopback host; allow others with WithAllowedHosts",
		ErrInvalidEndpoint, clip(endpoint, 120), strings.Join(alexaAPIHosts, ", "))
}
