package smapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Retrier runs a call again after a throttle (429), a server error (5xx but
// 501), a timeout or a connection error, with capped exponential backoff and
// full jitter, honouring Retry-After, and never sleeping past the context's
// deadline. 401, 404 and other 4xx answers, and unusable 2xx bodies, are not
// retried. The zero Retrier is not usable; start from DefaultRetrier. A
// Retrier is safe for concurrent use when its Sleep and Jitter are.
//
// It began as internal/alexahttp's Retrier, which package skillmessaging
// keeps; this one is the sync's, with the run's Pacer keyed by skill.
type Retrier struct {
	// MaxAttempts bounds the number of calls, first one included.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt; it doubles for
	// every further attempt up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps a backoff and a Retry-After delay.
	MaxDelay time.Duration
	// Sleep waits d or until ctx is done. Tests replace it; nil means a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter picks the actual backoff in [0, d]. nil means uniform random.
	Jitter func(d time.Duration) time.Duration
	// Pacer, when set, is shared by every call of a run: each attempt waits
	// for its turn (its key's hold, a request slot, and after broad
	// throttling the shared rate), and every answer is reported to it. A
	// 429 holds the call's key (its skill) for its Retry-After, or for the
	// backoff when it gives none. With a Pacer and a context deadline, a 429
	// does not count against MaxAttempts: a call is throttled until it is
	// answered or runs out of time.
	Pacer *Pacer
}

// DefaultRetrier returns the policy the Lambda uses: 5 attempts, 200 ms
// doubling to at most 10 s.
func DefaultRetrier() Retrier {
	return Retrier{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}
}

// Do is DoKey with the empty key: calls that are not about one skill (the
// LWA refresh, vendor lists).
func (r Retrier) Do(ctx context.Context, fn func(ctx context.Context) error) (attempts int, err error) {
	return r.DoKey(ctx, "", fn)
}

// DoKey calls fn until it succeeds, fails with an error that is not
// retryable, runs out of attempts, or runs out of time. key names what the
// call is about (a skill id) for the Pacer: a 429 holds that key only. It
// returns how many attempts it made and fn's last error.
func (r Retrier) DoKey(ctx context.Context, key string, fn func(ctx context.Context) error) (attempts int, err error) {
	max := max(r.MaxAttempts, 1)
	_, hasDeadline := ctx.Deadline()
	counted := 0
	for attempts = 1; ; attempts++ {
		var turn *Turn
		if r.Pacer != nil {
			var perr error
			if turn, perr = r.Pacer.Wait(ctx, key); perr != nil {
				if err == nil {
					return attempts - 1, perr
				}
				return attempts - 1, fmt.Errorf("%w: %w", perr, err)
			}
		}
		err = fn(ctx)
		retry, wait, throttled := r.classify(ctx, err, attempts)
		if turn != nil {
			r.report(turn, err, throttled, wait)
			if throttled {
				wait = 0 // the Pacer holds the key; its Wait sleeps
			}
		}
		if err == nil {
			return attempts, nil
		}
		if !throttled || turn == nil || !hasDeadline {
			counted++
		}
		if !retry || counted >= max {
			return attempts, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return attempts, fmt.Errorf("%w (next attempt in %s): %w", ErrNoTimeToRetry, wait.Round(time.Millisecond), err)
		}
		if wait > 0 {
			if serr := r.sleep(ctx, wait); serr != nil {
				return attempts, fmt.Errorf("%w: %w", serr, err)
			}
		}
	}
}

// report tells the Pacer how the service answered: a 429 (holding the key
// for hold), another answer, or none (a transport error).
func (r Retrier) report(turn *Turn, err error, throttled bool, hold time.Duration) {
	var api *APIError
	var resp *ResponseError
	switch {
	case throttled:
		turn.Throttled(hold)
	case err == nil || errors.As(err, &api) || errors.As(err, &resp):
		turn.Answered()
	default:
		turn.NoAnswer()
	}
}

// classify says whether err is worth another attempt, how long to wait,
// and whether it was a 429.
func (r Retrier) classify(ctx context.Context, err error, attempt int) (retry bool, wait time.Duration, throttled bool) {
	var api *APIError
	throttled = errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests
	if err == nil || ctx.Err() != nil {
		return false, 0, throttled
	}
	backoff := r.backoff(attempt)
	if api != nil {
		switch {
		case throttled:
		case api.StatusCode >= 500 && api.StatusCode != http.StatusNotImplemented:
		default:
			return false, 0, false
		}
		if api.RetryAfter > 0 {
			return true, min(api.RetryAfter, r.MaxDelay), throttled
		}
		return true, backoff, throttled
	}
	var resp *ResponseError
	if errors.As(err, &resp) {
		return false, 0, false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || isConnectionError(err) {
		return true, backoff, false
	}
	return false, 0, false
}

// isConnectionError catches what a dropped connection looks like when it is
// not a net.Error: a response cut short or a reset.
func isConnectionError(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func (r Retrier) backoff(attempt int) time.Duration {
	d := r.BaseDelay
	for i := 1; i < attempt && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	if r.Jitter != nil {
		return r.Jitter(d)
	}
	if d <= 0 { // d < 0 is equivalent: rand.N(0+1) is 0 as well
		return 0
	}
	return rand.N(d + 1)
}

func (r Retrier) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return sleepTimer(ctx, d)
}

// sleepTimer waits d on a timer, or until ctx is done and returns its error.
func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
