// Package alexahttp is the HTTP plumbing of package skillmessaging for
// Amazon's APIs (Login with Amazon, Skill Messaging, Proactive Events): the
// one type of a service's error answer (APIError, CheckResponse, LWAError),
// bounded body reads, X-Amzn-RequestId, the retry policy (Retrier,
// ParseRetryAfter), endpoint parsing and the loopback check, the HTTP client,
// skill id validation, LWA's client_credentials grant and Clip.
//
// It lives inside the skillmessaging module so that a skill developer's
// module needs no other module of this repository. The credential sync
// (internal/smapi of the root module) keeps its own copy of the few pieces
// both need; docs/development.md lists them.
package alexahttp
