package skillmessaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/singleflight"
)

// SecretsManagerAPI is the one Secrets Manager call the CredentialsCache
// makes. *secretsmanager.Client implements it; tests may wrap it.
type SecretsManagerAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// DefaultTTL is how long a CredentialsCache serves credentials from memory
// before it reads the secret again.
const DefaultTTL = 5 * time.Minute

// DefaultMaxStale is how long past their TTL a CredentialsCache keeps
// serving the last credentials it read while Secrets Manager fails (a
// network error, throttling, a 5xx, an expired role session): the
// credentials a sync wrote keep working at Amazon until the skill's next
// rotation, so an outage of Secrets Manager need not stop every send. The
// open-source AWS Secrets Manager Agent also serves its cached value when a
// refresh fails transiently (its ignore_transient_errors setting, on by
// default: https://github.com/aws/aws-secretsmanager-agent).
const DefaultMaxStale = 30 * time.Minute

// loadTimeout bounds one shared read, which outlives a caller that gives up.
const loadTimeout = 30 * time.Second

// CacheOption configures a CredentialsCache when it is built.
type CacheOption func(*CredentialsCache)

// WithTTL sets how long credentials are served from memory (default
// DefaultTTL). Zero or less means the default.
func WithTTL(d time.Duration) CacheOption {
	return func(c *CredentialsCache) {
		if d > 0 {
			c.ttl = d
		}
	}
}

// WithMaxStale sets how long past the TTL the last credentials keep being
// served while Secrets Manager fails (default DefaultMaxStale); zero turns
// it off, so every failed read is an error.
func WithMaxStale(d time.Duration) CacheOption {
	return func(c *CredentialsCache) { c.maxStale = max(d, 0) }
}

// CredentialsCache reads skills' messaging credentials from their secrets,
// always the AWSCURRENT version, and keeps them in memory for a TTL.
// Concurrent calls for the same skill share one Secrets Manager call. A
// secret that cannot be used (missing, not synced, malformed) is an error at
// once and is not cached; when Secrets Manager itself fails, the last
// credentials read are served for up to the max-stale time past their TTL. It
// implements CredentialsProvider and is safe for concurrent use.
type CredentialsCache struct {
	api      SecretsManagerAPI
	prefix   string // secrets named prefix+skillID, or
	secretID string // one secret by name or ARN
	ttl      time.Duration
	maxStale time.Duration
	now      func() time.Time // a seam for this package's tests

	// Healing (WithRotateOnRefusal); sleep is a seam for the tests.
	rotator        SecretRotator
	rotateInterval time.Duration
	logger         *slog.Logger
	sleep          func(ctx context.Context, d time.Duration) error

	flight  singleflight.Group
	mu      sync.Mutex
	cache   map[string]*cacheEntry // by secret id
	rotated map[string]time.Time   // when a rotation was last requested, by secret id
}

type cacheEntry struct {
	creds Credentials
	// read is when the secret was read, on the wall clock: a monotonic
	// reading stops while Lambda freezes the container between
	// invocations, and the TTL must count that time.
	read time.Time
}

// NewCredentialsCache returns a cache of the skill secrets named
// <prefix><skillId>, such as "alexa/skill-messaging/", the
// SKILL_SECRET_PREFIX of the credential sync.
func NewCredentialsCache(api SecretsManagerAPI, prefix string, opts ...CacheOption) *CredentialsCache {
	return newCache(api, prefix, "", opts)
}

// NewSecretCredentialsCache returns a cache of the one skill secret named
// (or with the ARN) secretID, for a function that is given its secret's name
// rather than the prefix.
func NewSecretCredentialsCache(api SecretsManagerAPI, secretID string, opts ...CacheOption) *CredentialsCache {
	return newCache(api, "", secretID, opts)
}

