package alexahttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retrier runs a call again after a throttle (429), a server error (5xx but
// 501), a timeout or a connection error, with capped exponential backoff and
// full jitter. A Retry-After of up to MaxRetryAfter is waited as asked; a
// longer one ends the retries (retrying sooner would ignore it). It never
// sleeps past the context's deadline. Other answers are not retried. The
// zero Retrier is not usable; start from DefaultRetrier. A Retrier is safe
// for concurrent use when its Sleep and Jitter are.
type Retrier struct {
	// MaxAttempts bounds the number of calls, first one included.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt; it doubles for
	// every further attempt up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps a backoff.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After waited.
	MaxRetryAfter time.Duration
	// Sleep waits d or until ctx is done. nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter picks the actual backoff in [0, d]. nil means uniform random.
	Jitter func(d time.Duration) time.Duration
}

// DefaultRetrier returns 5 attempts, 200 ms doubling to at most 10 s, and
// Retry-After honoured up to a minute.
func DefaultRetrier() Retrier {
	return Retrier{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second, MaxRetryAfter: time.Minute}
}

// ErrNoTimeToRetry is wrapped around the last error when the next attempt
// would not start before the context's deadline.
var ErrNoTimeToRetry = errors.New("no time left before the deadline to retry")

// ErrRetryAfterTooLong is wrapped around the last error when its Retry-After
// is longer than MaxRetryAfter.
var ErrRetryAfterTooLong = errors.New("Retry-After longer than the longest wait")

// Do calls fn until it succeeds, fails with an error that is not retryable,
// runs out of attempts, or runs out of time. It returns how many attempts it
// made and fn's last error.
func (r Retrier) Do(ctx context.Context, fn func(ctx context.Context) error) (attempts int, err error) {
	max := max(r.MaxAttempts, 1)
	for attempts = 1; ; attempts++ {
		err = fn(ctx)
		if err == nil {
			return attempts, nil
		}
		retry, wait, reason := r.classify(ctx, err, attempts)
		if !retry || attempts >= max {
			return attempts, err
		}
		if reason != nil {
			return attempts, fmt.Errorf("%w (%s): %w", reason, wait, err)
		}
		// < for <= is equivalent on a real clock: the time left is never the
		// wait to the nanosecond (only testing/synctest, Go 1.25, could show
		// it, and this module's tests run on Go 1.24).
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return attempts, fmt.Errorf("%w (next attempt in %s): %w", ErrNoTimeToRetry, wait.Round(time.Millisecond), err)
		}
		if serr := r.sleep(ctx, wait); serr != nil {
			return attempts, fmt.Errorf("%w: %w", serr, err)
		}
	}
}

// classify says whether err is worth another attempt, how long to wait,
// and, when the wait is refused, why.
func (r Retrier) classify(ctx context.Context, err error, attempt int) (bool, time.Duration, error) {
	if ctx.Err() != nil {
		return false, 0, nil
	}
	var api *APIError
	if errors.As(err, &api) {
		if !Retryable(api.StatusCode) {
			return false, 0, nil
		}
		if api.RetryAfter > r.MaxRetryAfter {
			return true, api.RetryAfter, ErrRetryAfterTooLong
		}
		if api.RetryAfter > 0 {
			return true, api.RetryAfter, nil
		}
		return true, r.backoff(attempt), nil
	}
	var netErr net.Error
	if errors.As(err, &netErr) || isConnectionError(err) {
		return true, r.backoff(attempt), nil
	}
	return false, 0, nil
}

// Retryable reports whether an answer with this status is worth another
// attempt: 429 and 5xx but 501.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status != http.StatusNotImplemented
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
	return SleepTimer(ctx, d)
}

// SleepTimer waits d on a timer, or until ctx is done and returns its
// error. The package's one timer wait, used by the Retrier and the
// credentials cache's healing.
func SleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxRetryAfter bounds a Retry-After that ParseRetryAfter accepts.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads a Retry-After header as delay-seconds or an HTTP
// date relative to now. It returns zero for an absent, malformed, negative or
// past value, and for one more than a day away.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		// secs < 0 is equivalent: 0 seconds is a zero Duration either way.
		if secs <= 0 || secs > int64(maxRetryAfter/time.Second) {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		// d >= 0 is equivalent: a date of now gives a zero Duration either way.
		if d := at.Sub(now); d > 0 && d <= maxRetryAfter {
			return d
		}
	}
	return 0
}
