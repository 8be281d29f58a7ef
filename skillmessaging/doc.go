// Package skillmessaging lets an Alexa skill's own code (typically its AWS
// Lambda function) send messages to the skill through the Skill Messaging
// API, using the skill messaging credentials that the alexa-skill-credentials
// sync keeps in AWS Secrets Manager.
//
// It does three things:
//
//   - CredentialsCache reads a skill's secret (<prefix><skillId>,
//     AWSCURRENT) and keeps the clientId and clientSecret in memory for a
//     TTL (5 minutes by default), with one Secrets Manager call per skill
//     however many goroutines ask at once. While Secrets Manager fails
//     transiently it keeps serving the last credentials, for a bounded time.
//     It is one CredentialsProvider; StaticCredentials is another (a pair
//     from the environment, a Lambda extension or a test).
//   - TokenSource is an oauth2.TokenSource for Login with Amazon's
//     client_credentials grant with scope alexa:skill_messaging. It reuses a
//     token until shortly before it expires, and when LWA refuses the cached
//     credentials (invalid_client: they were rotated since they were read) it
//     reads them again, once, and retries. With WithRotateOnRefusal the
//     cache then asks Secrets Manager to rotate the skill's secret (its
//     rotation function, the sync, fetches the credentials Amazon has now),
//     waits for the result and the grant is retried once: freshness in
//     seconds instead of at the next scheduled sync.
//   - Sender posts a message to POST /v1/skillmessages/users/{userId} on the
//     user's regional endpoint, after validating it, retrying throttling
//     (429, honouring Retry-After) and server errors (5xx) within the
//     caller's context, and getting a new token once after a 403 (at most
//     once a minute). The token is sent only to Amazon's Alexa API hosts, a
//     loopback host, or hosts allowed with WithAllowedHosts.
//   - ProactiveEventsSender sends Proactive Events (Alexa notifications) with
//     the same credentials (scope alexa::proactive_events) to the development
//     or live stage chosen per call, with one token for both, checked before
//     sending against Amazon's rules, with the same host allow-list, retries
//     and errors.
//
// In a skill Lambda, built once per container:
//
//	creds := skillmessaging.NewCredentialsCache(secretsmanager.NewFromConfig(cfg), "alexa/skill-messaging/")
//	sender, err := skillmessaging.NewSender(creds, skillID)
//
// and per message:
//
//	res, err := sender.Send(ctx, apiEndpoint, userID,
//		skillmessaging.Message{Data: map[string]string{"event": "order-shipped"}})
//
// Everything is configured when it is built (CacheOption, Option); nothing
// can be changed afterwards.
//
// # Errors
//
// Errors can be told apart with errors.Is and errors.As, never by their text:
// ErrNotSynced, ErrSecretNotFound and ErrMalformedSecret (inside a
// *SecretError) for the secret; ErrInvalidSkillID, ErrInvalidUserID,
// ErrInvalidMessage and ErrInvalidEndpoint for arguments refused before any
// request; and *Error, with the HTTP status and the X-Amzn-RequestId, for an
// answer of LWA or an Alexa API (with Amazon's code and the attempts it
// took), which also matches ErrCredentialsRefused, ErrInvalidMessage,
// ErrUnauthorized, ErrUnknownUser, ErrThrottled, ErrServerError,
// ErrNotificationLimit, ErrDuplicateEvent or ErrRetriedDuplicate as fits. A
// send that got past its argument checks also returns its *SendResult
// (attempts, last status, request id) with the error. A Retry-After is
// honoured up to MaxRetryAfter (one minute).
//
// # Delivery
//
// A 202 means Alexa queued the message, not that the skill received it. A
// retried POST (after a timeout or a 5xx that came after Amazon queued the
// message) can deliver it twice: delivery is at least once, see Sender.
//
// # Secrets
//
// Client secrets travel as Secret, which prints, logs and marshals as
// [REDACTED]; no type of this package prints a secret or a token with any
// fmt verb or slog handler. No error of this package holds a client secret,
// an access token or a response body, and the package writes no logs
// unless WithLogger gives it a logger (one line per rotation request).
//
// CredentialsCache, TokenSource and Sender are safe for concurrent use; build
// them once and share them.
//
// # Module, version and compatibility
//
// The package is a Go module of its own,
// github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging,
// on Go 1.24, requiring only the AWS SDK's Secrets Manager client,
// golang.org/x/oauth2 and golang.org/x/sync: requiring it brings no other
// module of this repository, does not raise your go line past 1.24, and
// brings none of the sync's CDK app, Lambda runtime or tools into your module
// graph. Its version is Version (tag skillmessaging/vX.Y.Z); its changes are
// in CHANGELOG.md beside this file.
//
// It is v0: the API may still change, but only in a minor version (as
// v0.2.0 did), listed in CHANGELOG.md, never in a patch. What will not
// change within v0: the secret it reads ({"skillId","clientId","clientSecret"},
// AWSCURRENT), that secrets and tokens never print, that the sentinel errors
// keep their meaning and the fields of Error and SecretError stay, and that
// tokens go only to Amazon's Alexa API hosts unless WithAllowedHosts says
// otherwise.
package skillmessaging

// Version is this module's version.
const Version = "0.2.0"
