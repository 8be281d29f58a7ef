package smapi

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Pacer spaces out the SMAPI requests of a whole run, shared by all its
// workers. It tells a skill's 429 from the API's: Amazon documents the Skill
// Credentials API's limit per skill ("Limit is 25 tps per skill",
// https://developer.amazon.com/en-US/docs/alexa/smapi/skill-credentials-api.html),
// and a run fetches each skill once, so one skill's 429 says nothing about
// the API as a whole.
//
//   - Every request is made for a key, the skill it is about ("" for calls
//     that are not about one skill). A 429 holds that key until its
//     Retry-After has passed; other keys go on.
//   - Until broad throttling is seen, nothing limits the requests but the
//     caller's concurrency: no client-side rate, as the AWS SDKs' adaptive
//     retry mode does not limit before the first throttle. A worker whose
//     key is held lends its place out meanwhile (see WhileHeld).
//   - Throttling is broad when at least BroadThrottles of the last
//     BroadWindow answers (8 of 32, a quarter) were 429s for at least
//     BroadKeys (4) different keys. Sporadic per-skill 429s (one skill in
//     forty, say) stay far below that.
//   - From then on, for the rest of the run, the requests share one rate,
//     additive increase and multiplicative decrease (AIMD) on a schedule of
//     request slots, in the spirit of the adaptive retry mode: every request
//     takes the next slot, 1/rate after the previous one; every answer adds
//     AdditiveIncrease requests a second; a 429 cuts the rate to Backoff
//     times the rate the service granted since the previous cut (answers
//     that were not 429, per second, measured over at least one second;
//     after the first cut, never below half the rate), once per congestion
//     (not once per throttled request in flight), and holds every request
//     until its Retry-After has passed. PauseCredit of the slots the pause
//     took may go at once when it ends (a token bucket refills while its
//     clients wait); later ones follow at the new rate.
//
// The zero Pacer is not usable; use NewPacer. A Pacer is safe for
// concurrent use.
type Pacer struct {
	// Sleep waits d or until ctx is done. Tests replace it; nil means a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error

	mu          sync.Mutex
	holds       map[string]time.Time // key -> end of its latest 429's Retry-After
	recent      [BroadWindow]answer  // the last answers, a ring
	nRecent     int                  // answers recorded, ever
	throttled   map[string]bool      // keys answered 429 at least once
	limited     bool                 // broad throttling seen: the rate applies
	rate        float64              // requests per second, once limited
	next        time.Time            // the earliest slot of the next request
	pausedUntil time.Time            // Retry-After of the latest throttle, for all
	pauses      int                  // counts pauses, so sleepers notice a new one
	credit      int                  // slots that may go at once when the pause ends
	cutAt       time.Time            // the latest cut
	measuring   bool                 // a cut's rate is to be measured when its pause ends
	measureFrom time.Time            // start of the current measurement (run start or a pause's end)
	answered    int                  // answers that were not 429 since measureFrom
	pauseLen    time.Duration        // length of the latest pause
	stats       PacerStats
}

// answer is one answer the Pacer recorded, for the broad-throttling test.
type answer struct {
	key       string
	throttled bool
}

// PacerStats is what a Pacer saw.
type PacerStats struct {
	// Requests is how many requests took a turn.
	Requests int
	// Throttled is how many answers were 429.
	Throttled int
	// ThrottledKeys is how many different keys (skills) were answered 429.
	ThrottledKeys int
	// Broad says whether broad throttling was seen (and the rate applies).
	Broad bool
	// Cuts is how many times the rate was cut.
	Cuts int
	// Rate is the current rate, in requests per second; 0 before broad
	// throttling, when no rate applies.
	Rate float64
}

