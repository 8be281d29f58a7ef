// Package credsync is one run of the product: it reads the LWA secret, gets
// an access token, fetches every skill's messaging credentials from SMAPI and
// writes the changed ones to the skills' secrets, reporting each skill.
package credsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
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
	// attempts counts the SMAPI calls made for the skill (0 when none).
	attempts int
	// notStarted is set when the run had no time left for the skill.
	notStarted bool
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
	Created int `json:"created,omitempty"`
	// NotStarted counts the skills the run had no time left to start (they
	// are also counted as failed). The next run over every skill starts
	// with them.
	NotStarted int      `json:"notStarted,omitempty"`
	Results    []Result `json:"results"`
	// Message says why nothing was synced when that is not an error (the
	// deploy-time sync before the LWA secret is filled in).
	Message string `json:"message,omitempty"`
	// throttled counts the SMAPI answers that were 429.
	throttled int
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
	var err error
	if runErr != nil || sum.Failed > 0 {
		e := &RunError{Err: runErr}
		for _, r := range sum.Results {
			if r.Status == StatusFailed {
				e.Failed = append(e.Failed, r)
			}
		}
		err = e
	}
	report(s.Logger, s.FunctionName, req, sum, runErr, err, time.Since(start))
	return sum, err
}

func (s *Syncer) run(ctx context.Context, req Request) (*Summary, error) {
	sum := &Summary{Results: []Result{}}
	call, cancel := s.callContext(ctx)
	defer cancel()
	lwa, err := s.login(ctx, call)
	if err != nil {
		return sum, err
	}
	extra := s.saveRotatedToken(ctx, lwa)
	full := len(req.SkillIDs) == 0
	var resume resumePoint
	if full {
		resume = s.resumePoint(ctx, lwa)
	}
	// One pacer for the run, shared with discovery: a 429 holds its own
	// skill, broad throttling slows every worker.
	newPacer := s.NewPacer
	if newPacer == nil {
		newPacer = smapi.NewPacer
	}
	client := *s.Client
	client.Retrier.Pacer = nil // nil turns pacing off
	var pacer *smapi.Pacer
	if pc := newPacer(); pc != nil {
		client.Retrier.Pacer, pacer = pc, pc
	}
	p, perr := s.plan(ctx, call, &client, req.SkillIDs)
	extra = errors.Join(extra, perr)
	results, err := s.syncAll(ctx, &client, p, resume.at)
	extra = errors.Join(extra, p.awaitDiscovery())
	if full && err == nil {
		// After a failed read the skills not read are unknown: the point
		// stays where it was.
		extra = errors.Join(extra, s.saveResumePoint(ctx, resume, results))
	}
	if pacer != nil {
		st := pacer.Stats()
		sum.throttled = st.Throttled
		s.logPacing(ctx, st)
	}
	sum.tally(results)
	return sum, errors.Join(extra, err)
}

// tally sets sum's results and counts them.
func (sum *Summary) tally(results []Result) {
	sum.Results, sum.Skills = results, len(results)
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
		if r.notStarted {
			sum.NotStarted++
		}
	}
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

// login reads the LWA secret and gets an access token, before any skill is
// touched; LWA is called within call (see callContext). Whitespace around a
// value was removed by the store: each such key is logged as a warning. Its
// error stops the run; saveRotatedToken then keeps a refresh token LWA
// rotated.
func (s *Syncer) login(ctx, call context.Context) (*store.LWASecret, error) {
	lwa, err := s.Store.ReadLWA(ctx, s.LWASecretID)
	if err != nil {
		return nil, err
	}
	for _, w := range lwa.Warnings {
		if w.Key != store.ResumeKey {
			s.Logger.WarnContext(ctx, "LWA secret value repaired", "secret_id", s.LWASecretID, "key", w.Key, "problem", w.Problem)
		}
	}
	s.Tokens.SetCredentials(smapi.RefreshCredentials{ClientID: lwa.ClientID, ClientSecret: lwa.ClientSecret, RefreshToken: lwa.RefreshToken})
	if _, err := s.Client.Retrier.Do(call, func(ctx context.Context) error {
		_, err := s.Tokens.TokenContext(ctx)
		return err
	}); err != nil {
		var api *smapi.APIError
		switch {
		case errors.As(err, &api) && api.NeedsNewRefreshToken():
			return nil, &lwaRefusal{secretID: s.LWASecretID, api: api, err: err}
		case errors.Is(err, smapi.ErrLWATimeout):
			return nil, fmt.Errorf("no skill secret was touched: LWA must answer %s before the invocation's deadline, which is kept for the summary: %w", s.reserve(), err)
		}
		return nil, fmt.Errorf("no skill secret was touched: %w", err)
	}
	return lwa, nil
}

