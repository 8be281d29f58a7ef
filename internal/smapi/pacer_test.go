package smapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
)

// The pacer's tests run in synctest bubbles: its holds, slots, pauses and
// the fake's latency and rate limits follow the bubble's clock.

func throttle429(retryAfter time.Duration) error {
	return &APIError{Service: "SMAPI", StatusCode: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

func key(i int) string { return fmt.Sprintf("amzn1.ask.skill.%08d-3333-4333-8333-333333333333", i) }

// turn waits for key's turn and fails the test on an error.
func turn(t *testing.T, p *Pacer, k string) *Turn {
	t.Helper()
	tu, err := p.Wait(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

// goBroad makes throttling broad: up to BroadThrottles 429s, each for its
// own key.
func goBroad(t *testing.T, p *Pacer, retryAfter time.Duration) {
	t.Helper()
	for i := 0; i < BroadThrottles && !p.Stats().Broad; i++ {
		turn(t, p, key(1000+i)).Throttled(retryAfter)
	}
	if !p.Stats().Broad {
		t.Fatalf("stats %+v after %d 429s for as many skills; want broad throttling", p.Stats(), BroadThrottles)
	}
}

// TestPacerSkill429HoldsOnlyThatSkill: a 429 holds its own skill for its
// Retry-After; another skill goes at once, and no rate applies.
func TestPacerSkill429HoldsOnlyThatSkill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		start := time.Now()
		turn(t, p, key(1)).Throttled(2 * time.Second)
		turn(t, p, key(2)).Answered()
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("another skill waited %s after skill 1's 429; want no wait", waited)
		}
		turn(t, p, key(1)).Answered()
		if waited := time.Since(start); waited != 2*time.Second {
			t.Fatalf("skill 1 went again after %s; want its Retry-After, 2s", waited)
		}
		if st := p.Stats(); st.Broad || st.Cuts != 0 || st.Rate != 0 || st.Throttled != 1 || st.ThrottledKeys != 1 || st.Requests != 3 {
			t.Fatalf("stats %+v; want 3 requests, 1 throttled skill, no broad throttling, no rate", st)
		}
	})
}

// TestPacerNoRateBeforeBroadThrottling: before broad throttling nothing
// spaces the requests out, not even with one skill in forty answered 429
// once (sporadic per-skill throttling).
func TestPacerNoRateBeforeBroadThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		sleeps := 0
		p.Sleep = func(context.Context, time.Duration) error { sleeps++; return nil }
		start := time.Now()
		for i := range 2000 {
			tu := turn(t, p, key(i))
			if i%40 == 0 {
				tu.Throttled(time.Second)
				continue
			}
			tu.Answered()
		}
		if waited := time.Since(start); waited != 0 || sleeps != 0 {
			t.Fatalf("2,000 requests took %s on the bubble's clock, %d sleeps; want no wait, no sleep", waited, sleeps)
		}
		if st := p.Stats(); st.Broad || st.Cuts != 0 || st.Rate != 0 || st.Throttled != 50 || st.ThrottledKeys != 50 {
			t.Fatalf("stats %+v; want 50 throttled skills and no broad throttling", st)
		}
	})
}

// TestPacerBroadThrottling: which recent answers make throttling broad.
func TestPacerBroadThrottling(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answers before, then throttles for keys distinct skills
		answered, throttles, keys int
		broad                     bool
	}{
		{"a quarter of the window, 8 skills", 24, 8, 8, true},
		{"8 at the start of a run", 0, 8, 8, true},
		{"4 skills suffice", 24, 8, 4, true},
		{"3 skills do not", 24, 8, 3, false},
		{"7 of 32 do not", 25, 7, 7, false},
		{"8 spread over more than 32 answers do not", 40, 8, 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := NewPacer()
				if tc.name == "8 spread over more than 32 answers do not" {
					// One 429 every six answers: 6 or fewer in any 32.
					for i := range tc.throttles {
						for j := range 5 {
							turn(t, p, key(100+6*i+j)).Answered()
						}
						turn(t, p, key(i)).Throttled(0)
					}
				} else {
					for i := range tc.answered {
						turn(t, p, key(100+i)).Answered()
					}
					for i := range tc.throttles {
						turn(t, p, key(i%tc.keys)).Throttled(0)
					}
				}
				turn(t, p, key(999)).Answered() // the rate is measured at the next turn
				if st := p.Stats(); st.Broad != tc.broad || (st.Cuts > 0) != tc.broad || (st.Rate > 0) != tc.broad {
					t.Fatalf("stats %+v; want broad throttling %v", st, tc.broad)
				}
			})
		})
	}
}