// Pacing constants; see Pacer.
const (
	// BroadWindow is how many of the latest answers the broad-throttling
	// test looks at.
	BroadWindow = 32
	// BroadThrottles is how many of them must be 429s.
	BroadThrottles = 8
	// BroadKeys is how many different keys those 429s must be for.
	BroadKeys = 4
	// MinRate is the lowest rate a cut goes to.
	MinRate = 0.5
	// MaxRate bounds the rate's growth.
	MaxRate = 10000.0
	// Backoff is the factor of a cut.
	Backoff = 0.85
	// AdditiveIncrease is what each answer adds to the rate, once it
	// applies, as a share of a request per second.
	AdditiveIncrease = 0.05
	// PauseCredit is the share of a pause's slots that may go at once
	// when it ends.
	PauseCredit = 0.25
	// measureMin is the least span the granted rate is measured over.
	measureMin = time.Second
)

// NewPacer returns a Pacer with no rate limit and no key held.
func NewPacer() *Pacer {
	now := time.Now()
	return &Pacer{holds: map[string]time.Time{}, throttled: map[string]bool{}, next: now, cutAt: now, measureFrom: now}
}

// Stats returns what the Pacer saw so far.
func (p *Pacer) Stats() PacerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.ThrottledKeys = len(p.throttled)
	s.Broad = p.limited
	s.Rate = p.rate
	return s
}

// Turn is one request's permission to go, from Wait. Report how the service
// answered with exactly one of its methods.
type Turn struct {
	p    *Pacer
	key  string
	sent time.Time
	done bool
}

// Wait blocks until a request for key may go: until key's hold has passed
// and, after broad throttling, its slot on the shared schedule. It returns an error wrapping ErrNoTimeToRetry, without
// taking a turn, when the hold or the slot is not before ctx's deadline, and
// ctx's error when ctx is done first.
func (p *Pacer) Wait(ctx context.Context, key string) (*Turn, error) {
	if err := p.waitHold(ctx, key); err != nil {
		return nil, err
	}
	for {
		d, pauses, err := p.reserve(ctx)
		if err != nil {
			return nil, err
		}
		if d > 0 {
			if err := p.sleep(ctx, d); err != nil {
				return nil, err
			}
		}
		if pauses < 0 {
			continue // slept until a pause's end: take a slot now
		}
		p.mu.Lock()
		again := p.pauses != pauses && time.Now().Before(p.pausedUntil)
		p.mu.Unlock()
		if !again {
			return &Turn{p: p, key: key, sent: time.Now()}, nil
		}
		// A throttle paused everyone while this caller slept: its slot
		// was before the pause ended. Take a new one.
	}
}

