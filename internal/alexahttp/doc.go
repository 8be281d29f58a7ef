// Package alexahttp is the HTTP plumbing that the credential sync
// (internal/smapi) and package skillmessaging share for Amazon's APIs: the
// one wording and type of a service's error answer (APIError,
// CheckResponse), bounded body reads, X-Amzn-RequestId, the retry policy
// (Retrier, ParseRetryAfter; the sync's pacer plugs in through the Pacer
// interface), endpoint parsing, the HTTP client, skill id
// validation and LWA's client_credentials grant.
//
// It is a module of its own, on Go 1.24 with nothing but golang.org/x/oauth2,
// so that skillmessaging (also a module of its own) can use it without its
// users importing the sync's dependencies; Go's internal rule keeps it out of
// reach of code outside this repository. It imports no AWS package.
package alexahttp
