package credsync

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
)

// pool runs a run's fetches, at most limit at once, and starts none with
// less than need left before the deadline: such a job is handed to
// notStarted instead. A worker waiting out its own skill's 429 lends its
// place to another job meanwhile (smapi.WhileHeld), which an
// errgroup.SetLimit cannot do: the place is a weighted semaphore's.
type pool struct {
	sem *semaphore.Weighted
	wg  sync.WaitGroup
	// deadline is the invocation's; zero means none.
	deadline time.Time
	// need is the least time before the deadline a job starts with: the
	// reserve and the least time a fetch gets.
	need time.Duration
	now  func() time.Time
	// fetchCtx is the context of the SMAPI calls, ending at the deadline
	// minus the reserve.
	fetchCtx   context.Context
	run        func(fetchCtx context.Context, j job)
	notStarted func(j job, left time.Duration)
}

func newPool(limit int, fetchCtx context.Context, need time.Duration, run func(context.Context, job), notStarted func(job, time.Duration)) *pool {
	p := &pool{sem: semaphore.NewWeighted(int64(max(limit, 1))), need: need, now: time.Now, fetchCtx: fetchCtx, run: run, notStarted: notStarted}
	return p
}

// start waits for a place, then runs j in a goroutine of its own, or hands
// it to notStarted when too little time is left.
func (p *pool) start(j job) {
	p.takeBack()
	if !p.deadline.IsZero() {
		if left := p.deadline.Sub(p.now()); left < p.need {
			p.lend()
			p.notStarted(j, left)
			return
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.lend()
		p.run(smapi.WhileHeld(p.fetchCtx, p.lend, p.takeBack), j)
	}()
}

// lend gives the caller's place back; takeBack waits for one.
func (p *pool) lend()     { p.sem.Release(1) }
func (p *pool) takeBack() { _ = p.sem.Acquire(context.Background(), 1) }

// wait returns when every job started has ended.
func (p *pool) wait() { p.wg.Wait() }

// notStartedResult is the result of a skill the run had no time left to
// start: left of the invocation's time, need needed. A run over every skill
// (full) starts with it next time.
func notStartedResult(id string, left, need time.Duration, full bool) Result {
	res := Result{SkillID: id, Status: StatusFailed, notStarted: true}
	res.Error = fmt.Sprintf("not started: %s of the invocation's time left, %s needed; raise the function's timeout or SYNC_CONCURRENCY", left.Round(time.Millisecond), need.Round(time.Millisecond))
	if full {
		res.Error += "; the next run starts with the skills this one did not reach"
	}
	return res
}