// waitHold sleeps until key's hold has passed.
func (p *Pacer) waitHold(ctx context.Context, key string) error {
	p.mu.Lock()
	until := p.holds[key]
	p.mu.Unlock()
	now := time.Now()
	if !until.After(now) {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && !until.Before(deadline) {
		return fmt.Errorf("%w (throttled, next request in %s)", ErrNoTimeToRetry, until.Sub(now).Round(time.Millisecond))
	}
	if h, ok := ctx.Value(holdHooksKey{}).(holdHooks); ok {
		h.release()
		defer h.reacquire()
	}
	return p.sleep(ctx, until.Sub(now))
}

type holdHooksKey struct{}

type holdHooks struct{ release, reacquire func() }

// WhileHeld returns a context under which a Pacer, while it holds the
// call's key (a 429's Retry-After), calls release before it sleeps and
// reacquire after: a worker waiting out its own skill's 429 gives its place
// to another skill meanwhile. reacquire blocks until the place is back.
func WhileHeld(ctx context.Context, release, reacquire func()) context.Context {
	return context.WithValue(ctx, holdHooksKey{}, holdHooks{release, reacquire})
}

// reserve takes the caller's slot on the shared schedule once broad
// throttling was seen, and returns how long to wait for it and the pause
// count; before, it only counts the request. During a pause it takes no slot
// and returns the wait until the pause's end with a negative count: the
// rate is measured when the pause ends, when the answers of the requests in
// flight at the cut are in.
func (p *Pacer) reserve(ctx context.Context) (time.Duration, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.limited {
		p.stats.Requests++
		return 0, p.pauses, nil
	}
	now := time.Now()
	deadline, hasDeadline := ctx.Deadline()
	if now.Before(p.pausedUntil) {
		if hasDeadline && !p.pausedUntil.Before(deadline) {
			return 0, 0, fmt.Errorf("%w (requests paused for %s)", ErrNoTimeToRetry, p.pausedUntil.Sub(now).Round(time.Millisecond))
		}
		return p.pausedUntil.Sub(now), -1, nil
	}
	if p.measuring {
		p.measure(now)
	}
	// An idle schedule does not save slots up: no burst after a lull.
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	credit := p.credit > 0 && !slot.After(now)
	if credit {
		// The service's bucket refilled while everyone waited: some of
		// the pause's slots may go at once when it ends.
		slot = now
	}
	if hasDeadline && !slot.Before(deadline) {
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

// measure sets the rate after a cut, once the cut's pause is over: Backoff
// times the rate granted from the previous measurement to the cut, counting
// the answers that came in until now (the requests in flight at the cut),
// over at least a second; after the first cut, between half the rate and
// Backoff times it. The caller holds p.mu.
func (p *Pacer) measure(now time.Time) {
	el := max(p.cutAt.Sub(p.measureFrom), measureMin).Seconds()
	granted := float64(p.answered) / el
	cut := Backoff * granted
	if p.rate > 0 {
		// A window that is mostly a pause measures little: never cut by
		// more than half at once.
		cut = max(Backoff*min(granted, p.rate), p.rate/2)
	}
	p.rate = max(MinRate, cut)
	p.measureFrom, p.answered, p.measuring = now, 0, false
	p.credit = int(PauseCredit * p.pauseLen.Seconds() * p.rate)
}

// Answered records an answer that was not a throttle.
func (t *Turn) Answered() {
	if t.finish() {
		t.p.recordAnswer(t.key)
	}
}

// Throttled records a 429 answer that asked to wait retryAfter: its key is
// held until then, and broad throttling makes every request wait too.
func (t *Turn) Throttled(retryAfter time.Duration) {
	if t.finish() {
		t.p.throttle(t.key, t.sent, retryAfter)
	}
}

// NoAnswer records a request the service did not answer (a timeout, a
// dropped connection): it changes nothing.
func (t *Turn) NoAnswer() { t.finish() }

// finish reports whether this is the turn's first report.
func (t *Turn) finish() bool {
	first := !t.done
	t.done = true
	return first
}

func (p *Pacer) record(a answer) {
	p.recent[p.nRecent%BroadWindow] = a
	p.nRecent++
}

// broad reports whether the recent answers show broad throttling.
func (p *Pacer) broad() bool {
	keys := map[string]bool{}
	n := 0
	for _, a := range p.recent[:min(p.nRecent, BroadWindow)] {
		if a.throttled {
			n++
			keys[a.key] = true
		}
	}
	return n >= BroadThrottles && len(keys) >= BroadKeys
}

func (p *Pacer) recordAnswer(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record(answer{key: key})
	p.answered++
	if p.limited && !p.measuring {
		p.rate = min(p.rate+AdditiveIncrease, MaxRate)
	}
}

// throttle records a 429 for key, sent at sent, that asked to wait
// retryAfter.
func (p *Pacer) throttle(key string, sent time.Time, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.stats.Throttled++
	p.throttled[key] = true
	p.record(answer{key: key, throttled: true})
	if until := now.Add(retryAfter); until.After(p.holds[key]) {
		p.holds[key] = until
	}
	if !p.limited && !p.broad() {
		return // one skill's 429: only that skill waits
	}
	if !p.limited || sent.After(p.cutAt) { // else sent before the last cut: that congestion is handled
		p.limited, p.cutAt, p.measuring = true, now, true
		p.stats.Cuts++
	}
	if until := now.Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
		p.pauses++
		p.pauseLen = retryAfter
	}
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return sleepTimer(ctx, d)
}