func newCache(api SecretsManagerAPI, prefix, secretID string, opts []CacheOption) *CredentialsCache {
	c := &CredentialsCache{api: api, prefix: prefix, secretID: secretID, ttl: DefaultTTL, maxStale: DefaultMaxStale, now: time.Now,
		rotateInterval: DefaultRotateInterval, sleep: alexahttp.SleepTimer}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// Credentials returns the messaging credentials of skillID from memory, or
// reads them when they are not there or older than the TTL. For a cache from
// NewSecretCredentialsCache, skillID may be empty (any skill) or must match
// the secret's skillId. Errors are a *SecretError (matching ErrNotSynced,
// ErrSecretNotFound or ErrMalformedSecret, or holding Secrets Manager's
// error), an error matching ErrInvalidSkillID, or ctx's error.
func (r *CredentialsCache) Credentials(ctx context.Context, skillID string) (Credentials, error) {
	return r.get(ctx, skillID, false)
}

// Reload reads the credentials of skillID now, bypassing and then replacing
// what is in memory. Use it when the cached credentials were refused. It
// serves no stale credentials: a failure is an error.
func (r *CredentialsCache) Reload(ctx context.Context, skillID string) (Credentials, error) {
	return r.get(ctx, skillID, true)
}

func (r *CredentialsCache) get(ctx context.Context, skillID string, reload bool) (Credentials, error) {
	id, err := r.secretName(skillID)
	if err != nil {
		return Credentials{}, err
	}
	if !reload {
		if c, ok := r.cached(id, r.ttl); ok {
			return checkSkill(id, skillID, c)
		}
	}
	// A reload does not join a cached read in flight: that one may answer
	// from memory.
	key := "get\x00" + id
	if reload {
		key = "reload\x00" + id
	}
	// The shared read must not fail for every waiter because the first
	// caller gave up; each caller still returns when its own ctx is done.
	loadCtx := context.WithoutCancel(ctx)
	ch := r.flight.DoChan(key, func() (any, error) {
		if !reload {
			// Filled in by a read that ended after this caller looked.
			if c, ok := r.cached(id, r.ttl); ok {
				return c, nil
			}
		}
		ctx, cancel := context.WithTimeout(loadCtx, loadTimeout)
		defer cancel()
		c, err := r.load(ctx, id)
		var se *SecretError
		if !reload && errors.As(err, &se) && se.Kind == nil && transient(se.Err) {
			// Secrets Manager failed, not the secret: ride it out on the
			// last good credentials for a bounded time.
			if stale, ok := r.cached(id, r.ttl+r.maxStale); ok {
				return stale, nil
			}
		}
		return c, err
	})
	select {
	case <-ctx.Done():
		return Credentials{}, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return Credentials{}, res.Err
		}
		return checkSkill(id, skillID, res.Val.(Credentials))
	}
}

// checkSkill refuses credentials stored for another skill than the one asked
// for (a secret copied under the wrong name).
func checkSkill(id, skillID string, c Credentials) (Credentials, error) {
	if skillID != "" && c.SkillID != skillID {
		return Credentials{}, &SecretError{SecretID: id, Kind: ErrMalformedSecret,
			Reason: fmt.Sprintf("it holds the credentials of skill %s, not %s", clip(c.SkillID, 80), skillID)}
	}
	return c, nil
}

// secretName returns the secret to read for skillID.
func (r *CredentialsCache) secretName(skillID string) (string, error) {
	if r.secretID != "" {
		if skillID != "" {
			if err := validateSkillID(skillID); err != nil {
				return "", err
			}
		}
		return r.secretID, nil
	}
	if err := validateSkillID(skillID); err != nil {
		return "", err
	}
	return r.prefix + skillID, nil
}

func validateSkillID(id string) error {
	if alexahttp.ValidSkillID(id) {
		return nil
	}
	return fmt.Errorf("%w %q: want amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>", ErrInvalidSkillID, clip(id, 80))
}