// saveRotatedToken writes the refresh token LWA rotated during login back
// to the LWA secret lwa was read from, when it changed. Its error does not
// stop the run, but fails it.
func (s *Syncer) saveRotatedToken(ctx context.Context, lwa *store.LWASecret) error {
	rt := s.Tokens.RefreshToken()
	if rt == lwa.RefreshToken {
		return nil
	}
	if err := s.Store.SaveRefreshToken(ctx, lwa, rt); err != nil {
		s.Logger.ErrorContext(ctx, "rotated refresh token not saved", "secret_id", s.LWASecretID, "error", err.Error())
		return err
	}
	s.Logger.InfoContext(ctx, "rotated refresh token saved", "secret_id", s.LWASecretID)
	return nil
}

// lwaRefusal is LWA refusing the credentials of the LWA secret. Its text is
// LWA's answer with the fix that fits the OAuth code: invalid_grant is the
// refresh token, invalid_client the security profile's client id and secret.
// (The shared APIError's own hint names the refresh token for both.)
type lwaRefusal struct {
	secretID string
	api      *smapi.APIError
	err      error
}

func (e *lwaRefusal) Error() string {
	var hint string
	switch e.api.Code {
	case "invalid_grant":
		hint = fmt.Sprintf("replace the refreshToken in %s with a new one with the alexa::ask:skills:readwrite scope (ask util generate-lwa-tokens), see docs/troubleshooting.md#lwa-invalid-grant", e.secretID)
	case "invalid_client", "unauthorized_client":
		hint = fmt.Sprintf("check clientId and clientSecret in %s: they must be the client id and client secret of the LWA security profile the refresh token was made with, see docs/troubleshooting.md#lwa-invalid-client", e.secretID)
	default:
		hint = fmt.Sprintf("check clientId and clientSecret in %s, then replace the refreshToken, see docs/troubleshooting.md#lwa-refused", e.secretID)
	}
	a := e.api
	return fmt.Sprintf("LWA refused the credentials in %s, no skill secret was touched: %s", e.secretID,
		smapi.DescribeAnswer(a.Service, a.StatusCode, a.Code, a.Message, a.RequestID, hint))
}

func (e *lwaRefusal) Unwrap() error { return e.err }

