package credsync

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

func testJob(i int) job {
	return job{cur: store.SkillValue{SkillSecretRef: store.SkillSecretRef{SkillID: skill(i)}}}
}

// TestPoolLimit checks that the pool runs at most its limit at once and,
// in the end, every job it was given.
func TestPoolLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, most, done atomic.Int32
		release := make(chan struct{})
		p := newPool(3, context.Background(), time.Second, func(context.Context, job) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			running.Add(-1)
			done.Add(1)
		}, func(job, time.Duration) { t.Error("a job was not started without a deadline") })
		go func() {
			for i := range 10 {
				p.start(testJob(i))
			}
		}()
		synctest.Wait() // every goroutine blocked: the jobs running and start
		if n := running.Load(); n != 3 {
			t.Errorf("%d jobs running while the first ones wait; want the limit, 3", n)
		}
		close(release)
		synctest.Wait()
		p.wait()
		if done.Load() != 10 || most.Load() != 3 {
			t.Errorf("ran %d jobs, at most %d at once; want 10, at most 3", done.Load(), most.Load())
		}
	})
}

// TestPoolNotStarted checks that a job given with less than need left
// before the deadline is not run but handed to notStarted with the time
// left, and one with exactly need left is run.
func TestPoolNotStarted(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var ran []string
	var late []time.Duration
	p := newPool(2, context.Background(), 4*time.Second, func(_ context.Context, j job) {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, j.cur.SkillID)
	}, func(j job, left time.Duration) {
		late = append(late, left)
	})
	p.now = func() time.Time { return now }
	p.deadline = now.Add(4 * time.Second)
	p.start(testJob(1)) // exactly need left: started
	p.wait()
	p.deadline = now.Add(4*time.Second - time.Millisecond)
	p.start(testJob(2))
	p.start(testJob(3))
	p.wait()
	if !slices.Equal(ran, []string{skill(1)}) || !slices.Equal(late, []time.Duration{4*time.Second - time.Millisecond, 4*time.Second - time.Millisecond}) {
		t.Errorf("ran %v, not started with %v left; want skill 1 run, two not started with 3.999s left", ran, late)
	}
}

// TestPoolLends checks that a running job that lends its place (as a
// worker waiting out its skill's 429 does) lets another job start, and
// continues once it has a place again.
func TestPoolLends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p *pool
		secondRan := make(chan struct{})
		var order []string
		p = newPool(1, context.Background(), time.Second, func(_ context.Context, j job) {
			if j.cur.SkillID != skill(1) {
				order = append(order, "2 ran")
				close(secondRan)
				return
			}
			p.lend()
			<-secondRan // with a limit of 1, only the lent place lets skill 2 run
			p.takeBack()
			order = append(order, "1 took its place back")
		}, func(job, time.Duration) {})
		p.start(testJob(1))
		p.start(testJob(2))
		p.wait()
		if !slices.Equal(order, []string{"2 ran", "1 took its place back"}) {
			t.Errorf("order %v; want skill 2 run in the lent place, then skill 1 go on", order)
		}
	})
}

func TestNotStartedResult(t *testing.T) {
	r := notStartedResult(skill(1), 1234567*time.Microsecond, 4*time.Second, true)
	if r.Status != StatusFailed || !r.notStarted || !strings.Contains(r.Error, "1.235s of the invocation's time left, 4s needed") || !strings.Contains(r.Error, "next run starts with") {
		t.Errorf("full run: %+v; want failed, not started, the times and the next run's start", r)
	}
	if r := notStartedResult(skill(1), time.Second, 4*time.Second, false); strings.Contains(r.Error, "next run") {
		t.Errorf("skillIds run: %q; want no word of the next run", r.Error)
	}
}
