// Package credsync is one run of the product: it reads the LWA secret, gets
// an access token, fetches every skill's messaging credentials from SMAPI and
// writes the changed ones to the skills' secrets, reporting each skill.
package credsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// Status of one skill in a run.
const (
	StatusUpdated   = "updated"
	StatusUnchanged = "unchanged"
	StatusFailed    = "failed"
)

// Result is one skill's outcome.
type Result struct {
	SkillID   string `json:"skillId"`
	Status    string `json:"status"`
	Error     string `json:"error,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// Summary is an invocation's result.
type Summary struct {
	Skills    int      `json:"skills"`
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Failed    int      `json:"failed"`
	Results   []Result `json:"results"`
	// Message says why nothing was synced when that is not an error (the
	// deploy-time sync before the LWA secret is filled in).
	Message string `json:"message,omitempty"`
}

// Syncer runs syncs. Build it once per process; Run is safe for concurrent
// use.
type Syncer struct {
	Store  *store.Store
	Client *smapi.Client
	Tokens *smapi.TokenSource
	// LWASecretID is the name or ARN of the LWA secret.
	LWASecretID string
	// Prefix is SKILL_SECRET_PREFIX.
	Prefix string
	// Concurrency bounds the skills fetched at once (default 8).
	Concurrency int
	// Reserve is kept back from the invocation's deadline: SMAPI calls must
	// end before it, so writes and the summary always have time. Default 3 s.
	Reserve time.Duration
	// MinFetch is the least time a skill's SMAPI call gets; a skill is not
	// started with less. Default 1 s.
	MinFetch time.Duration
	// NewPacer returns the pacer a run shares among its SMAPI calls (see
	// smapi.Pacer); nil means smapi.NewPacer. A nil pacer turns pacing off
	// (each call retries on its own, as before pacing; the benchmarks
	// compare both).
	NewPacer func() *smapi.Pacer
	// FunctionName is the dimension of the run's metrics.
	FunctionName string
	Logger       *slog.Logger
}

// RunError is the error of a run that failed entirely or for some skills.
type RunError struct {
	// Failed lists the failed skills and why; empty when the run stopped
	// before any skill.
	Failed []Result
	// Err is what stopped the run, or a problem besides the skills'.
	Err error
}

func (e *RunError) Error() string {
	var parts []string
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	if len(e.Failed) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d skill(s) failed:", len(e.Failed))
		for _, r := range e.Failed {
			fmt.Fprintf(&b, " [%s: %s]", r.SkillID, r.Error)
		}
		parts = append(parts, b.String())
	}
	return "credential sync: " + strings.Join(parts, "; ")
}

func (e *RunError) Unwrap() error { return e.Err }

// Run syncs the skills req names, or every skill under the prefix. It returns
// the summary, and a *RunError when anything failed, after every other skill
// was processed.
func (s *Syncer) Run(ctx context.Context, req Request) (*Summary, error) {
	start := time.Now()
	sum, runErr := s.run(ctx, req)
	s.report(sum, runErr, time.Since(start))
	if runErr != nil || sum.Failed > 0 {
		e := &RunError{Err: runErr}
		for _, r := range sum.Results {
			if r.Status == StatusFailed {
				e.Failed = append(e.Failed, r)
			}
		}
		return sum, e
	}
	return sum, nil
}

func (s *Syncer) run(ctx context.Context, req Request) (*Summary, error) {
	sum := &Summary{Results: []Result{}}
	call, cancel := s.callContext(ctx)
	defer cancel()
	extra, err := s.authenticate(ctx, call)
	if err != nil {
		return sum, err
	}
	results, err := s.syncAll(ctx, call, req.SkillIDs)
	sum.Results = results
	for _, r := range results {
		switch r.Status {
		case StatusUpdated:
			sum.Updated++
		case StatusUnchanged:
			sum.Unchanged++
		default:
			sum.Failed++
		}
	}
	sum.Skills = len(results)
	return sum, errors.Join(extra, err)
}

// reserve is Reserve or its default.
func (s *Syncer) reserve() time.Duration {
	if s.Reserve > 0 {
		return s.Reserve
	}
	return 3 * time.Second
}

// callContext returns the context for calls to LWA and SMAPI: it ends
// Reserve before ctx's deadline, so the writes and the summary always have
// time, even when LWA or SMAPI does not answer.
func (s *Syncer) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-s.reserve()))
	}
	return context.WithCancel(ctx)
}

// authenticate reads the LWA secret and gets an access token, before any
// skill is touched; LWA is called within call (see callContext). A rotated
// refresh token is saved back; failing to save it is returned as extra,
// which does not stop the run but fails it.
func (s *Syncer) authenticate(ctx, call context.Context) (extra, err error) {
	lwa, err := s.Store.ReadLWA(ctx, s.LWASecretID)
	if err != nil {
		return nil, err
	}
	s.Tokens.SetCredentials(smapi.RefreshCredentials{ClientID: lwa.ClientID, ClientSecret: lwa.ClientSecret, RefreshToken: lwa.RefreshToken})
	if _, err := s.Client.Retrier.Do(call, func(ctx context.Context) error {
		_, err := s.Tokens.TokenContext(ctx)
		return err
	}); err != nil {
		var api *smapi.APIError
		switch {
		case errors.As(err, &api) && api.NeedsNewRefreshToken():
			return nil, fmt.Errorf("LWA refused the credentials in %s, no skill secret was touched: %w", s.LWASecretID, err)
		case errors.Is(err, smapi.ErrLWATimeout):
			return nil, fmt.Errorf("no skill secret was touched: LWA must answer %s before the invocation's deadline, which is kept for the summary: %w", s.reserve(), err)
		}
		return nil, fmt.Errorf("no skill secret was touched: %w", err)
	}
	if rt := s.Tokens.RefreshToken(); rt != lwa.RefreshToken {
		if err := s.Store.SaveRefreshToken(ctx, lwa, rt); err != nil {
			s.Logger.ErrorContext(ctx, "rotated refresh token not saved", "secret_id", s.LWASecretID, "error", err.Error())
			return err, nil
		}
		s.Logger.InfoContext(ctx, "rotated refresh token saved", "secret_id", s.LWASecretID)
	}
	return nil, nil
}

// syncAll reads the skill secrets (those of only, or every one under the
// prefix) in batches and starts each skill's SMAPI fetch as soon as its
// secret is read, at most Concurrency at once, starting none when too little
// of the invocation's time is left; SMAPI is called within call (see
// callContext). It returns the results in the order of only, or sorted by
// skill id, and the error that stopped the reading.
func (s *Syncer) syncAll(ctx, call context.Context, only []string) ([]Result, error) {
	reserve, minFetch := s.reserve(), s.MinFetch
	if minFetch <= 0 {
		minFetch = time.Second
	}
	deadline, hasDeadline := ctx.Deadline()

	var mu sync.Mutex
	byID := map[string]Result{}
	set := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		byID[r.SkillID] = r
	}
	var ids []string // the valid ids of only, each once
	for _, id := range only {
		if _, done := byID[id]; done || slices.Contains(ids, id) {
			continue
		}
		if err := smapi.ValidateSkillID(id); err != nil {
			set(Result{SkillID: id, Status: StatusFailed, Error: fmt.Sprintf("skipped, not sent to SMAPI: %v (secret %s%s)", err, s.Prefix, id)})
			continue
		}
		ids = append(ids, id)
	}

	// The reader hands secrets over page by page; the fetches of a page
	// start while the next one is read.
	read := make(chan store.SkillValue, 256)
	readErr := make(chan error, 1)
	if len(only) > 0 && len(ids) == 0 {
		close(read)
		readErr <- nil
	} else {
		go func() {
			defer close(read)
			readErr <- s.Store.ReadSkills(ctx, s.Prefix, ids, func(page []store.SkillValue) {
				for _, v := range page {
					read <- v
				}
			})
		}()
	}

	// One pacer for the run: a 429 slows every worker, not just its own.
	newPacer := s.NewPacer
	if newPacer == nil {
		newPacer = smapi.NewPacer
	}
	client := *s.Client
	if client.Retrier.Pacer = newPacer(); client.Retrier.Pacer != nil {
		defer func() { s.logPacing(ctx, client.Retrier.Pacer.Stats()) }()
	}

	sem := make(chan struct{}, max(s.Concurrency, 1))
	var wg sync.WaitGroup
	for v := range read {
		res := Result{SkillID: v.SkillID, Status: StatusFailed}
		switch {
		case v.Err != nil && store.IsNotFound(v.Err):
			res.Error = fmt.Sprintf("no secret named %s: add the skill to the stack's skillIds and deploy", v.Name)
		case v.Err != nil:
			res.Error = fmt.Sprintf("skill %s: %v", v.SkillID, v.Err)
		case len(only) == 0 && smapi.ValidateSkillID(v.SkillID) != nil:
			res.Error = fmt.Sprintf("skipped, not sent to SMAPI: %v (secret %s)", smapi.ValidateSkillID(v.SkillID), v.Name)
		}
		if res.Error != "" {
			set(res)
			if v.Err != nil {
				s.logSkill(ctx, res, 0, 0)
			}
			continue
		}
		sem <- struct{}{}
		if left := time.Until(deadline) - reserve; hasDeadline && left < minFetch {
			<-sem
			res.Error = fmt.Sprintf("not started: %s of the invocation's time left, %s needed; raise the function's timeout or SYNC_CONCURRENCY", time.Until(deadline).Round(time.Millisecond), (reserve + minFetch).Round(time.Millisecond))
			set(res)
			s.logSkill(ctx, res, 0, 0)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			set(s.syncOne(ctx, call, &client, v))
		}()
	}
	wg.Wait()
	err := <-readErr

	if len(only) == 0 {
		results := make([]Result, 0, len(byID))
		for _, r := range byID {
			results = append(results, r)
		}
		slices.SortFunc(results, func(a, b Result) int { return strings.Compare(a.SkillID, b.SkillID) })
		return results, err
	}
	results := make([]Result, len(only))
	for i, id := range only {
		r, ok := byID[id]
		if !ok {
			r = Result{SkillID: id, Status: StatusFailed, Error: fmt.Sprintf("no secret named %s%s: add the skill to the stack's skillIds and deploy", s.Prefix, id)}
			if err != nil {
				r.Error = fmt.Sprintf("secret %s%s not read: %v", s.Prefix, id, err)
			}
		}
		results[i] = r
	}
	return results, err
}

func (s *Syncer) syncOne(ctx, fetchCtx context.Context, client *smapi.Client, cur store.SkillValue) Result {
	start := time.Now()
	res := Result{SkillID: cur.SkillID, Status: StatusFailed}
	creds, err := client.GetSkillCredentials(fetchCtx, cur.SkillID)
	if err != nil {
		res.Error, res.RequestID = err.Error(), smapi.RequestID(err)
		var ce *smapi.CallError
		attempts := 0
		if errors.As(err, &ce) {
			attempts = ce.Attempts
		}
		s.logSkill(ctx, res, attempts, time.Since(start))
		return res
	}
	res.RequestID = creds.RequestID
	changed, err := s.Store.ReplaceSkill(ctx, cur, store.SkillSecret{SkillID: cur.SkillID, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret})
	switch {
	case err != nil:
		res.Error = fmt.Sprintf("skill %s: %v", cur.SkillID, err)
	case changed:
		res.Status = StatusUpdated
	default:
		res.Status = StatusUnchanged
	}
	s.logSkill(ctx, res, creds.Attempts, time.Since(start))
	return res
}

// logPacing logs what the run's pacer saw: SMAPI requests, 429 answers,
// rate cuts and the rate it ended at.
func (s *Syncer) logPacing(ctx context.Context, st smapi.PacerStats) {
	s.Logger.LogAttrs(ctx, slog.LevelInfo, "smapi pacing",
		slog.Int("requests", st.Requests),
		slog.Int("throttled", st.Throttled),
		slog.Int("rate_cuts", st.Cuts),
		slog.Float64("rate_per_second", math.Round(st.Rate*10)/10))
}

func (s *Syncer) logSkill(ctx context.Context, r Result, attempts int, d time.Duration) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("skill_id", r.SkillID),
		slog.String("status", r.Status),
		slog.String("request_id", r.RequestID),
		slog.Int("attempts", attempts),
		slog.Int64("duration_ms", d.Milliseconds()),
	}
	if r.Error != "" {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", r.Error))
	}
	s.Logger.LogAttrs(ctx, level, "skill synced", attrs...)
}

// report writes the summary line, which is also an Embedded Metric Format
// record: CloudWatch turns it into the SyncSucceeded, SkillsFailed and
// SkillsUpdated metrics the stack's alarms watch.
func (s *Syncer) report(sum *Summary, runErr error, d time.Duration) {
	ok := runErr == nil && sum.Failed == 0
	succeeded := 0
	if ok {
		succeeded = 1
	}
	attrs := []slog.Attr{
		slog.Int("skills", sum.Skills),
		slog.Int("updated", sum.Updated),
		slog.Int("unchanged", sum.Unchanged),
		slog.Int("failed", sum.Failed),
		slog.Int64("duration_ms", d.Milliseconds()),
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  MetricNamespace,
				"Dimensions": [][]string{{"FunctionName"}},
				"Metrics": []map[string]string{
					{"Name": "SyncSucceeded", "Unit": "Count"},
					{"Name": "SkillsFailed", "Unit": "Count"},
					{"Name": "SkillsUpdated", "Unit": "Count"},
				},
			}},
		}),
		slog.String("FunctionName", s.FunctionName),
		slog.Int("SyncSucceeded", succeeded),
		slog.Int("SkillsFailed", sum.Failed),
		slog.Int("SkillsUpdated", sum.Updated),
	}
	level := slog.LevelInfo
	if !ok {
		level = slog.LevelError
	}
	if runErr != nil {
		attrs = append(attrs, slog.String("error", runErr.Error()))
	}
	s.Logger.LogAttrs(context.Background(), level, "sync finished", attrs...)
}

// MetricNamespace is the CloudWatch namespace of the run's metrics.
const MetricNamespace = "AlexaSkillCredentials"