// syncAll syncs the skills of p: a producer reads the skill secrets (those
// of p.only, or every one under the prefix) in batches and hands each over
// as soon as it is read, then the declared and discovered skills that have
// no secret; a pool fetches them from SMAPI, at most Concurrency at once,
// starting none when too little of the invocation's time is left. It returns
// the results in the order of p.only, or sorted by skill id, and the error
// that stopped the reading.
//
// With a resumeAt (a run over every skill after one that ran out of time),
// every skill is read first and the fetches start in resumeOrder.
func (s *Syncer) syncAll(ctx context.Context, client *smapi.Client, p *runPlan, resumeAt string) ([]Result, error) {
	fetchCtx, cancel := s.callContext(ctx)
	defer cancel()
	var results results
	ids, invalid := validOnly(p.only, s.Prefix)
	for _, r := range invalid {
		results.set(r)
	}
	minFetch := s.MinFetch
	if minFetch <= 0 {
		minFetch = time.Second
	}
	need := s.reserve() + minFetch
	pool := newPool(s.Concurrency, fetchCtx, need,
		func(held context.Context, j job) { results.set(s.syncOne(ctx, held, client, j)) },
		func(j job, left time.Duration) {
			res := notStartedResult(j.cur.SkillID, left, need, len(p.only) == 0)
			results.set(res)
			s.logSkill(ctx, res, 0, 0)
		})
	pool.deadline, _ = ctx.Deadline()

	enqueue := pool.start
	var queued []job
	if resumeAt != "" {
		enqueue = func(j job) { queued = append(queued, j) }
	}
	err := s.produce(ctx, p, ids, enqueue, func(r Result, log bool) {
		results.set(r)
		if log {
			s.logSkill(ctx, r, 0, 0)
		}
	})
	for _, j := range resumeOrder(queued, resumeAt) {
		pool.start(j)
	}
	pool.wait()
	return results.ordered(p.only, s.Prefix, err), err
}

// results collects a run's results by skill id; safe for concurrent use.
type results struct {
	mu   sync.Mutex
	byID map[string]Result
}

func (rs *results) set(r Result) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.byID == nil {
		rs.byID = map[string]Result{}
	}
	rs.byID[r.SkillID] = r
}

// ordered returns the results in the order of only, or, when only is empty,
// every result sorted by skill id. A skill of only without a result had no
// secret, or its secret was not read (readErr).
func (rs *results) ordered(only []string, prefix string, readErr error) []Result {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(only) == 0 {
		out := slices.Collect(maps.Values(rs.byID))
		slices.SortFunc(out, func(a, b Result) int { return strings.Compare(a.SkillID, b.SkillID) })
		if out == nil {
			out = []Result{} // "results": [] in the summary
		}
		return out
	}
	out := make([]Result, len(only))
	for i, id := range only {
		r, ok := rs.byID[id]
		if !ok {
			r = Result{SkillID: id, Status: StatusFailed, Error: fmt.Sprintf("no secret named %s%s: add the skill to the stack's skillIds and deploy", prefix, id)}
			if readErr != nil {
				r.Error = fmt.Sprintf("secret %s%s not read: %v", prefix, id, readErr)
			}
		}
		out[i] = r
	}
	return out
}

func (s *Syncer) syncOne(ctx, fetchCtx context.Context, client *smapi.Client, j job) Result {
	start := time.Now()
	cur := j.cur
	res := Result{SkillID: cur.SkillID, Status: StatusFailed}
	creds, err := client.GetSkillCredentials(fetchCtx, cur.SkillID)
	if err != nil {
		res.Error, res.RequestID = err.Error(), smapi.RequestID(err)
		var ce *smapi.CallError
		if errors.As(err, &ce) {
			res.attempts = ce.Attempts
		}
		var api *smapi.APIError
		if j.discovered && j.create && errors.As(err, &api) && api.StatusCode == http.StatusNotFound {
			res.Status, res.Error = StatusSkipped, ""
			res.Reason = fmt.Sprintf("discovered, but SMAPI has no skill messaging credentials for it (HTTP 404, request id %s): no secret created; it is synced once Amazon issues them", res.RequestID)
		}
		s.logSkill(ctx, res, res.attempts, time.Since(start))
		return res
	}
	res.RequestID, res.attempts = creds.RequestID, creds.Attempts
	value := store.SkillSecret{SkillID: cur.SkillID, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret}
	var changed bool
	if j.create {
		res.Created, changed, err = s.Store.CreateSkillSecret(ctx, cur.Name, s.Create.KMSKeyID, value)
	} else {
		changed, err = s.Store.ReplaceSkill(ctx, cur, value)
	}
	switch {
	case err != nil:
		res.Error = fmt.Sprintf("skill %s: %v", cur.SkillID, err)
	case changed:
		res.Status = StatusUpdated
	default:
		res.Status = StatusUnchanged
	}
	if err == nil && j.schedule {
		if err := s.scheduleRotation(ctx, cur.Name); err != nil {
			res.Status = StatusFailed
			res.Error = fmt.Sprintf("skill %s: credentials stored, but %v; the next run tries again", cur.SkillID, err)
		}
	}
	s.logSkill(ctx, res, res.attempts, time.Since(start))
	return res
}