// TestPacerBroadThrottlingLowersSharedRate: broad throttling pauses every
// request until its Retry-After and then spaces them at Backoff × the rate
// granted so far (measured over at least a second), after PauseCredit of
// the pause's slots went at once; every turn counts as a request.
func TestPacerBroadThrottlingLowersSharedRate(t *testing.T) {
	for _, tc := range []struct {
		pause  time.Duration
		credit int // PauseCredit × pause × 8.5 a second
	}{{time.Second, 2}, {4 * time.Second, 8}} {
		t.Run(tc.pause.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := NewPacer()
				for i := range 20 {
					turn(t, p, key(100+i)).Answered()
				}
				time.Sleep(2 * time.Second)
				goBroad(t, p, tc.pause)
				pauseEnd := time.Now().Add(tc.pause)
				if st := p.Stats(); !st.Broad || st.Cuts != 1 || st.Rate != 0 {
					t.Fatalf("stats %+v; want a cut, its rate measured when the pause ends", st)
				}
				requests := p.Stats().Requests
				var at []time.Time
				var st PacerStats
				for i := range tc.credit + 4 {
					tu := turn(t, p, key(200+i))
					at = append(at, time.Now())
					if i == 0 {
						st = p.Stats()
					}
					tu.Answered()
				}
				// 20 answers in 2 s: SMAPI granted 10 a second.
				if want := Backoff * 10; st.Rate < want*0.999 || st.Rate > want*1.001 {
					t.Fatalf("stats %+v; want the rate cut to %g", st, want)
				}
				if got := p.Stats().Requests - requests; got != len(at) {
					t.Fatalf("stats count %d requests for %d turns at the shared rate", got, len(at))
				}
				for i := range tc.credit + 1 {
					if !at[i].Equal(pauseEnd) {
						t.Fatalf("request %d went at %s; want the pause's end %s (its own slot and %d credited)", i, at[i].Sub(pauseEnd), pauseEnd, tc.credit)
					}
				}
				for i := tc.credit + 1; i < len(at); i++ {
					if gap := at[i].Sub(at[i-1]); gap < time.Duration(float64(time.Second)/(st.Rate+float64(i-1)*AdditiveIncrease)) || gap > time.Duration(float64(time.Second)/st.Rate) {
						t.Fatalf("request %d went %s after the previous; want about 1/%g s", i, gap, st.Rate)
					}
				}
			})
		})
	}
}

// TestPacerSleeperTakesNewSlotAfterPause: once the rate applies, a worker
// asleep until its slot when a 429 pauses everyone waits for the pause.
func TestPacerSleeperTakesNewSlotAfterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		for i := range 40 {
			turn(t, p, key(100+i)).Answered()
		}
		goBroad(t, p, 0)
		inFlight := turn(t, p, key(51))
		// Fill the schedule so that the next slot is in the future.
		for i := range 5 {
			turn(t, p, key(i)).Answered()
		}
		done := make(chan time.Time)
		go func() {
			tu, err := p.Wait(t.Context(), key(50))
			if err != nil {
				t.Error(err)
				return
			}
			tu.Answered()
			done <- time.Now()
		}()
		synctest.Wait() // the worker sleeps until its slot
		inFlight.Throttled(time.Second)
		pauseEnd := time.Now().Add(time.Second)
		if at := <-done; at.Before(pauseEnd) {
			t.Fatalf("a worker asleep when the 429 came went at %s; want it to wait for the pause ending at %s", at, pauseEnd)
		}
	})
}

// TestPacerCutsOncePerCongestion: once the rate applies, 429s of requests
// in flight together cut it once; a request sent after the cut that is
// throttled again cuts again, by half at most; answers add AdditiveIncrease.
func TestPacerCutsOncePerCongestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		for i := range 40 {
			turn(t, p, key(100+i)).Answered()
		}
		goBroad(t, p, 0)
		turn(t, p, key(99)).Answered() // measures the first cut's rate
		first := p.Stats()
		if want := Backoff * 40; first.Cuts != 1 || first.Rate != want+AdditiveIncrease {
			t.Fatalf("stats %+v; want one cut to %g (40 answers in the first second) and one answer's increase", first, want)
		}
		time.Sleep(2 * time.Second)
		// Four requests in flight together come back 429.
		var turns []*Turn
		for i := range 4 {
			turns = append(turns, turn(t, p, key(i)))
		}
		for _, tu := range turns {
			tu.Throttled(time.Second)
		}
		if st := p.Stats(); st.Cuts != 2 || st.Throttled != BroadThrottles+4 {
			t.Fatalf("stats %+v; want %d throttled and 2 cuts", st, BroadThrottles+4)
		}
		// A request sent after the cut and throttled cuts again.
		time.Sleep(2 * time.Second)
		tu := turn(t, p, key(60)) // measures the second cut's rate
		second := p.Stats()
		if second.Rate >= first.Rate || second.Rate < first.Rate/2 {
			t.Fatalf("rate %g after the second cut; want below %g, by half at most", second.Rate, first.Rate)
		}
		tu.Throttled(time.Second)
		if st := p.Stats(); st.Cuts != 3 {
			t.Fatalf("stats %+v after a new congestion; want a third cut", st)
		}
		time.Sleep(2 * time.Second)
		tu = turn(t, p, key(61)) // measures the third cut's rate
		st := p.Stats()
		if st.Rate >= second.Rate || st.Rate < second.Rate/2 {
			t.Fatalf("rate %g after the third cut; want below %g, by half at most", st.Rate, second.Rate)
		}
		tu.Answered()
		if got := p.Stats().Rate; got != st.Rate+AdditiveIncrease {
			t.Fatalf("rate after an answer = %g; want %g", got, st.Rate+AdditiveIncrease)
		}
	})
}

