package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// Options say how a Store built by NewFromConfig or NewPaced calls Secrets
// Manager.
type Options struct {
	// Quotas are the request rates to keep under; nil means
	// DefaultQuotas. Each group is paced at PaceShare of its rate.
	Quotas Quotas
	// Reserve is kept back from a call's deadline: no attempt starts and no
	// retry waits past the deadline less Reserve, so the caller has time to
	// report. Default 1 s.
	Reserve time.Duration
	// Backoff replaces the SDK's retry delays (tests); nil keeps them.
	Backoff retry.BackoffDelayer
}

// PaceShare is the share of each documented quota a Store uses: calls leave
// the process at most at 95% of the rate, so that network jitter, which can
// bunch requests up on the way, rarely makes them arrive faster than the
// quota allows.
const PaceShare = 0.95

// DefaultReserve is Options.Reserve's default.
const DefaultReserve = time.Second

// maxBackoff caps the delay before a retry. The SDK's default is 20 s; a
// run that paces itself is throttled only when others share the account's
// quota, and should try again well within a Lambda's minutes.
const maxBackoff = 5 * time.Second

// boundedAttempts is how many attempts a call without a deadline gets (the
// deploy-time tools, tests); a call with a deadline is retried until the
// deadline less the reserve, however many attempts that takes.
const boundedAttempts = 10

// ErrNoTimeLeft says a Secrets Manager call was not sent, or not retried,
// because it could not have started before its deadline less the reserve.
var ErrNoTimeLeft = errors.New("no time left before the invocation's deadline less its reserve")

// NewFromConfig returns the Store the function uses: a Secrets Manager
// client built from cfg by NewClient, paced by NewPaced.
func NewFromConfig(cfg aws.Config, opts Options) *Store {
	return NewPaced(NewClient(cfg, opts), opts)
}

// NewClient returns a Secrets Manager client whose retryer suits a process
// that paces its own calls (NewPaced):
//
//   - aws/retry's standard retryer: ThrottlingException, 5xx, timeouts and
//     connection errors are retried with exponential backoff and full jitter
//     (1 s base for throttling), capped at 5 s;
//   - no client-side retry quota (ratelimit.None): the default token bucket
//     (500 tokens, 5 per throttled retry) refuses retries with "retry quota
//     exceeded" after about a hundred throttled retries, which a long run
//     under a shared quota can reach while minutes remain;
//   - NewPaced lifts the attempt count for calls that have a deadline: those
//     are retried until the deadline less the reserve. Calls without one keep
//     10 attempts.
//
// The SDK's adaptive mode (retry.NewAdaptiveMode) is not used: it learns one
// client-wide rate from throttling, so a throttled write would slow the
// reads too, and it does not limit anything before the first throttle. The
// quotas are documented per group, so each group is paced at its own known
// rate instead.
func NewClient(cfg aws.Config, opts Options) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.RetryMaxAttempts = 0 // AWS_MAX_ATTEMPTS must not wrap the retryer below
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = boundedAttempts
			so.MaxBackoff = maxBackoff
			so.RateLimiter = ratelimit.None
			if opts.Backoff != nil {
				so.Backoff = opts.Backoff
			}
		})
	})
}

// NewPaced returns a Store over api whose calls keep under the quotas: before
// each call, and before each retry the SDK makes of it, it waits for a slot
// of the call's quota group. The limiters belong to the Store, so every run,
// rotation step and deploy-time sync of a process shares them. A call is not
// sent when its slot comes after its deadline less the reserve (an error
// wrapping ErrNoTimeLeft); with an SDK client (api passes options on to
// one), retries stop there too, with the last error and ErrNoTimeLeft.
func NewPaced(api API, opts Options) *Store {
	q := opts.Quotas
	if q == nil {
		q = DefaultQuotas()
	}
	p := &paced{api: api, quotas: q, reserve: opts.Reserve, limiters: map[Group]*rate.Limiter{}}
	if p.reserve <= 0 {
		p.reserve = DefaultReserve
	}
	for g, r := range q {
		p.limiters[g] = rate.NewLimiter(rate.Limit(r*PaceShare), 1)
	}
	return New(p)
}

// paced is the API that NewPaced's Store calls.
type paced struct {
	api      API
	quotas   Quotas
	reserve  time.Duration
	limiters map[Group]*rate.Limiter
}

// wait waits for a slot of op's quota group.
func (p *paced) wait(ctx context.Context, op string) error {
	g, _ := GroupOf(op)
	l := p.limiters[g]
	if l == nil {
		return nil
	}
	if err := l.Wait(ctx); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return err
		}
		return fmt.Errorf("no slot of the %s quota (%g requests a second, paced at %g) before the deadline less the %s reserve: %w",
			g, p.quotas[g], p.quotas[g]*PaceShare, p.reserve, ErrNoTimeLeft)
	}
	return nil
}