// logPacing logs what the run's pacer saw: SMAPI requests, 429 answers and
// the skills they were for, whether throttling was broad, rate cuts and the
// rate it ended at (0: no rate applied).
func (s *Syncer) logPacing(ctx context.Context, st smapi.PacerStats) {
	s.Logger.LogAttrs(ctx, slog.LevelInfo, "smapi pacing",
		slog.Int("requests", st.Requests),
		slog.Int("throttled", st.Throttled),
		slog.Int("throttled_skills", st.ThrottledKeys),
		slog.Bool("broad_throttling", st.Broad),
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

// Run kinds: the "run" attribute of the summary line.
const (
	// RunAll is a run over every skill: a scheduled event or {}.
	RunAll = "all"
	// RunSkills is a {"skillIds": [...]} run.
	RunSkills = "skills"
	// RunDeploy is the deploy-time run over every skill.
	RunDeploy = "deploy"
)

// Kind is the run kind of req: RunAll, RunSkills or RunDeploy.
func (req Request) Kind() string {
	switch {
	case req.Deploy:
		return RunDeploy
	case len(req.SkillIDs) > 0:
		return RunSkills
	default:
		return RunAll
	}
}

// report writes the summary line, which is also an Embedded Metric Format
// record: CloudWatch turns its metrics (see contract.MetricSyncSucceeded) into the
// series the stack's alarms and dashboard watch. runErr is what stopped the
// run or failed it besides the skills; err is the invocation's error, logged
// as "error" (it names each failed skill).
func report(logger *slog.Logger, functionName string, req Request, sum *Summary, runErr, err error, d time.Duration) {
	kind := req.Kind()
	retries := 0
	for _, r := range sum.Results {
		retries += max(r.attempts-1, 0)
	}
	metrics := []slog.Attr{
		slog.Int(contract.MetricSyncSucceeded, b2i(err == nil)),
		slog.Int(contract.MetricSkillsUpdated, sum.Updated),
		slog.Int(contract.MetricSkillsUnchanged, sum.Unchanged),
		slog.Int(contract.MetricSkillsFailed, sum.Failed),
		slog.Int(contract.MetricSMAPIRetries, retries),
		slog.Int(contract.MetricSMAPIThrottled, sum.throttled),
		slog.Int(contract.MetricSkillsNotStarted, sum.NotStarted),
	}
	if kind != RunSkills {
		completed := runErr == nil && sum.NotStarted == 0
		metrics = append(metrics, slog.Int(contract.MetricFullRunFailed, b2i(!completed)))
		if completed {
			metrics = append(metrics, slog.Int(contract.MetricFullRunSkillsFailed, sum.Failed))
		}
	}
	names := make([]map[string]string, len(metrics))
	for i, m := range metrics {
		names[i] = map[string]string{"Name": m.Key, "Unit": "Count"}
	}
	attrs := []slog.Attr{
		slog.String("run", kind),
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
				"Namespace":  contract.MetricNamespace,
				"Dimensions": [][]string{{"FunctionName"}},
				"Metrics":    names,
			}},
		}),
		slog.String("FunctionName", functionName),
	}
	attrs = append(attrs, metrics...)
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	logger.LogAttrs(context.Background(), level, "sync finished", attrs...)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ReportConfigError is the handler of a function whose configuration is
// invalid: every invocation fails with err, and a sync event also writes the
// summary line, so that a run over every skill counts as failed
// (contract.MetricFullRunFailed) as soon as it happens.
func ReportConfigError(logger *slog.Logger, functionName string, err error) func(context.Context, json.RawMessage) (*Summary, error) {
	return func(_ context.Context, event json.RawMessage) (*Summary, error) {
		err := fmt.Errorf("configuration error: %w", err)
		if req, perr := ParseEvent(event); perr == nil && req.Rotation == nil {
			report(logger, functionName, req, &Summary{Results: []Result{}}, err, err, 0)
		}
		return nil, err
	}
}

