package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// SecretRotator is the Secrets Manager call WithRotateOnRefusal makes.
// *secretsmanager.Client implements it.
type SecretRotator interface {
	RotateSecret(context.Context, *secretsmanager.RotateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error)
}

// DefaultRotateInterval is the least time between two rotations a
// CredentialsCache asks for one secret (see WithRotateOnRefusal).
const DefaultRotateInterval = 10 * time.Minute

// MaxRotateWait bounds how long one requested rotation is waited for, over
// the callers' own contexts, which each bound their own wait.
const MaxRotateWait = 2 * time.Minute

// ErrRotationNotConfigured means WithRotateOnRefusal asked Secrets Manager
// to rotate a skill secret that has no rotation function (the credential
// sync's stack configures one on every skill secret it manages), or that
// Secrets Manager refused to rotate (scheduled for deletion).
var ErrRotationNotConfigured = errors.New("skill secret rotation not configured")

// WithRotateOnRefusal heals refused credentials in seconds instead of at the
// next scheduled sync. When LWA refuses (invalid_client) the credentials
// read from a skill secret, even after reading it again, the cache asks
// Secrets Manager to rotate that secret (RotateSecret with no new value:
// Secrets Manager invokes the secret's rotation function, the credential
// sync, which fetches, tests and promotes the skill's current credentials),
// waits until the rotation has a result (bounded by the caller's context and
// MaxRotateWait, with backoff), and the token request is retried once with
// the new value.
//
// At most one rotation is requested per secret per interval (default
// DefaultRotateInterval, see WithRotateInterval) by this cache; concurrent
// callers share one request, and a rotation already in progress (started by
// another container or by the schedule) is waited for, not refused. Each
// request is logged (WithLogger) and described in the error if it fails.
//
// The caller's role needs secretsmanager:RotateSecret on the skill's secret
// and lambda:InvokeFunction on its rotation function: the stack grants both
// to its readers with the context key readerRefresh. api is usually the same
// *secretsmanager.Client as the cache's. Without this option the cache only
// reads secrets.
func WithRotateOnRefusal(api SecretRotator) CacheOption {
	return func(c *CredentialsCache) { c.rotator = api }
}

// WithRotateInterval sets the least time between two rotations of one secret
// requested by this cache (default DefaultRotateInterval; zero or less means
// the default). It has effect only with WithRotateOnRefusal.
func WithRotateInterval(d time.Duration) CacheOption {
	return func(c *CredentialsCache) {
		if d > 0 {
			c.rotateInterval = d
		}
	}
}

// WithLogger sets the logger of the cache's rotation requests
// (WithRotateOnRefusal): one line per request, at level Info when the
// rotation brought other credentials and Warn otherwise, with the skill,
// the secret, the outcome and no secret. Without it the package writes no
// logs.
func WithLogger(l *slog.Logger) CacheOption {
	return func(c *CredentialsCache) { c.logger = l }
}

// healer is implemented by a CredentialsProvider that can get fresh
// credentials after LWA refused the ones it gave (CredentialsCache with
// WithRotateOnRefusal).
type healer interface {
	healing() bool
	heal(ctx context.Context, skillID string, refused Credentials) (Credentials, error)
}

func (r *CredentialsCache) healing() bool { return r.rotator != nil }

// heal asks for a rotation of skillID's secret after LWA refused creds and
// returns the credentials it then holds: other ones, or refused again when
// the rotation found the same (the caller's grant then fails as before).
func (r *CredentialsCache) heal(ctx context.Context, skillID string, refused Credentials) (Credentials, error) {
	id, err := r.secretName(skillID)
	if err != nil {
		return Credentials{}, err
	}
	shared := context.WithoutCancel(ctx)
	ch := r.flight.DoChan("heal\x00"+id, func() (any, error) {
		ctx, cancel := context.WithTimeout(shared, MaxRotateWait)
		defer cancel()
		return r.rotate(ctx, id, skillID, refused)
	})
	select {
	case <-ctx.Done():
		return Credentials{}, fmt.Errorf("waiting for the rotation of skill secret %s: %w", id, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return Credentials{}, res.Err
		}
		return checkSkill(id, skillID, res.Val.(Credentials))
	}
}

