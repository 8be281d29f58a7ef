// Package clocktest makes the clock readings a process sees after Lambda
// froze its container, for tests of expiry logic.
//
// Go's time.Time carries two readings: the wall clock and, from time.Now,
// the monotonic clock, which Before, After, Sub and Until prefer when both
// sides have one. The monotonic clock may not count the time a process was
// frozen or suspended, while the wall clock does: an expiry compared by the
// monotonic clock then looks fresh long after it passed. Code that must see
// the real time compares with Round(0), which drops the monotonic reading
// (as golang.org/x/oauth2's Token.Valid does). A test cannot freeze its own
// process, and no time API moves one reading without the other; Thawed does.
package smapi

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// Thawed returns what time.Now reads right after a process that read t was
// frozen for d: the wall clock has moved on by d, the monotonic clock has
// not. t must come from time.Now (outside a testing/synctest bubble, which
// gives no monotonic reading) and d must be whole seconds.
//
// It edits the reading in place through time.Time's internal layout, then
// checks the result through the public API, so a change of that layout in a
// future Go makes it fail loudly instead of lying.
func Thawed(t time.Time, d time.Duration) (time.Time, error) {
	if t == t.Round(0) {
		return time.Time{}, errors.New("clocktest: t has no monotonic reading (use time.Now outside a synctest bubble)")
	}
	if d < 0 || d%time.Second != 0 {
		return time.Time{}, fmt.Errorf("clocktest: d = %s, want whole seconds, not negative", d)
	}
	// time.Time is {wall uint64; ext int64; loc *Location}; with a
	// monotonic reading, wall holds the seconds since 1885 above bit 30 and
	// ext the monotonic nanoseconds.
	type layout struct {
		wall uint64
		ext  int64
		loc  *time.Location
	}
	const nsecShift = 30
	thawed := t
	(*layout)(unsafe.Pointer(&thawed)).wall += uint64(d/time.Second) << nsecShift
	if got := thawed.Round(0).Sub(t.Round(0)); got != d {
		return time.Time{}, fmt.Errorf("clocktest: wall clock moved %s, want %s: time.Time's layout changed", got, d)
	}
	if got := thawed.Sub(t); got != 0 {
		return time.Time{}, fmt.Errorf("clocktest: monotonic clock moved %s, want 0: time.Time's layout changed", got)
	}
	return thawed, nil
}
