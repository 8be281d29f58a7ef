// Package contract holds what the function and the stack that deploys it must
// agree on: the environment variables the stack sets and the function reads,
// the metrics the function emits and the alarms and dashboard watch, the tag
// on the secrets the function creates, the limits both enforce, and the rule
// for skill and vendor ids. It is the standard library only, so the CDK app
// (infra/) imports it and nothing else of the runtime (internal/deptest).
package contract

import (
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"
)

// Environment variables of the sync function, set by the stack.
const (
	EnvLWASecretID       = "LWA_SECRET_ID"       // name or ARN of the LWA secret
	EnvSkillSecretPrefix = "SKILL_SECRET_PREFIX" // name prefix of the skill secrets
	EnvSMAPIEndpoint     = "SMAPI_ENDPOINT"      // SMAPI base URL (tests)
	EnvLWATokenURL       = "LWA_TOKEN_URL"       // LWA token URL (tests)
	EnvSyncConcurrency   = "SYNC_CONCURRENCY"    // skills fetched at once, MinConcurrency..MaxConcurrency
	EnvSkillDiscovery    = "SKILL_DISCOVERY"     // DiscoveryOff or DiscoveryVendor
	EnvVendorID          = "VENDOR_ID"           // with DiscoveryVendor: only this vendor's skills
	EnvSkillIDsFile      = "SKILL_IDS_FILE"      // JSON list of declared skills whose secrets the function creates
	EnvKMSKeyID          = "SKILL_SECRET_KMS_KEY_ID"
	EnvRotationDays      = "SKILL_SECRET_ROTATION_DAYS"
	EnvRotationLambdaARN = "SKILL_SECRET_ROTATION_LAMBDA_ARN"
)

// Values of EnvSkillDiscovery (the stack's skillDiscovery).
const (
	DiscoveryOff    = "off"
	DiscoveryVendor = "vendor"
)

// Bounds of EnvSyncConcurrency (syncConcurrency): SMAPI throttles long
// before MaxConcurrency; the limit keeps one account's run polite.
const (
	MinConcurrency     = 1
	MaxConcurrency     = 64
	DefaultConcurrency = 8
)

// Bounds of EnvRotationDays (rotationDays): Secrets Manager's
// AutomaticallyAfterDays.
const (
	MinRotationDays = 1
	MaxRotationDays = 1000
)

// MaxStackSkillSecrets is the most declared skills whose secrets the stack
// creates itself. CloudFormation allows 500 resources per stack; each such
// skill takes two (its secret and its rotation schedule) and the rest of the
// stack about 30. With more, the function creates every declared skill's
// secret (EnvSkillIDsFile).
const MaxStackSkillSecrets = 230

// ManagedTagKey is the tag, with value "true", the function puts on every
// secret it creates; the stack's IAM conditions allow creating and tagging
// only with it.
const ManagedTagKey = "alexa-skill-credentials:managed"

// MetricNamespace is the CloudWatch namespace of the function's metrics.
const MetricNamespace = "AlexaSkillCredentials"

// Metric names of the summary line's Embedded Metric Format record, with
// dimension FunctionName.
//
// Every sync run emits the first seven. Only a run over every skill emits
// MetricFullRunFailed, and MetricFullRunSkillsFailed only when it completed:
// a {"skillIds"} run never counts as a full run, so the stack's alarms watch
// these two.
const (
	MetricSyncSucceeded   = "SyncSucceeded" // 1 when the run and every skill in it succeeded
	MetricSkillsUpdated   = "SkillsUpdated"
	MetricSkillsUnchanged = "SkillsUnchanged"
	MetricSkillsFailed    = "SkillsFailed"
	MetricSMAPIRetries    = "SMAPIRetries"   // SMAPI calls repeated after a 429, a 5xx or a timeout
	MetricSMAPIThrottled  = "SMAPIThrottled" // SMAPI answers that were 429 (throttling)
	// MetricSkillsNotStarted counts the skills the run had no time left to
	// start (also counted in MetricSkillsFailed); the next run over every
	// skill starts with them.
	MetricSkillsNotStarted = "SkillsNotStarted"
	// MetricFullRunFailed is 1 when a run over every skill could not
	// complete (LWA refused, configuration, listing the secrets, saving a
	// rotated refresh token, or no time left for some skills), else 0.
	MetricFullRunFailed = "FullRunFailed"
	// MetricFullRunSkillsFailed is the number of failed skills of a run over
	// every skill that completed.
	MetricFullRunSkillsFailed = "FullRunSkillsFailed"
)

// Metrics lists every metric name above, in that order.
var Metrics = []string{
	MetricSyncSucceeded, MetricSkillsUpdated, MetricSkillsUnchanged, MetricSkillsFailed,
	MetricSMAPIRetries, MetricSMAPIThrottled, MetricSkillsNotStarted,
	MetricFullRunFailed, MetricFullRunSkillsFailed,
}

// skillIDPattern matches the two forms Amazon issues: amzn1.ask.skill.<uuid>
// and the legacy amzn1.echo-sdk-ams.app.<uuid>.
var skillIDPattern = regexp.MustCompile(`^amzn1\.(?:ask\.skill|echo-sdk-ams\.app)\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// MaxSkillIDLen is the length of the longest valid skill id
// (amzn1.echo-sdk-ams.app.<uuid>).
const MaxSkillIDLen = len("amzn1.echo-sdk-ams.app.") + 36

// ErrInvalidSkillID is returned (wrapped) for a skill id of the wrong form.
var ErrInvalidSkillID = errors.New("invalid skill id")

// ValidateSkillID returns nil when id is amzn1.ask.skill.<uuid> or the legacy
// amzn1.echo-sdk-ams.app.<uuid>, and an error wrapping ErrInvalidSkillID
// otherwise. An id that fails here is never sent to SMAPI nor put in a
// policy.
func ValidateSkillID(id string) error {
	if skillIDPattern.MatchString(id) {
		return nil
	}
	return fmt.Errorf("%w %q: want amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>", ErrInvalidSkillID, clip(id, 80))
}

// vendorIDPattern is an Amazon developer vendor id.
var vendorIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)

// ValidateVendorID returns an error unless id looks like a vendor id.
func ValidateVendorID(id string) error {
	if vendorIDPattern.MatchString(id) {
		return nil
	}
	return fmt.Errorf("invalid vendor id %q: want the letters and digits of an Amazon developer vendor id, e.g. M1ABCDEFGHIJKL", clip(id, 200))
}

// clip shortens s to at most max bytes, on a rune boundary, for an error
// message (which quotes it with %q).
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
