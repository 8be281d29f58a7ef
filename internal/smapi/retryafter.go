package smapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrNoTimeToRetry is wrapped around the last error when the next attempt
// would not finish before the context's deadline.
var ErrNoTimeToRetry = errors.New("no time left before the deadline to retry")

// ParseRetryAfter reads a Retry-After header as delay-seconds or an HTTP
// date relative to now. It returns zero for an absent, malformed, negative or
// past value, and for one more than a day away.
const maxRetryAfter = 24 * time.Hour

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
