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

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapitest"
)

// The pacer's tests run in synctest bubbles: its slots, pauses and the
// fake's latency and rate limit follow the bubble's clock.

func throttle429(retryAfter time.Duration) error {
	return &APIError{Service: "SMAPI", StatusCode: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

func TestPacerRetryAfterPausesEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		if err := p.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		p.Throttled(sent, 2*time.Second)
		// Another worker, which never saw a 429, waits for the pause.
		if err := p.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(sent); waited < 2*time.Second {
			t.Fatalf("a worker went %s after another's 429 with Retry-After 2s; want the pause honoured", waited)
		}
	})
}

func TestPacerSleeperTakesNewSlotAfterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		// Fill the schedule so that the next slot is in the future.
		for range 5 {
			if err := p.reserveOnly(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan time.Time)
		go func() {
			if err := p.Wait(t.Context()); err != nil {
				t.Error(err)
			}
			done <- time.Now()
		}()
		synctest.Wait() // the worker sleeps until its slot
		p.Throttled(time.Now(), time.Second)
		pauseEnd := time.Now().Add(time.Second)
		if at := <-done; at.Before(pauseEnd) {
			t.Fatalf("a worker asleep when the 429 came went at %s; want it to wait for the pause ending at %s", at, pauseEnd)
		}
	})
}

// reserveOnly takes a slot without waiting for it.
func (p *Pacer) reserveOnly(ctx context.Context) error {
	_, _, err := p.reserve(ctx)
	return err
}

func TestPacerCutsOncePerCongestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		for range 20 {
			p.Answered()
		}
		if r := p.Stats().Rate; r <= InitialRate {
			t.Fatalf("rate after 20 answers in slow start = %g; want above %g", r, InitialRate)
		}
		time.Sleep(time.Second)
		sent := time.Now()
		time.Sleep(50 * time.Millisecond)
		// Four requests in flight together come back 429.
		for range 4 {
			p.Throttled(sent, time.Second)
		}
		st := p.Stats()
		if st.Cuts != 1 || st.Throttled != 4 {
			t.Fatalf("stats %+v; want 4 throttled and 1 cut", st)
		}
		// 20 answers in 1.05 s: the service granted about 19 a second.
		if want := Backoff * 20 / 1.05; st.Rate < want*0.99 || st.Rate > want*1.01 {
			t.Fatalf("rate after the cut = %g; want %g (Backoff x the granted rate)", st.Rate, want)
		}
		// A request sent after the cut that is throttled again cuts again.
		time.Sleep(2 * time.Second)
		p.Answered()
		p.Throttled(time.Now(), time.Second)
		if st2 := p.Stats(); st2.Cuts != 2 || st2.Rate >= st.Rate {
			t.Fatalf("stats %+v after a new congestion; want a second cut below %g", st2, st.Rate)
		}
		// After the first cut the rate grows additively.
		before := p.Stats().Rate
		p.Answered()
		if got := p.Stats().Rate; got != before+AdditiveIncrease {
			t.Fatalf("rate after an answer = %g; want %g", got, before+AdditiveIncrease)
		}
	})
}

func TestPacerRefusesSlotPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		p.Throttled(time.Now(), 10*time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		before := p.Stats().Requests
		err := p.Wait(ctx)
		if !errors.Is(err, ErrNoTimeToRetry) {
			t.Fatalf("Wait = %v; want ErrNoTimeToRetry", err)
		}
		if p.Stats().Requests != before {
			t.Fatal("a refused Wait took a slot")
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
		attempts, err := r.Do(ctx, fn)
		if err != nil || attempts != 13 {
			t.Fatalf("Do = %d, %v; want success after 12 throttles (13 attempts)", attempts, err)
		}

		calls = 0
		attempts, err = r.Do(t.Context(), fn)
		if err == nil || attempts != r.MaxAttempts {
			t.Fatalf("Do without deadline = %d, %v; want failure after %d attempts", attempts, err, r.MaxAttempts)
		}

		// A server error still uses attempts, pacer or not.
		calls = 0
		attempts, err = r.Do(ctx, func(context.Context) error {
			calls++
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
		attempts, err := r.Do(ctx, func(context.Context) error { return throttle429(time.Second) })
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

// TestPacedClientUnderRateLimit: 60 skills fetched 16 at a time through one
// pacer from the fake limited to 5 requests a second: every call succeeds
// and at most 10% of the requests are answered 429.
func TestPacedClientUnderRateLimit(t *testing.T) {
	fake := smapitest.New() // its listener stays outside the bubble
	defer fake.Close()
	synctest.Test(t, func(t *testing.T) {
		fake.AddClient(lwaClientID, lwaSecret, refreshToken)
		fake.SetLatency(50 * time.Millisecond)
		const n = 60
		for i := range n {
			fake.SetSkill(fmt.Sprintf("amzn1.ask.skill.%08d-3333-4333-8333-333333333333", i), "client", "secret")
		}
		hc := &http.Client{Transport: fake.Transport()}
		ts := NewTokenSource(fake.TokenURL(), hc)
		ts.SetCredentials(RefreshCredentials{ClientID: lwaClientID, ClientSecret: lwaSecret, RefreshToken: refreshToken})
		c, err := NewClient(fake.SMAPIURL(), ts, hc)
		if err != nil {
			t.Fatal(err)
		}
		c.Retrier.Pacer = NewPacer()
		fake.SetRateLimit(5, 5)
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
		defer cancel()
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if _, err := c.GetSkillCredentials(ctx, fmt.Sprintf("amzn1.ask.skill.%08d-3333-4333-8333-333333333333", i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		requests := len(fake.Requests()) - fake.TokenRequests()
		if th := fake.Throttled(); th*10 > requests {
			t.Fatalf("%d of %d requests answered 429; want at most 10%%", th, requests)
		}
	})
}

// TestPacerPauseCredit: when a pause ends, PauseCredit of the pause's slots
// at the cut rate go at once (the service's bucket refilled while everyone
// waited), then requests are spaced by the rate again.
func TestPacerPauseCredit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		for range 20 {
			p.Answered()
		}
		time.Sleep(time.Second)
		p.Throttled(time.Now(), 2*time.Second)
		pauseEnd := time.Now().Add(2 * time.Second)
		rate := p.Stats().Rate // Backoff x 20 answers in 1 s = 17 a second
		credit := int(PauseCredit * 2 * rate)
		if credit < 2 {
			t.Fatalf("credit %d at rate %g; the test needs a few", credit, rate)
		}
		var at []time.Time
		for range credit + 2 {
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Now())
		}
		for i := range credit + 1 {
			if !at[i].Equal(pauseEnd) {
				t.Fatalf("request %d went at %s; want the %d credited slots and the pause's own at its end %s", i, at[i], credit, pauseEnd)
			}
		}
		if want := pauseEnd.Add(time.Duration(float64(time.Second) / rate)); !at[credit+1].Equal(want) {
			t.Fatalf("request after the credit went at %s; want %s (one slot at %g a second later)", at[credit+1], want, rate)
		}
	})
}
