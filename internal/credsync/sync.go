// Package credsync is one run of the product: it reads the LWA secret, gets
// an access token, fetches every skill's messaging credentials from SMAPI and
// writes the changed ones to the skills' secrets, reporting each skill.
package credsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// StatusSkipped is a discovered skill without a secret for which SMAPI
	// has no messaging credentials (404): not a failure, no secret made.
	StatusSkipped = "skipped"
)

// Result is one skill's outcome.
type Result struct {
	SkillID string `json:"skillId"`
	Status  string `json:"status"`
	// Created says the function created the skill's secret in this run.
	Created   bool   `json:"created,omitempty"`
	Error     string `json:"error,omitempty"`
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// Summary is an invocation's result.
type Summary struct {
	Skills    int `json:"skills"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Created counts the secrets the function created (they are also
	// counted as updated, or failed when their rotation could not be
	// scheduled).
	Created int      `json:"created,omitempty"`
	Results []Result `json:"results"`
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
	// FunctionName is the dimension of the run's metrics.
	FunctionName string
	Logger       *slog.Logger

	// Discover turns on vendor discovery (SKILL_DISCOVERY=vendor): a run for
	// every skill also syncs every skill of the vendors the refresh token
	// can see, or of VendorID only when it is set.
	Discover bool
	VendorID string
	// Declared are skills to sync besides those with a secret under the
	// prefix (SKILL_IDS_FILE).
	Declared []string
	// Create says how secrets the function creates are made.
	Create Creation
}

// Creation says how the function creates the secret of a declared or
// discovered skill that has none.
type Creation struct {
	// KMSKeyID encrypts the secrets (SKILL_SECRET_KMS_KEY_ID).
	KMSKeyID string
	// RotationDays is their rotation interval; 0 means no rotation schedule.
	RotationDays int
	// RotationLambdaARN is their rotation function; when empty,
	// FunctionARN(ctx) is used.
	RotationLambdaARN string
	// FunctionARN returns the invoked function's ARN (main reads it from the
	// Lambda context).
	FunctionARN func(context.Context) string
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
	extra, err := s.authenticate(ctx)
	if err != nil {
		return sum, err
	}
	refs, err := s.Store.ListSkillSecrets(ctx, s.Prefix)
	if err != nil {
		return sum, errors.Join(extra, err)
	}
	var discovered []string
	if s.Discover && len(req.SkillIDs) == 0 {
		var derr error
		discovered, derr = s.discover(ctx)
		// The skills found before a discovery error are synced; the error
		// fails the run after them.
		extra = errors.Join(extra, derr)
	}
	jobs, results := s.plan(refs, req.SkillIDs, discovered)
	s.syncAll(ctx, jobs, results)

	sum.Results = results
	for _, r := range results {
		switch r.Status {
		case StatusUpdated:
			sum.Updated++
		case StatusUnchanged:
			sum.Unchanged++
		case StatusSkipped:
			sum.Skipped++
		default:
			sum.Failed++
		}
		if r.Created {
			sum.Created++
		}
	}
	sum.Skills = len(results)
	return sum, extra
}

// authenticate reads the LWA secret and gets an access token, before any
// skill is touched. A rotated refresh token is saved back; failing to save it
// is returned as extra, which does not stop the run but fails it.
func (s *Syncer) authenticate(ctx context.Context) (extra, err error) {
	lwa, err := s.Store.ReadLWA(ctx, s.LWASecretID)
	if err != nil {
		return nil, err
	}
	s.Tokens.SetCredentials(smapi.RefreshCredentials{ClientID: lwa.ClientID, ClientSecret: lwa.ClientSecret, RefreshToken: lwa.RefreshToken})
	if _, err := s.Client.Retrier.Do(ctx, func(context.Context) error {
		_, err := s.Tokens.Token()
		return err
	}); err != nil {
		var api *smapi.APIError
		if errors.As(err, &api) && api.NeedsNewRefreshToken() {
			return nil, fmt.Errorf("LWA refused the credentials in %s, no skill secret was touched: %w", s.LWASecretID, err)
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

type job struct {
	index int
	id    string
	// secret is the existing secret's name; empty when the function is to
	// create it.
	secret string
	// discovered says the skill came from vendor discovery only: a 404 for
	// it is skipped, not failed.
	discovered bool
	// schedule says the secret needs the rotation schedule the function
	// gives the secrets it manages (it was created without one, or the
	// scheduling failed last time).
	schedule bool
}

// plan picks the skills to sync and fills in the results of those that
// cannot be synced at all (invalid id, no secret). Every skill is synced once:
// those with a secret under the prefix, then the declared ones, then the
// discovered ones.
func (s *Syncer) plan(refs []store.SkillSecretRef, only, discovered []string) ([]job, []Result) {
	byID := make(map[string]store.SkillSecretRef, len(refs))
	for _, r := range refs {
		byID[r.SkillID] = r
	}
	declared := make(map[string]bool, len(s.Declared))
	for _, id := range s.Declared {
		declared[id] = true
	}
	ids := only
	if len(only) == 0 {
		ids = make([]string, 0, len(refs)+len(s.Declared)+len(discovered))
		for _, r := range refs {
			ids = append(ids, r.SkillID)
		}
		ids = append(ids, s.Declared...)
		ids = append(ids, discovered...)
		ids = dedupe(ids)
	}
	fromDiscovery := make(map[string]bool, len(discovered))
	for _, id := range discovered {
		fromDiscovery[id] = true
	}
	results := make([]Result, len(ids))
	var jobs []job
	for i, id := range ids {
		results[i] = Result{SkillID: id, Status: StatusFailed}
		if err := smapi.ValidateSkillID(id); err != nil {
			results[i].Error = fmt.Sprintf("skipped, not sent to SMAPI: %v (secret %s%s)", err, s.Prefix, id)
			continue
		}
		ref, ok := byID[id]
		switch {
		case ok:
			jobs = append(jobs, job{index: i, id: id, secret: ref.Name,
				schedule: s.Create.RotationDays > 0 && !ref.RotationEnabled && (ref.Managed || declared[id])})
		case declared[id] || fromDiscovery[id]:
			jobs = append(jobs, job{index: i, id: id, discovered: !declared[id], schedule: s.Create.RotationDays > 0})
		default:
			results[i].Error = fmt.Sprintf("no secret named %s%s: add the skill to the stack's skillIds and deploy", s.Prefix, id)
		}
	}
	return jobs, results
}

// syncAll runs the jobs with bounded concurrency, starting none when too
// little of the invocation's time is left.
func (s *Syncer) syncAll(ctx context.Context, jobs []job, results []Result) {
	reserve, minFetch := s.Reserve, s.MinFetch
	if reserve <= 0 {
		reserve = 3 * time.Second
	}
	if minFetch <= 0 {
		minFetch = time.Second
	}
	fetchCtx := ctx
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		var cancel context.CancelFunc
		fetchCtx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	sem := make(chan struct{}, max(s.Concurrency, 1))
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		if left := time.Until(deadline) - reserve; hasDeadline && left < minFetch {
			<-sem
			results[j.index].Error = fmt.Sprintf("not started: %s of the invocation's time left, %s needed; raise the function's timeout or SYNC_CONCURRENCY", time.Until(deadline).Round(time.Millisecond), (reserve + minFetch).Round(time.Millisecond))
			s.logSkill(ctx, results[j.index], 0, 0)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[j.index] = s.syncOne(ctx, fetchCtx, j)
		}()
	}
	wg.Wait()
}

func (s *Syncer) syncOne(ctx, fetchCtx context.Context, j job) Result {
	start := time.Now()
	res := Result{SkillID: j.id, Status: StatusFailed}
	creds, err := s.Client.GetSkillCredentials(fetchCtx, j.id)
	if err != nil {
		res.Error, res.RequestID = err.Error(), smapi.RequestID(err)
		var ce *smapi.CallError
		attempts := 0
		if errors.As(err, &ce) {
			attempts = ce.Attempts
		}
		var api *smapi.APIError
		if j.discovered && j.secret == "" && errors.As(err, &api) && api.StatusCode == http.StatusNotFound {
			res.Status, res.Error = StatusSkipped, ""
			res.Reason = fmt.Sprintf("discovered, but SMAPI has no skill messaging credentials for it (HTTP 404, request id %s): no secret created; it is synced once Amazon issues them", res.RequestID)
		}
		s.logSkill(ctx, res, attempts, time.Since(start))
		return res
	}
	res.RequestID = creds.RequestID
	value := store.SkillSecret{SkillID: j.id, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret}
	var changed bool
	name := j.secret
	if name == "" {
		name = s.Prefix + j.id
		res.Created, changed, err = s.Store.CreateSkillSecret(ctx, name, s.Create.KMSKeyID, value)
	} else {
		changed, err = s.Store.WriteSkill(ctx, name, value)
	}
	switch {
	case err != nil:
		res.Error = fmt.Sprintf("skill %s: %v", j.id, err)
	case changed:
		res.Status = StatusUpdated
	default:
		res.Status = StatusUnchanged
	}
	if err == nil && j.schedule {
		if err := s.scheduleRotation(ctx, name); err != nil {
			res.Status = StatusFailed
			res.Error = fmt.Sprintf("skill %s: credentials stored, but %v; the next run tries again", j.id, err)
		}
	}
	s.logSkill(ctx, res, creds.Attempts, time.Since(start))
	return res
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
	if r.Created {
		attrs = append(attrs, slog.Bool("created", true))
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
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
		slog.Int("skipped", sum.Skipped),
		slog.Int("created", sum.Created),
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
