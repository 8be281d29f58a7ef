package smapi

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Pacer spaces out the requests of a whole run, shared by all its workers,
// so that a service's rate limit is met with few throttled answers. It is
// additive increase, multiplicative decrease (AIMD) on a shared schedule of
// request slots, in the spirit of the AWS SDKs' adaptive retry mode:
//
//   - Every request takes the next slot, 1/rate after the previous one.
//   - A run starts at InitialRate. Before the first throttle the rate grows
//     fast (slow start: +SlowStartIncrease requests per second for every
//     answer); afterwards slowly (+AdditiveIncrease of a request per second
//     for every answer, about 5% a second).
//   - A 429 cuts the rate to Backoff times the rate the service granted
//     since the previous cut (answers that were not 429, per second; after
//     the first cut, never below half the rate), once per congestion, not
//     once per throttled request in flight; and it pauses every worker
//     until its Retry-After has passed. A quarter of the slots the pause
//     took (PauseCredit) may go at once when it ends (a token bucket
//     refills while its clients wait); later ones follow at the new rate.
//
// The zero Pacer is not usable; use NewPacer. A Pacer is safe for
// concurrent use.
type Pacer struct {
	// Sleep waits d or until ctx is done. Tests replace it; nil means a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error

	mu          sync.Mutex
	rate        float64   // requests per second
	slowStart   bool      // no throttle seen yet
	next        time.Time // the earliest slot of the next request
	pausedUntil time.Time // Retry-After of the latest throttle, for all
	pauses      int       // counts pauses, so sleepers notice a new one
	credit      int       // slots that may go at once when the pause ends
	cutAt       time.Time // start of the current measurement (run start or last cut)
	answered    int       // answers that were not 429 since cutAt
	stats       PacerStats
}

// PacerStats is what a Pacer saw.
type PacerStats struct {
	// Requests is how many requests took a slot.
	Requests int
	// Throttled is how many answers were 429.
	Throttled int
	// Cuts is how many times the rate was cut.
	Cuts int
	// Rate is the current rate, in requests per second.
	Rate float64
}

// Pacing constants; see Pacer.
const (
	// InitialRate is the rate a run starts at, in requests per second.
	InitialRate = 25.0
	// SlowStartIncrease is what each answer adds to the rate before the
	// first throttle, in requests per second: the rate grows by e in
	// 1/SlowStartIncrease seconds.
	SlowStartIncrease = 3.0
	// MinRate is the lowest rate a cut goes to.
	MinRate = 0.5
	// MaxRate bounds the rate's growth.
	MaxRate = 10000.0
	// Backoff is the factor of a cut.
	Backoff = 0.85
	// AdditiveIncrease is what each answer adds to the rate after the first
	// throttle, as a share of a request per second.
	AdditiveIncrease = 0.05
	// PauseCredit is the share of a pause's slots that may go at once
	// when it ends.
	PauseCredit = 0.25
)

// NewPacer returns a Pacer at InitialRate, in slow start.
func NewPacer() *Pacer {
	now := time.Now()
	return &Pacer{rate: InitialRate, slowStart: true, next: now, cutAt: now}
}

// Stats returns what the Pacer saw so far.
func (p *Pacer) Stats() PacerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Rate = p.rate
	return s
}

// Wait blocks until the caller's request slot. It returns an error wrapping
// ErrNoTimeToRetry, without taking a slot, when the slot is not before ctx's
// deadline, and ctx's error when ctx is done first.
func (p *Pacer) Wait(ctx context.Context) error {
	for {
		d, pauses, err := p.reserve(ctx)
		if err != nil {
			return err
		}
		if d > 0 {
			if err := p.sleep(ctx, d); err != nil {
				return err
			}
		}
		p.mu.Lock()
		again := p.pauses != pauses && time.Now().Before(p.pausedUntil)
		p.mu.Unlock()
		if !again {
			return nil
		}
		// A throttle paused everyone while this caller slept: its slot
		// was before the pause ended. Take a new one.
	}
}

func (p *Pacer) reserve(ctx context.Context) (time.Duration, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	slot, credit := p.next, false
	if !slot.After(p.pausedUntil) {
		// The service's bucket refilled while everyone waited: the
		// pause's slots may go at once when it ends.
		slot, credit = p.pausedUntil, p.credit > 0
	}
	// An idle schedule does not save slots up: no burst after a lull.
	if slot.Before(now) {
		slot = now
	}
	if deadline, ok := ctx.Deadline(); ok && !slot.Before(deadline) {
		return 0, 0, fmt.Errorf("%w (next request slot in %s)", ErrNoTimeToRetry, slot.Sub(now).Round(time.Millisecond))
	}
	if credit {
		p.credit--
	} else {
		p.next = slot.Add(time.Duration(float64(time.Second) / p.rate))
	}
	p.stats.Requests++
	return slot.Sub(now), p.pauses, nil
}

// Answered records an answer that was not a throttle: the rate grows.
func (p *Pacer) Answered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answered++
	if p.slowStart {
		p.rate += SlowStartIncrease
	} else {
		p.rate += AdditiveIncrease
	}
	p.rate = min(p.rate, MaxRate)
}

// Throttled records a 429 answer to a request sent at sent that asked to
// wait retryAfter (zero when it did not say): every worker pauses until then,
// and the rate is cut unless it was cut after the request was sent.
func (p *Pacer) Throttled(sent time.Time, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.stats.Throttled++
	if sent.After(p.cutAt) { // else sent before the last cut: that congestion is handled
		granted := p.rate
		if el := now.Sub(p.cutAt).Seconds(); el > 0 {
			granted = min(granted, float64(p.answered)/el)
		}
		cut := Backoff * granted
		if !p.slowStart {
			// A window that is mostly a pause measures little: after
			// the first cut, never cut by more than half at once.
			cut = max(cut, p.rate/2)
		}
		p.rate = max(MinRate, cut)
		p.slowStart = false
		p.cutAt, p.answered = now, 0
		p.stats.Cuts++
	}
	if until := now.Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
		p.pauses++
		p.credit = int(PauseCredit * retryAfter.Seconds() * p.rate)
	}
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return sleepTimer(ctx, d)
}

// sleepTimer is the timer wait the retrier uses too.
var sleepTimer = SleepTimer
