package credsync

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// smapiEnds records when each SMAPI credentials request of the syncer's
// client ended (answered or cut off).
type smapiEnds struct {
	base http.RoundTripper
	mu   sync.Mutex
	ends []time.Time
}

func (r *smapiEnds) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if strings.Contains(req.URL.Path, "/credentials") {
		r.mu.Lock()
		r.ends = append(r.ends, time.Now())
		r.mu.Unlock()
	}
	return resp, err
}

// take returns the end times recorded so far and forgets them.
func (r *smapiEnds) take() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	ends := r.ends
	r.ends = nil
	return ends
}

func (e *env) recordSMAPIEnds() *smapiEnds {
	client := *e.syncer.Client
	hc := *client.HTTPClient
	rec := &smapiEnds{base: hc.Transport}
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	hc.Transport = rec
	client.HTTPClient = &hc
	e.syncer.Client = &client
	return rec
}

// storedResumeAt returns the LWA secret's syncResumeAt, and whether it has
// the key.
func (e *env) storedResumeAt() (string, bool) {
	e.t.Helper()
	var fields map[string]any
	if err := json.Unmarshal([]byte(e.current(e.lwaID)), &fields); err != nil {
		e.t.Fatal(err)
	}
	v, ok := fields[store.ResumeKey]
	s, _ := v.(string)
	return s, ok
}

// cyclicFrom returns ids (sorted) starting with the first at or after at,
// wrapping around: the order a run resuming at at starts its skills in.
func cyclicFrom(ids []string, at string) []string {
	i, _ := slices.BinarySearch(ids, at)
	return slices.Concat(ids[i:], ids[:i])
}

