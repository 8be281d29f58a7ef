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
	// for its slot, every answer adjusts the shared rate, and a 429 pauses
	// all calls until its Retry-After. With a Pacer and a context deadline,
	// a 429 does not count against MaxAttempts: a call is throttled until
	// it is answered or runs out of time. The sync's is *smapi.Pacer.
	Pacer pacer
}

// pacer spaces out the requests of a whole run (see Retrier.Pacer; *Pacer): Wait
// before each attempt, then Throttled for a 429 sent at sent, or Answered
// for any other answer of the service.
type pacer interface {
	Wait(ctx context.Context) error
	Throttled(sent time.Time, retryAfter time.Duration)
	Answered()
}

// DefaultRetrier returns the policy the Lambda uses: 5 attempts, 200 ms
// doubling to at most 10 s.
func DefaultRetrier() Retrier {
	return Retrier{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}
}

// Do calls fn until it succeeds, fails with an error that is not retryable,
// runs out of attempts, or runs out of time. It returns how many attempts it
// made and fn's last error.
func (r Retrier) Do(ctx context.Context, fn func(ctx context.Context) error) (attempts int, err error) {
	max := max(r.MaxAttempts, 1)
	_, hasDeadline := ctx.Deadline()
	counted := 0
	for attempts = 1; ; attempts++ {
		sent := time.Now()
		if r.Pacer != nil {
			if perr := r.Pacer.Wait(ctx); perr != nil {
				if err == nil {
					return attempts - 1, perr
				}
				return attempts - 1, fmt.Errorf("%w: %w", perr, err)
			}
			sent = time.Now()
		}
		err = fn(ctx)
		throttled := r.observe(sent, err)
		if err == nil {
			return attempts, nil
		}
		if !throttled || !hasDeadline {
			counted++
		}
		retry, wait := r.classify(ctx, err, attempts)
		if !retry || counted >= max {
			return attempts, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return attempts, fmt.Errorf("%w (next attempt in %s): %w", ErrNoTimeToRetry, wait.Round(time.Millisecond), err)
		}
		if serr := r.sleep(ctx, wait); serr != nil {
			return attempts, fmt.Errorf("%w: %w", serr, err)
		}
	}
}

// observe tells the Pacer, if any, how the service answered, and reports
// whether the answer was a throttle and the Pacer took it.
func (r Retrier) observe(sent time.Time, err error) bool {
	if r.Pacer == nil {
		return false
	}
	var api *APIError
	switch {
	case errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests:
		r.Pacer.Throttled(sent, min(api.RetryAfter, r.MaxDelay))
		return true
	case err == nil || errors.As(err, &api):
		r.Pacer.Answered()
	default:
		var resp *ResponseError
		if errors.As(err, &resp) {
			r.Pacer.Answered()
		}
	}
	return false
}

// classify says whether err is worth another attempt and how long to wait.
func (r Retrier) classify(ctx context.Context, err error, attempt int) (bool, time.Duration) {
	if ctx.Err() != nil {
		return false, 0
	}
	backoff := r.backoff(attempt)
	var api *APIError
	if errors.As(err, &api) {
		switch {
		case api.StatusCode == http.StatusTooManyRequests:
		case api.StatusCode >= 500 && api.StatusCode != http.StatusNotImplemented:
		default:
			return false, 0
		}
		if api.RetryAfter > 0 {
			return true, min(api.RetryAfter, r.MaxDelay)
		}
		return true, backoff
	}
	var resp *ResponseError
	if errors.As(err, &resp) {
		return false, 0
	}
	var netErr net.Error
	if errors.As(err, &netErr) || isConnectionError(err) {
		return true, backoff
	}
	return false, 0
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
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

func (r Retrier) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return SleepTimer(ctx, d)
}