// call makes one paced call of op: within ctx's deadline less the reserve,
// after a slot of its quota group, with the SDK's retryer (if api is an SDK
// client) bounded by that deadline and pacing each retry.
func call[In, Out any](ctx context.Context, p *paced, op string, f func(context.Context, In, ...func(*secretsmanager.Options)) (Out, error), in In, optFns []func(*secretsmanager.Options)) (Out, error) {
	var zero Out
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-p.reserve))
		defer cancel()
	}
	if err := p.wait(ctx, op); err != nil {
		return zero, &smithy.OperationError{ServiceID: secretsmanager.ServiceID, OperationName: op, Err: fmt.Errorf("not sent: %w", err)}
	}
	cr := &callRetryer{p: p, op: op, deadline: deadline.Add(-p.reserve), hasDeadline: hasDeadline}
	bound := func(o *secretsmanager.Options) {
		if r, ok := o.Retryer.(aws.RetryerV2); ok {
			cr.RetryerV2 = r
			o.Retryer = cr
		}
	}
	out, err := f(ctx, in, append(optFns[:len(optFns):len(optFns)], bound)...)
	if err != nil && ctx.Err() != nil && cr.last != nil && !errors.Is(err, ErrNoTimeLeft) {
		// An attempt in flight when the deadline came: the SDK reports only
		// "canceled"; say what the attempts before it were answered.
		err = fmt.Errorf("%w; cut after %d attempts, the one before answered %v: %w", err, cr.attempts, cr.last, ErrNoTimeLeft)
	}
	return out, err
}

// callRetryer is the client's retryer for one call: unlimited attempts
// within the call's deadline, each retry paced like the first attempt, and
// no retry whose delay would end past the deadline. It wraps the SDK's
// retryer rather than replacing it: which errors are retried, the backoff
// and the retry loop stay the SDK's (aws/retry's Attempt middleware).
type callRetryer struct {
	aws.RetryerV2
	p           *paced
	op          string
	deadline    time.Time
	hasDeadline bool
	attempts    int
	last        error // the last attempt's error, from RetryDelay
}

func (r *callRetryer) MaxAttempts() int {
	if r.hasDeadline {
		return 1 << 30 // bounded by the deadline, see RetryDelay
	}
	return r.RetryerV2.MaxAttempts()
}

// GetAttemptToken waits for a slot of the call's quota group before each
// retry (call waited for the first attempt's). When none comes in time, the
// error is the last attempt's, with why it was not retried.
func (r *callRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if r.attempts++; r.attempts > 1 {
		if err := r.p.wait(ctx, r.op); err != nil {
			return nil, fmt.Errorf("%w; not retried after %d attempts: %w", r.last, r.attempts-1, err)
		}
	}
	return r.RetryerV2.GetAttemptToken(ctx)
}

// RetryDelay is the SDK's delay, or, when the retry would start past the
// deadline, the attempt's error with ErrNoTimeLeft (the SDK then returns it
// instead of sleeping until the context ends and reporting only
// "canceled").
func (r *callRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	r.last = err
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr != nil {
		return d, derr
	}
	if r.hasDeadline && time.Now().Add(d).After(r.deadline) {
		return 0, fmt.Errorf("%w; not retried after %d attempts: %w", err, attempt, ErrNoTimeLeft)
	}
	return d, nil
}

func (p *paced) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, o ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return call(ctx, p, "ListSecrets", p.api.ListSecrets, in, o)
}

func (p *paced) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return call(ctx, p, "GetSecretValue", p.api.GetSecretValue, in, o)
}

func (p *paced) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	return call(ctx, p, "BatchGetSecretValue", p.api.BatchGetSecretValue, in, o)
}

func (p *paced) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return call(ctx, p, "PutSecretValue", p.api.PutSecretValue, in, o)
}

func (p *paced) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return call(ctx, p, "DescribeSecret", p.api.DescribeSecret, in, o)
}

func (p *paced) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, o ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return call(ctx, p, "UpdateSecretVersionStage", p.api.UpdateSecretVersionStage, in, o)
}

func (p *paced) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return call(ctx, p, "CreateSecret", p.api.CreateSecret, in, o)
}

func (p *paced) RotateSecret(ctx context.Context, in *secretsmanager.RotateSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error) {
	return call(ctx, p, "RotateSecret", p.api.RotateSecret, in, o)
}