// resumePoint is where a run over every skill starts: the skill id kept in
// the LWA secret (store.ResumeKey) by the last run that ran out of time.
type resumePoint struct {
	// at is the skill to start with; "" starts with the first skill, the
	// secrets in the order they are read.
	at string
	// stored says the secret holds the key (valid or not), so that a run
	// that reaches every skill removes it.
	stored bool
}

// resumePoint reads the resume point of the LWA secret. A value that is not
// a skill id is ignored with a warning (and removed by the run's end).
func (s *Syncer) resumePoint(ctx context.Context, lwa *store.LWASecret) resumePoint {
	var stored bool
	for _, w := range lwa.Warnings {
		if w.Key == store.ResumeKey {
			stored = true
			s.Logger.WarnContext(ctx, "resume point ignored", "secret_id", s.LWASecretID, "key", w.Key, "problem", w.Problem)
		}
	}
	if lwa.ResumeAt == "" {
		return resumePoint{stored: stored}
	}
	if err := contract.ValidateSkillID(lwa.ResumeAt); err != nil {
		s.Logger.WarnContext(ctx, "resume point ignored", "secret_id", s.LWASecretID, "key", store.ResumeKey, "problem", "not a skill id; ignored")
		return resumePoint{stored: true}
	}
	s.Logger.InfoContext(ctx, "run resumes", "secret_id", s.LWASecretID, "resume_at", lwa.ResumeAt)
	return resumePoint{at: lwa.ResumeAt, stored: true}
}

// resumeOrder sorts jobs by skill id, starting with the first at or after
// at and wrapping around. A run started in this order that runs out of time
// leaves a tail of it not started; the next run starts there, so that
// consecutive runs sweep every skill in turn.
func resumeOrder(jobs []job, at string) []job {
	slices.SortFunc(jobs, func(a, b job) int { return strings.Compare(a.cur.SkillID, b.cur.SkillID) })
	i, _ := slices.BinarySearchFunc(jobs, at, func(j job, at string) int { return strings.Compare(j.cur.SkillID, at) })
	return slices.Concat(jobs[i:], jobs[:i])
}

// nextResumeAt is the first skill of results not started, in the order of
// resumeOrder from at, or "" when every skill was started.
func nextResumeAt(results []Result, at string) string {
	var first, wrapped string
	for _, r := range results {
		if !r.notStarted {
			continue
		}
		if r.SkillID >= at && (first == "" || r.SkillID < first) {
			first = r.SkillID
		}
		if wrapped == "" || r.SkillID < wrapped {
			wrapped = r.SkillID
		}
	}
	if first != "" {
		return first
	}
	return wrapped
}

// saveResumePoint keeps in the LWA secret the first skill the run did not
// reach, for the next run to start with, or removes the point when the run
// reached every skill. The secret is written only when the point moves.
func (s *Syncer) saveResumePoint(ctx context.Context, cur resumePoint, results []Result) error {
	next := nextResumeAt(results, cur.at)
	if next == cur.at && (next != "" || !cur.stored) {
		return nil
	}
	written, err := s.Store.SaveResumeAt(ctx, s.LWASecretID, next)
	switch {
	case err != nil:
		s.Logger.ErrorContext(ctx, "resume point not saved", "secret_id", s.LWASecretID, "resume_at", next, "error", err.Error())
		return fmt.Errorf("the next run may start with the same skills again: %w", err)
	case written && next == "":
		s.Logger.InfoContext(ctx, "resume point cleared", "secret_id", s.LWASecretID)
	case written:
		s.Logger.InfoContext(ctx, "resume point saved", "secret_id", s.LWASecretID, "resume_at", next)
	}
	return nil
}