// Format implements fmt.Formatter: a CredentialsCache prints its
// configuration, never the credentials it holds, whatever the verb.
func (r *CredentialsCache) Format(f fmt.State, verb rune) {
	if r.secretID != "" {
		fmt.Fprintf(f, "skillmessaging.CredentialsCache{secret: %q, ttl: %s}", r.secretID, r.ttl)
		return
	}
	fmt.Fprintf(f, "skillmessaging.CredentialsCache{prefix: %q, ttl: %s}", r.prefix, r.ttl)
}

// cached returns the credentials of secret id if they were read less than
// age ago, on the wall clock.
func (r *CredentialsCache) cached(id string, age time.Duration) (Credentials, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[id]
	if !ok || !r.now().Round(0).Before(e.read.Add(age)) {
		return Credentials{}, false
	}
	return e.creds, true
}

// load reads the secret's AWSCURRENT version and caches it when usable.
func (r *CredentialsCache) load(ctx context.Context, id string) (Credentials, error) {
	out, err := r.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id),
		// Always by stage: a read without one may see AWSPENDING on some
		// implementations during a rotation.
		VersionStage: aws.String("AWSCURRENT"),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			r.forget(id) // deleted: nothing stale may be served for it
			return Credentials{}, &SecretError{SecretID: id, Kind: ErrSecretNotFound, Err: err}
		}
		return Credentials{}, &SecretError{SecretID: id, Err: err}
	}
	if out.SecretString == nil {
		return Credentials{}, &SecretError{SecretID: id, Kind: ErrMalformedSecret, Reason: "it has no string value (a binary secret?)"}
	}
	c, reason, kind := decodeSecret(*out.SecretString)
	if kind != nil {
		r.forget(id) // the secret changed: what is in memory is no longer it
		return Credentials{}, &SecretError{SecretID: id, Kind: kind, Reason: reason}
	}
	if r.secretID == "" {
		// The name says whose credentials these must be.
		if _, err := checkSkill(id, strings.TrimPrefix(id, r.prefix), c); err != nil {
			return Credentials{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = map[string]*cacheEntry{}
	}
	r.cache[id] = &cacheEntry{creds: c, read: r.now().Round(0)}
	return c, nil
}

// transient reports whether a Secrets Manager error may pass by itself: a
// server fault, throttling, or no answer at all (network, timeout). A
// refusal (access denied, a KMS key that cannot decrypt) is not.
func transient(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded":
			return true
		}
		return api.ErrorFault() == smithy.FaultServer
	}
	return true
}

// forget drops what is in memory for secret id.
func (r *CredentialsCache) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, id)
}

// decodeSecret checks a skill secret's value. The reason never quotes it.
func decodeSecret(value string) (c Credentials, reason string, kind error) {
	var v struct {
		SkillID      *string `json:"skillId"`
		ClientID     *string `json:"clientId"`
		ClientSecret *string `json:"clientSecret"`
	}
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return Credentials{}, fmt.Sprintf("not valid JSON (at byte %d of %d)", syn.Offset, len(value)), ErrMalformedSecret
		case errors.As(err, &typ) && typ.Field != "":
			return Credentials{}, fmt.Sprintf("field %q is not a string", clip(typ.Field, 40)), ErrMalformedSecret
		default:
			return Credentials{}, "not a JSON object", ErrMalformedSecret
		}
	}
	if v.SkillID == nil || strings.TrimSpace(*v.SkillID) == "" {
		return Credentials{}, "skillId is missing or empty", ErrMalformedSecret
	}
	if v.ClientID == nil || strings.TrimSpace(*v.ClientID) == "" || v.ClientSecret == nil || strings.TrimSpace(*v.ClientSecret) == "" {
		return Credentials{}, "clientId or clientSecret missing; the credential sync fills them in", ErrNotSynced
	}
	return Credentials{SkillID: *v.SkillID, ClientID: *v.ClientID, ClientSecret: Secret(*v.ClientSecret)}, "", nil
}

// clip keeps a string printable and short in an error.
func clip(s string, n int) string { return alexahttp.Clip(s, n) }