// TestCutRunsReachEverySkill runs a fleet that no run can finish (SMAPI
// answers in 100 ms, 2 at once, and each run has about 500 ms before its
// reserve) several times in a row, as the schedule would. Each run starts
// where the previous one stopped, so every skill is reached within
// ceil(N / capacity) + 1 runs, where capacity is the fewest skills a run
// started; every run returns before its deadline with its SMAPI calls ended
// before the reserve; the summary and the SkillsNotStarted metric count the
// skills not reached. A run that reaches every skill then clears the point.
func TestCutRunsReachEverySkill(t *testing.T) {
	const n = 20
	skills := make([]int, n)
	ids := make([]string, n)
	for i := range skills {
		skills[i], ids[i] = i+1, skill(i+1)
	}
	slices.Sort(ids)
	e := newEnv(t, skills...)
	e.syncer.Concurrency = 2
	// Real time against moto: the run's first half second or so goes to
	// reading the secrets on a loaded machine, so the window is wide enough
	// that each run still starts a few skills and leaves most for later.
	e.syncer.Reserve, e.syncer.MinFetch = time.Second, 400*time.Millisecond
	e.fake.SetLatency(250 * time.Millisecond)
	ends := e.recordSMAPIEnds()

	reachedIn := map[string]int{}
	minCapacity := n
	at := "" // where the next run should start; "" is the first skill
	runs := 0
	for len(reachedIn) < n {
		runs++
		if runs > n+1 {
			t.Fatalf("after %d runs %d of %d skills were reached: %v", runs-1, len(reachedIn), n, reachedIn)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		deadline, _ := ctx.Deadline()
		sum, err := e.syncer.Handle(ctx, json.RawMessage(`{}`))
		returned := time.Now()
		cancel()
		// Lateness is judged against the run's own bounds: it returns
		// before the deadline, and its SMAPI calls end by the reserve
		// (plus callGrace for the goroutines to see their context end).
		if returned.After(deadline) {
			t.Fatalf("run %d returned %s after its deadline", runs, returned.Sub(deadline))
		}
		for _, end := range ends.take() {
			if over := end.Sub(deadline.Add(-e.syncer.Reserve)); over > callGrace {
				t.Errorf("run %d: a SMAPI call ended %s into the reserve", runs, over)
			}
		}
		e.assertNoSecret("summary", toJSON(sum))
		if sum == nil || sum.Skills != n {
			t.Fatalf("run %d: summary %+v; want all %d skills", runs, sum, n)
		}

		var started, notStarted []string
		for _, r := range sum.Results {
			if strings.HasPrefix(r.Error, "not started") {
				notStarted = append(notStarted, r.SkillID)
				continue
			}
			started = append(started, r.SkillID)
			if _, ok := reachedIn[r.SkillID]; !ok {
				reachedIn[r.SkillID] = runs
			}
		}
		if len(started) == 0 {
			t.Fatalf("run %d started no skill: %+v", runs, sum)
		}
		minCapacity = min(minCapacity, len(started))
		line := e.summaryLine()
		if sum.NotStarted != len(notStarted) || line[contract.MetricSkillsNotStarted] != float64(len(notStarted)) || sum.Failed < len(notStarted) {
			t.Errorf("run %d: summary notStarted %d, metric %v, failed %d; want %d not started, counted as failed",
				runs, sum.NotStarted, line[contract.MetricSkillsNotStarted], sum.Failed, len(notStarted))
		}
		if len(notStarted) > 0 && (err == nil || !strings.Contains(err.Error(), "the next run starts with the skills this one did not reach")) {
			t.Errorf("run %d: err = %v; want the not-started skills reported", runs, err)
		}

		// A resumed run starts the skills in order from its point: what it
		// started is the head of that order, what it did not the tail.
		order := cyclicFrom(ids, at)
		if runs == 1 {
			order = ids // moto hands the secrets over in name order
		}
		if got := slices.Sorted(slices.Values(started)); !slices.Equal(got, slices.Sorted(slices.Values(order[:len(started)]))) {
			t.Errorf("run %d (from %q) started %v; want the first %d of %v", runs, at, started, len(started), order)
		}
		// The point saved is the first skill not reached.
		next, stored := e.storedResumeAt()
		want := ""
		if len(notStarted) > 0 {
			want = order[len(started)]
		}
		if next != want || stored != (want != "") {
			t.Fatalf("run %d: stored %s = %q (present %v); want %q", runs, store.ResumeKey, next, stored, want)
		}
		at = next
	}
	if bound := (n+minCapacity-1)/minCapacity + 1; runs > bound {
		t.Errorf("every skill reached after %d runs; want at most ceil(%d/%d)+1 = %d", runs, n, minCapacity, bound)
	}
	t.Logf("%d skills reached in %d cut runs (fewest started in a run: %d)", n, runs, minCapacity)
	for _, id := range ids {
		if e.fake.SkillRequests(id) == 0 {
			t.Errorf("skill %s never reached SMAPI", id)
		}
	}

	// A run with time for every skill reaches them all and clears the
	// point; the LWA secret's other keys are kept throughout.
	e.fake.SetLatency(0)
	sum, err := e.run(`{}`)
	if err != nil || sum.NotStarted != 0 || sum.Failed != 0 {
		t.Fatalf("uncut run = %+v, %v; want every skill synced", sum, err)
	}
	if v, ok := e.storedResumeAt(); ok {
		t.Fatalf("%s = %q after a run that reached every skill; want it removed", store.ResumeKey, v)
	}
	var lwa map[string]string
	if err := json.Unmarshal([]byte(e.current(e.lwaID)), &lwa); err != nil || lwa["owner"] != "team-a" || lwa["refreshToken"] != lwaRefreshToken || lwa["clientSecret"] != lwaClientSecret {
		t.Fatalf("LWA secret keys changed: %v", err)
	}
	if !strings.Contains(e.logs.String(), `"msg":"resume point cleared"`) || !strings.Contains(e.logs.String(), `"msg":"run resumes"`) {
		t.Errorf("logs lack the resume and the clearing:\n%s", e.logs.String())
	}
}

// TestResumePoint checks the point's life around the runs that cut nothing:
// a skillIds run never reads or writes it; a malformed value is ignored
// with a warning and removed by the next complete run; a run that keeps the
// point where it is does not write; a rotated refresh token and the point
// are both kept when a run saves each.
func TestResumePoint(t *testing.T) {
	put := func(e *env, resume string) {
		e.t.Helper()
		value := fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"refreshToken":%q,"owner":"team-a",%q:%s}`, lwaClientID, lwaClientSecret, lwaRefreshToken, store.ResumeKey, resume)
		if _, err := e.api.PutSecretValue(context.Background(), putValue(e.lwaID, value)); err != nil {
			e.t.Fatal(err)
		}
	}

	t.Run("skillIds run leaves it", func(t *testing.T) {
		e := newEnv(t, 1, 2, 3)
		put(e, fmt.Sprintf("%q", skill(2)))
		versions := e.versions(e.lwaID)
		sum, err := e.run(fmt.Sprintf(`{"skillIds":[%q]}`, skill(1)))
		if err != nil || sum.Skills != 1 {
			t.Fatalf("skillIds run = %+v, %v", sum, err)
		}
		if v, _ := e.storedResumeAt(); v != skill(2) || e.versions(e.lwaID) != versions {
			t.Fatalf("point = %q, %d versions; want %s kept, no write", v, e.versions(e.lwaID), skill(2))
		}
		if strings.Contains(e.logs.String(), "resume") {
			t.Errorf("a skillIds run logged a resume:\n%s", e.logs.String())
		}
	})

	for i, bad := range []string{`42`, `{"x":1}`, `"not-a-skill-id"`, `"amzn1.ask.skill.oops"`} {
		t.Run(fmt.Sprintf("malformed %d", i), func(t *testing.T) {
			e := newEnv(t, 1, 2)
			put(e, bad)
			sum, err := e.run(`{}`)
			if err != nil {
				t.Fatal(err)
			}
			wantCounts(t, sum, 2, 2, 0, 0)
			if _, ok := e.storedResumeAt(); ok {
				t.Errorf("malformed point kept after a complete run")
			}
			logs := e.logs.String()
			if !strings.Contains(logs, `"level":"WARN","msg":"resume point ignored"`) || !strings.Contains(logs, `"key":"syncResumeAt"`) {
				t.Errorf("no warning naming the key:\n%s", logs)
			}
			if strings.Contains(bad, "skill") && strings.Contains(logs, strings.Trim(bad, `"`)) {
				t.Errorf("the warning quotes the value:\n%s", logs)
			}
		})
	}

	t.Run("unchanged point is not written", func(t *testing.T) {
		e := newEnv(t, 1, 2)
		e.syncer.Reserve, e.syncer.MinFetch = time.Second, time.Second
		put(e, fmt.Sprintf("%q", skill(2)))
		versions := e.versions(e.lwaID)
		// No time for any skill: the point stays at skill 2.
		sum, late, _ := e.runWithin(1500*time.Millisecond, `{}`)
		if late != "" || sum.NotStarted != 2 {
			t.Fatalf("summary %+v (late: %s); want 2 not started, in time", sum, late)
		}
		if v, _ := e.storedResumeAt(); v != skill(2) || e.versions(e.lwaID) != versions {
			t.Fatalf("point = %q, %d versions; want %s, no new version", v, e.versions(e.lwaID), skill(2))
		}
	})

	t.Run("rotated refresh token and point both kept", func(t *testing.T) {
		e := newEnv(t, 1, 2)
		e.syncer.Reserve, e.syncer.MinFetch = time.Second, time.Second
		const rotated = "Atzr|rotated-NEVER-PRINTED"
		e.fake.RotateRefreshToken(rotated)
		sum, late, _ := e.runWithin(1500*time.Millisecond, `{}`)
		if late != "" || sum.NotStarted != 2 {
			t.Fatalf("summary %+v (late: %s); want 2 not started, in time", sum, late)
		}
		var lwa map[string]string
		if err := json.Unmarshal([]byte(e.current(e.lwaID)), &lwa); err != nil {
			t.Fatal(err)
		}
		if lwa["refreshToken"] != rotated || lwa[store.ResumeKey] != skill(1) || lwa["owner"] != "team-a" {
			t.Fatalf("LWA secret keys: refresh token rotated %v, point %q, owner %q; want both saved, other keys kept",
				lwa["refreshToken"] == rotated, lwa[store.ResumeKey], lwa["owner"])
		}
	})
}

func TestNextResumeAt(t *testing.T) {
	ns := func(ids ...string) []Result {
		var rs []Result
		for _, id := range ids {
			rs = append(rs, Result{SkillID: id, notStarted: true})
		}
		return append(rs, Result{SkillID: "a"}, Result{SkillID: "z"})
	}
	for _, tc := range []struct {
		name    string
		results []Result
		at      string
		want    string
	}{
		{"all started", ns(), "m", ""},
		{"no point: the first not started", ns("q", "c", "x"), "", "c"},
		{"after the point", ns("q", "c", "x"), "d", "q"},
		{"at the point", ns("q", "c", "x"), "q", "q"},
		{"wrapped around", ns("b", "c"), "m", "b"},
	} {
		if got := nextResumeAt(tc.results, tc.at); got != tc.want {
			t.Errorf("%s: nextResumeAt(%q) = %q; want %q", tc.name, tc.at, got, tc.want)
		}
	}
}