// rotate requests one rotation of secret id (unless one was requested less
// than the interval ago) and waits for its result. It logs one line.
func (r *CredentialsCache) rotate(ctx context.Context, id, skillID string, refused Credentials) (Credentials, error) {
	// A rotation that ended after this caller read the refused
	// credentials already brought others.
	if c, ok := r.cached(id, r.ttl); ok && c.differs(refused) {
		return c, nil
	}
	now := r.now().Round(0)
	r.mu.Lock()
	last, ok := r.rotated[id]
	if ok && now.Sub(last) < r.rotateInterval {
		r.mu.Unlock()
		return Credentials{}, &RotationError{SkillID: skillID, SecretID: id, Outcome: "not requested",
			Reason: fmt.Sprintf("a rotation was already requested at %s; at most one per %s", last.UTC().Format(time.RFC3339), r.rotateInterval)}
	}
	if r.rotated == nil {
		r.rotated = map[string]time.Time{}
	}
	r.rotated[id] = now
	r.mu.Unlock()

	start := r.now()
	c, outcome, err := r.rotateAndWait(ctx, id, refused)
	level := slog.LevelInfo
	if err != nil || !c.differs(refused) {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("skill_id", skillID), slog.String("secret_id", id), slog.String("outcome", outcome),
		slog.Int64("duration_ms", r.now().Sub(start).Milliseconds())}
	if err != nil {
		err = &RotationError{SkillID: skillID, SecretID: id, Outcome: outcome, Err: err}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if r.logger != nil {
		r.logger.LogAttrs(ctx, level, "skill credentials refused: rotation requested", attrs...)
	}
	return c, err
}

// rotateAndWait reads AWSCURRENT (someone may have rotated already), calls
// RotateSecret and polls until the rotation has a result: AWSCURRENT moved to
// another version, or the rotation's pending version holds the refused
// credentials again (Amazon still has them: a new version would not help).
func (r *CredentialsCache) rotateAndWait(ctx context.Context, id string, refused Credentials) (Credentials, string, error) {
	cur, before, err := r.read(ctx, id, "", "AWSCURRENT")
	if err != nil {
		return Credentials{}, "read failed", err
	}
	if cur.differs(refused) {
		return cur, "already rotated", nil
	}
	outcome := "rotated"
	out, err := r.rotator.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(id)})
	token := ""
	var ire *types.InvalidRequestException
	switch {
	case err == nil:
		token = aws.ToString(out.VersionId)
	case errors.As(err, &ire) && rotationInProgress(ire.ErrorMessage()):
		outcome = "joined a rotation in progress"
	case errors.As(err, &ire):
		return Credentials{}, "refused", fmt.Errorf("%w: %w", ErrRotationNotConfigured, err)
	default:
		return Credentials{}, "request failed", err
	}
	backoff := retry.NewExponentialJitterBackoff(5 * time.Second)
	// Bounded on the cache's clock too, which the tests drive.
	deadline := r.now().Add(MaxRotateWait)
	for attempt := 1; ; attempt++ {
		d, _ := backoff.BackoffDelay(attempt, nil)
		if err := r.sleep(ctx, max(d, 100*time.Millisecond)); err != nil {
			return Credentials{}, outcome + ", timed out", fmt.Errorf("the rotation did not finish in time: %w", err)
		}
		if !r.now().Before(deadline) {
			return Credentials{}, outcome + ", timed out", fmt.Errorf("the rotation did not finish within %s", MaxRotateWait)
		}
		c, version, err := r.read(ctx, id, "", "AWSCURRENT")
		if err == nil && version != before {
			r.store(id, c)
			if !c.differs(refused) {
				outcome += ", same credentials"
			}
			return c, outcome, nil
		}
		if err != nil && !transient(err) {
			return Credentials{}, outcome + ", read failed", err
		}
		// The new version's value, once createSecret stored it: the same
		// credentials mean Amazon still has them.
		pending, _, err := r.read(ctx, id, token, "AWSPENDING")
		if err == nil && !pending.differs(refused) {
			return refused, outcome + ", same credentials", nil
		}
	}
}

// rotationInProgress tells RotateSecret's refusal of a secret whose previous
// rotation has not finished. Secrets Manager answers InvalidRequestException
// "A previous rotation isn't complete. That rotation will be reattempted."
// (quoted in https://github.com/hashicorp/terraform-provider-aws/issues/35023;
// the condition is in
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html:
// "If the AWSPENDING staging label is present but not attached to the same
// version as AWSCURRENT, then any later invocation of RotateSecret assumes
// that a previous rotation request is still in progress and returns an
// error"); moto says "Previous rotation request is still in progress.".
func rotationInProgress(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "previous rotation")
}

// read reads one version of secret id (by version id and stage) without
// caching it, and returns its version id.
func (r *CredentialsCache) read(ctx context.Context, id, versionID, stage string) (Credentials, string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := r.api.GetSecretValue(ctx, in)
	if err != nil {
		return Credentials{}, "", err
	}
	if out.SecretString == nil {
		return Credentials{}, "", errors.New("the version has no string value")
	}
	c, reason, kind := decodeSecret(*out.SecretString)
	if kind != nil {
		return Credentials{}, "", &SecretError{SecretID: id, Kind: kind, Reason: reason}
	}
	return c, aws.ToString(out.VersionId), nil
}

// store caches c, just read from secret id.
func (r *CredentialsCache) store(id string, c Credentials) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = map[string]*cacheEntry{}
	}
	r.cache[id] = &cacheEntry{creds: c, read: r.now().Round(0)}
}

func (c Credentials) differs(o Credentials) bool {
	return c.ClientID != o.ClientID || c.ClientSecret != o.ClientSecret
}

// RotationError is a rotation WithRotateOnRefusal requested that brought no
// usable credentials. It names the skill and the secret, never a value.
type RotationError struct {
	SkillID  string
	SecretID string
	// Outcome is what happened: "not requested" (one was requested less
	// than the interval ago), "refused", "request failed", "read failed",
	// or what the wait ended with.
	Outcome string
	// Reason says why, when Err does not.
	Reason string
	// Err is Secrets Manager's or the context's error, if any.
	Err error
}

func (e *RotationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rotation of skill secret %s for skill %s (%s)", e.SecretID, e.SkillID, e.Outcome)
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	b.WriteString("; " + e.hint())
	return b.String()
}

func (e *RotationError) hint() string {
	var api smithy.APIError
	switch {
	case errors.Is(e.Err, ErrRotationNotConfigured):
		return "check that the secret's rotation function is the credential sync (the stack configures it on every skill secret)"
	case errors.As(e.Err, &api) && api.ErrorCode() == "AccessDeniedException":
		return "the role may not rotate the secret: deploy the stack with the context key readerRefresh true"
	}
	return "check the sync's alarms and the rotation function's logs, and the skill's messaging permission in the developer console"
}

// Unwrap returns Err.
func (e *RotationError) Unwrap() error { return e.Err }