// TestPacerRefusesTurnPastDeadline: a hold or a pause that ends at or after
// the deadline is refused at once, without taking a turn.
func TestPacerRefusesTurnPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		turn(t, p, key(1)).Throttled(10 * time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		before := p.Stats().Requests
		if _, err := p.Wait(ctx, key(1)); !errors.Is(err, ErrNoTimeToRetry) {
			t.Fatalf("Wait for the held skill = %v; want ErrNoTimeToRetry", err)
		}
		if got := p.Stats().Requests; got != before {
			t.Fatalf("requests %d; want %d: a refused Wait takes no turn", got, before)
		}
		if _, err := p.Wait(ctx, key(2)); err != nil {
			t.Fatalf("Wait for another skill = %v; want its turn", err)
		}
		goBroad(t, p, 10*time.Second)
		before = p.Stats().Requests
		if _, err := p.Wait(ctx, key(3)); !errors.Is(err, ErrNoTimeToRetry) {
			t.Fatalf("Wait during a broad pause past the deadline = %v; want ErrNoTimeToRetry", err)
		}
		if got := p.Stats().Requests; got != before {
			t.Fatalf("requests %d; want %d: a refused Wait takes no turn", got, before)
		}
		if slept := time.Since(mustDeadline(ctx).Add(-5 * time.Second)); slept != 0 {
			t.Fatalf("slept %s; want no wait: a refused Wait returns at once", slept)
		}
	})
}

// TestWhileHeld: a call whose key is held gives its place back for the
// hold and takes it again after; a call that is not held keeps it.
func TestWhileHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		var log []string
		ctx := WhileHeld(t.Context(), func() { log = append(log, "release") }, func() { log = append(log, "reacquire") })
		turn(t, p, key(1)).Throttled(time.Second)
		if _, err := p.Wait(ctx, key(2)); err != nil || len(log) != 0 {
			t.Fatalf("Wait for a skill not held = %v, hooks %v; want its turn and no hook", err, log)
		}
		start := time.Now()
		if _, err := p.Wait(ctx, key(1)); err != nil || time.Since(start) != time.Second {
			t.Fatalf("Wait for the held skill = %v after %s; want its turn after 1s", err, time.Since(start))
		}
		if fmt.Sprint(log) != "[release reacquire]" {
			t.Fatalf("hooks %v; want release, then reacquire", log)
		}
	})
}

// TestRetrierThrottledDoesNotUseAttempts: with a pacer and a deadline, 429s
// are retried until the call is answered; without a deadline they count as
// attempts, so a call always ends.
func TestRetrierThrottledDoesNotUseAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := DefaultRetrier()
		r.Pacer = NewPacer()
		calls := 0
		fn := func(context.Context) error {
			calls++
			if calls <= 12 {
				return throttle429(time.Second)
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		attempts, err := r.DoKey(ctx, key(1), fn)
		if err != nil || attempts != 13 {
			t.Fatalf("Do = %d, %v; want success after 12 throttles (13 attempts)", attempts, err)
		}
		if waited := time.Since(start); waited != 12*time.Second {
			t.Fatalf("took %s; want 12 Retry-After seconds", waited)
		}
		if st := r.Pacer.Stats(); st.Broad {
			t.Fatalf("stats %+v: one skill's 429s made throttling broad", st)
		}

		calls = 0
		attempts, err = r.DoKey(t.Context(), key(2), fn)
		if err == nil || attempts != r.MaxAttempts {
			t.Fatalf("Do without deadline = %d, %v; want failure after %d attempts", attempts, err, r.MaxAttempts)
		}

		// A server error still uses attempts, pacer or not.
		attempts, err = r.DoKey(ctx, key(3), func(context.Context) error {
			return &APIError{Service: "SMAPI", StatusCode: http.StatusInternalServerError}
		})
		if err == nil || attempts != r.MaxAttempts {
			t.Fatalf("Do with 500s = %d, %v; want failure after %d attempts", attempts, err, r.MaxAttempts)
		}
	})
}

func TestRetrierThrottledStopsAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := DefaultRetrier()
		r.Pacer = NewPacer()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		attempts, err := r.DoKey(ctx, key(1), func(context.Context) error { return throttle429(time.Second) })
		if !errors.Is(err, ErrNoTimeToRetry) || attempts < 2 {
			t.Fatalf("Do = %d, %v; want ErrNoTimeToRetry after several throttled attempts", attempts, err)
		}
		if time.Now().After(mustDeadline(ctx)) {
			t.Fatal("the retrier slept past the deadline")
		}
	})
}

func mustDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// pacedClient is a client of the fake, answering after 50 ms, with a fresh
// pacer. Call it in a bubble.
func pacedClient(t *testing.T, fake *smapitest.Server, skills int) *Client {
	t.Helper()
	fake.AddClient(lwaClientID, lwaSecret, refreshToken)
	fake.SetLatency(50 * time.Millisecond)
	for i := range skills {
		fake.SetSkill(key(i), "client", "secret")
	}
	hc := &http.Client{Transport: fake.Transport()}
	ts := NewTokenSource(fake.TokenURL(), hc)
	ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
	c, err := NewClient(fake.SMAPIURL(), ts, hc)
	if err != nil {
		t.Fatal(err)
	}
	c.Retrier.Pacer = NewPacer()
	return c
}

// fetchAll fetches each skill of ids in its own goroutine, 16 at a time (a
// call whose skill is held gives its place to another, as the sync's
// workers do), and returns when all are done.
func fetchAll(t *testing.T, ctx context.Context, c *Client, ids []string, done func(i int)) {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			held := WhileHeld(ctx, func() { <-sem }, func() { sem <- struct{}{} })
			if _, err := c.GetSkillCredentials(held, id); err != nil {
				t.Error(err)
			}
			done(i)
		})
	}
	wg.Wait()
}

// TestPacedClientUnderRateLimit: 300 skills fetched 16 at a time through
// one pacer from the fake limited to 5 requests a second for
// all skills: every call succeeds, throttling is found broad, and at most 10%
// of the requests are answered 429. (The first 16 requests go unpaced and
// 11 of them are throttled: too many for the bound with a few dozen skills.)
func TestPacedClientUnderRateLimit(t *testing.T) {
	fake := smapitest.New() // its listener stays outside the bubble
	defer fake.Close()
	synctest.Test(t, func(t *testing.T) {
		const n = 300
		c := pacedClient(t, fake, n)
		fake.SetRateLimit(5, 5)
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
		defer cancel()
		ids := make([]string, n)
		for i := range ids {
			ids[i] = key(i)
		}
		fetchAll(t, ctx, c, ids, func(int) {})
		requests := len(fake.Requests()) - fake.TokenRequests()
		if th := fake.Throttled(); th == 0 || th*10 > requests {
			t.Fatalf("%d of %d requests answered 429; want some, at most 10%%", th, requests)
		}
		if st := c.Retrier.Pacer.Stats(); !st.Broad {
			t.Fatalf("stats %+v; want broad throttling", st)
		}
	})
}

// TestPacedClientUnderSkillRateLimit: one skill fetched 100 times beside
// 100 other skills, 16 at a time, from the fake with SMAPI's documented 25 requests
// a second per skill: that skill's 429s hold it alone; the other skills
// never wait for it, throttling is not found broad, and every call succeeds.
func TestPacedClientUnderSkillRateLimit(t *testing.T) {
	fake := smapitest.New()
	defer fake.Close()
	synctest.Test(t, func(t *testing.T) {
		c := pacedClient(t, fake, 101)
		fake.SetSkillRateLimit(smapitest.SkillRateLimit, smapitest.SkillRateLimit)
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		var mu sync.Mutex
		var others time.Duration // when the last of the other skills was answered
		ids := make([]string, 200)
		for i := range 100 {
			ids[2*i], ids[2*i+1] = key(100), key(i)
		}
		fetchAll(t, ctx, c, ids, func(i int) {
			if i%2 == 1 {
				mu.Lock()
				others = max(others, time.Since(start))
				mu.Unlock()
			}
		})
		st := c.Retrier.Pacer.Stats()
		if fake.Throttled() == 0 || st.ThrottledKeys != 1 || st.Broad || st.Cuts != 0 {
			t.Fatalf("stats %+v, %d answered 429; want 429s for one skill only, not broad", st, fake.Throttled())
		}
		// 200 calls, 16 in flight, 50 ms each: the other skills are done
		// within 13 rounds, 650 ms, had nothing held them.
		if others > 700*time.Millisecond {
			t.Fatalf("the other skills took %s; want them never held by the one skill's 429s", others)
		}
		if took := time.Since(start); took < 3*time.Second {
			t.Fatalf("the hammered skill's 100 calls took %s; want at least 3 s at 25 a second", took)
		}
	})
}
