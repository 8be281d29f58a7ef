package skillmessaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/sync/singleflight"
)

// SecretsManagerAPI is the one Secrets Manager call the Reader makes.
// *secretsmanager.Client implements it; tests may wrap it.
type SecretsManagerAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// DefaultTTL is how long a Reader serves credentials from memory by default.
const DefaultTTL = 5 * time.Minute

// loadTimeout bounds one shared read, which outlives a caller that gives up.
const loadTimeout = 30 * time.Second

// Reader reads skills' messaging credentials from their secrets, always the
// AWSCURRENT version, and keeps them in memory for TTL. Concurrent calls for
// the same skill share one Secrets Manager call. Errors are not cached. It is
// safe for concurrent use; set TTL and Now before the first call.
type Reader struct {
	// TTL is how long credentials are served from memory; zero means
	// DefaultTTL.
	TTL time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time

	api      SecretsManagerAPI
	prefix   string // secrets named prefix+skillID, or
	secretID string // one secret by name or ARN

	flight singleflight.Group
	mu     sync.Mutex
	cache  map[string]*cacheEntry // by secret id
}

type cacheEntry struct {
	creds   Credentials
	expires time.Time
}

// NewReader returns a Reader for the skill secrets named
// <prefix><skillId>, such as "alexa/skill-messaging/", the
// SKILL_SECRET_PREFIX of the credential sync.
func NewReader(api SecretsManagerAPI, prefix string) *Reader {
	return &Reader{api: api, prefix: prefix}
}

// NewSecretReader returns a Reader for the one skill secret named (or with
// the ARN) secretID, for a function that is given its secret's name rather
// than the prefix.
func NewSecretReader(api SecretsManagerAPI, secretID string) *Reader {
	return &Reader{api: api, secretID: secretID}
}

// Credentials returns the messaging credentials of skillID from memory, or
// reads them when they are not there or older than TTL. For a Reader from
// NewSecretReader, skillID may be empty (any skill) or must match the
// secret's skillId. Errors are a *SecretError (matching ErrNotSynced,
// ErrSecretNotFound or ErrMalformedSecret), an error matching
// ErrInvalidSkillID, or ctx's error.
func (r *Reader) Credentials(ctx context.Context, skillID string) (Credentials, error) {
	return r.get(ctx, skillID, false)
}

// Reload reads the credentials of skillID now, bypassing and then replacing
// what is in memory. Use it when the cached credentials were refused.
func (r *Reader) Reload(ctx context.Context, skillID string) (Credentials, error) {
	return r.get(ctx, skillID, true)
}

func (r *Reader) get(ctx context.Context, skillID string, reload bool) (Credentials, error) {
	id, err := r.secretName(skillID)
	if err != nil {
		return Credentials{}, err
	}
	if !reload {
		if c, ok := r.cached(id); ok {
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
			if c, ok := r.cached(id); ok {
				return c, nil
			}
		}
		ctx, cancel := context.WithTimeout(loadCtx, loadTimeout)
		defer cancel()
		return r.load(ctx, id)
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
func (r *Reader) secretName(skillID string) (string, error) {
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
	if smapi.ValidateSkillID(id) == nil {
		return nil
	}
	return fmt.Errorf("%w %q: want amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>", ErrInvalidSkillID, clip(id, 80))
}

// Format implements fmt.Formatter: a Reader prints its configuration, never
// the credentials it holds, whatever the verb.
func (r *Reader) Format(f fmt.State, verb rune) {
	if r.secretID != "" {
		fmt.Fprintf(f, "skillmessaging.Reader{secret: %q, ttl: %s}", r.secretID, r.ttl())
		return
	}
	fmt.Fprintf(f, "skillmessaging.Reader{prefix: %q, ttl: %s}", r.prefix, r.ttl())
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reader) ttl() time.Duration {
	if r.TTL > 0 {
		return r.TTL
	}
	return DefaultTTL
}

func (r *Reader) cached(id string) (Credentials, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[id]
	if !ok || !r.now().Before(e.expires) {
		return Credentials{}, false
	}
	return e.creds, true
}

// load reads the secret's AWSCURRENT version and caches it when usable.
func (r *Reader) load(ctx context.Context, id string) (Credentials, error) {
	out, err := r.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id),
		// Always by stage: a read without one may see AWSPENDING on some
		// implementations during a rotation.
		VersionStage: aws.String("AWSCURRENT"),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Credentials{}, &SecretError{SecretID: id, Kind: ErrSecretNotFound, Err: err}
		}
		return Credentials{}, &SecretError{SecretID: id, Err: err}
	}
	if out.SecretString == nil {
		return Credentials{}, &SecretError{SecretID: id, Kind: ErrMalformedSecret, Reason: "it has no string value (a binary secret?)"}
	}
	c, reason, kind := decodeSecret(*out.SecretString)
	if kind != nil {
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
	r.cache[id] = &cacheEntry{creds: c, expires: r.now().Add(r.ttl())}
	return c, nil
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

// clip keeps a caller-provided string printable and short in an error.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		cut := n
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
