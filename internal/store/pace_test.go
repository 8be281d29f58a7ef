package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/awsrecord"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestEveryCallHasAQuota: each operation of store.API belongs to the quota
// group the quotas page (store.QuotasPage) puts it in, and every group has
// a default rate.
func TestEveryCallHasAQuota(t *testing.T) {
	want := map[string]store.Group{
		"ListSecrets": store.GroupList, "GetSecretValue": store.GroupRead, "DescribeSecret": store.GroupRead,
		"BatchGetSecretValue": store.GroupBatchRead, "PutSecretValue": store.GroupWrite, "UpdateSecretVersionStage": store.GroupWrite,
		"CreateSecret": store.GroupCreate, "RotateSecret": store.GroupRotate, "TagResource": store.GroupTag,
	}
	q := store.DefaultQuotas()
	for op, g := range want {
		if got, ok := store.GroupOf(op); !ok || got != g {
			t.Errorf("GroupOf(%q) = %q, %v; want %q", op, got, ok, g)
		}
		if q[g] <= 0 {
			t.Errorf("DefaultQuotas()[%q] = %g; want a rate", g, q[g])
		}
	}
	if _, ok := store.GroupOf("GetRandomPassword"); ok {
		t.Error("GroupOf(GetRandomPassword) has a group; the store never calls it")
	}
}

const skillPrefix = "quota/"

func skillName(i int) string { return fmt.Sprintf("%samzn1.ask.skill.%04d", skillPrefix, i) }

func value(i int) store.SkillSecret {
	return store.SkillSecret{SkillID: fmt.Sprintf("amzn1.ask.skill.%04d", i), ClientID: "client", ClientSecret: "secret"}
}

// TestPacedKeepsEveryQuota runs, at the documented quotas and on a synctest
// bubble's clock, a burst of each call the function makes: 120 creates, 120
// rotation schedules, 120 writes, 60 batch reads of 20 and 60 listings at
// once. The in-memory Secrets Manager enforces every quota; through
// NewPaced none of them is refused, and each group takes at least its
// quota's time. The same burst without pacing is refused: the fake binds.
func TestPacedKeepsEveryQuota(t *testing.T) {
	const n, reads = 120, 60
	burst := func(s *store.Store) (failed int) {
		var mu sync.Mutex
		fail := func(err error) {
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, err := s.CreateSkillSecret(context.Background(), skillName(i), "alias/k", value(i))
				fail(err)
				fail(s.ScheduleRotation(context.Background(), skillName(i), "arn:aws:lambda:us-east-1:123456789012:function:f", 30))
				v := value(i)
				v.ClientSecret = "changed"
				_, err = s.ReplaceSkill(context.Background(), store.SkillValue{SkillSecretRef: store.SkillSecretRef{Name: skillName(i)}, VersionID: "v1"}, v)
				fail(err)
			})
		}
		for range reads {
			wg.Go(func() {
				fail(s.ReadSkills(context.Background(), skillPrefix, nil, func([]store.SkillValue) {}))
				_, err := s.ListSkillSecrets(context.Background(), skillPrefix)
				fail(err)
			})
		}
		wg.Wait()
		return failed
	}

	t.Run("paced", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			mem := storetest.NewMem()
			mem.SetQuotas(store.DefaultQuotas())
			start := time.Now()
			if failed := burst(store.NewPaced(mem, store.Options{})); failed != 0 {
				t.Fatalf("%d calls failed; throttled: %v", failed, mem.Throttled())
			}
			if th := mem.Throttled(); len(th) != 0 {
				t.Fatalf("throttled: %v; want none", th)
			}
			// The writes are the longest group: n at PaceShare × 50 a second.
			rate := 50 * store.PaceShare
			min := time.Duration(float64(n-1) / rate * float64(time.Second))
			if took := time.Since(start); took < min {
				t.Fatalf("the burst took %s on the bubble's clock; the write quota needs at least %s", took, min)
			}
		})
	})
	t.Run("unpaced", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			mem := storetest.NewMem()
			mem.SetQuotas(store.DefaultQuotas())
			failed := burst(store.New(mem))
			th := mem.Throttled()
			for _, op := range []string{"CreateSecret", "RotateSecret", "PutSecretValue"} {
				if th[op] == 0 {
					t.Errorf("%s: none throttled without pacing; the fake does not bind (%v)", op, th)
				}
			}
			if failed == 0 {
				t.Error("no call failed without pacing")
			}
		})
	})
}

// TestNotSentPastTheDeadline: a call whose quota slot comes after its
// deadline less the reserve is not sent, and says why.
func TestNotSentPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := storetest.NewMem()
		mem.Create(skillName(1), `{}`)
		// Scaled down: one write every 2 s.
		s := store.NewPaced(mem, store.Options{Quotas: store.Quotas{store.GroupWrite: 0.5 / store.PaceShare}, Reserve: 500 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cur := store.SkillValue{SkillSecretRef: store.SkillSecretRef{Name: skillName(1)}, VersionID: "v1"}
		if _, err := s.ReplaceSkill(ctx, cur, value(1)); err != nil {
			t.Fatal(err)
		}
		v := value(1)
		v.ClientSecret = "again"
		_, err := s.ReplaceSkill(ctx, cur, v)
		if !errors.Is(err, store.ErrNoTimeLeft) || !strings.Contains(err.Error(), "PutSecretValue") || !strings.Contains(err.Error(), skillName(1)) {
			t.Fatalf("second write: %v; want not sent, naming the secret and PutSecretValue, ErrNoTimeLeft", err)
		}
		if mem.Versions(skillName(1)) != 2 {
			t.Errorf("versions = %d; want 2 (the second write not sent)", mem.Versions(skillName(1)))
		}
	})
}

// TestThrottledUntilTheDeadline: against moto behind a proxy that answers
// every PutSecretValue as Secrets Manager answers a throttled one, the
// store's client retries past the SDK's default 3 attempts and stops before
// the deadline less the reserve, with the last error (ThrottlingException)
// and ErrNoTimeLeft, naming the secret and the operation.
func TestThrottledUntilTheDeadline(t *testing.T) {
	moto := store.Moto()
	rec := awsrecord.StartT(t, moto.URL)
	var throttled atomic.Int32
	rec.SetThrottle(func(c awsrecord.Call) bool {
		if c.Operation == "PutSecretValue" {
			throttled.Add(1)
			return true
		}
		return false
	})
	name := fmt.Sprintf("deadline/%s/%d", t.Name(), time.Now().UnixNano()) // a new secret on each -count
	if _, err := moto.SecretsManager().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	cfg := moto.Config()
	cfg.BaseEndpoint = aws.String(rec.URL())
	const reserve = 300 * time.Millisecond
	// Injected backoff: 50 ms between attempts instead of the SDK's jittered
	// seconds, so the test takes about a second.
	s := store.NewFromConfig(cfg, store.Options{Reserve: reserve,
		Backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 50 * time.Millisecond, nil })})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, err := s.WriteSkill(ctx, name, value(1))
	if left := time.Until(deadline); left < 0 {
		t.Fatalf("WriteSkill returned %s after the deadline", -left)
	}
	for _, want := range []string{"write skill secret " + name, "PutSecretValue", "ThrottlingException", "Rate exceeded"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v; want it to say %q", err, want)
		}
	}
	// On the real clock, the deadline less the reserve comes either between
	// attempts (no retry started) or during one (cut); both say so. Which
	// one is pinned on a synctest clock: TestNoRetryPastTheReserve and
	// TestAttemptCutByTheDeadline.
	if !strings.Contains(err.Error(), "not retried after") && !strings.Contains(err.Error(), "cut after") {
		t.Fatalf("err = %v; want it to say the call was not retried, or cut, at the deadline less the reserve", err)
	}
	t.Logf("after %d attempts: %v", throttled.Load(), err)
	if !errors.Is(err, store.ErrNoTimeLeft) {
		t.Errorf("err = %v; want ErrNoTimeLeft", err)
	}
	if n := throttled.Load(); n <= int32(retry.DefaultMaxAttempts) {
		t.Errorf("%d attempts; want more than the SDK's default %d", n, retry.DefaultMaxAttempts)
	}
}

// inProcess is an SDK HTTP client that hands each request to h in the
// test's goroutine, never to the network, so a store built on it runs in a
// synctest bubble. at, when set, is told each request's time on the clock.
type inProcess struct {
	h  http.Handler
	at func(time.Time)
}

func (c inProcess) Do(req *http.Request) (*http.Response, error) {
	if c.at != nil {
		c.at(time.Now())
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	return w.Result(), nil
}

// throttlingConfig is an SDK config whose every Secrets Manager request is
// answered as a throttled one (awsrecord's SetThrottle, in process; nothing
// reaches moto), telling at when each request went.
func throttlingConfig(t *testing.T, at func(time.Time)) aws.Config {
	cfg := store.Moto().Config()
	cfg.HTTPClient = inProcess{h: throttler(t), at: at}
	return cfg
}

// throttler answers every request as Secrets Manager answers a throttled
// one.
func throttler(t *testing.T) http.Handler {
	rec := awsrecord.StartT(t, store.Moto().URL)
	rec.SetThrottle(func(awsrecord.Call) bool { return true })
	return rec
}

// TestRetriesArePaced: each retry of a throttled call waits for a slot of
// its quota group like the first attempt (and the first attempt only once),
// until no slot comes before the deadline less the reserve; the error says
// how many attempts were made and at what pace.
func TestRetriesArePaced(t *testing.T) {
	var at []time.Duration
	var start time.Time
	cfg := throttlingConfig(t, func(now time.Time) { at = append(at, now.Sub(start)) })
	synctest.Test(t, func(t *testing.T) {
		start = time.Now()
		// One listing every 2 s; 100 ms between attempts otherwise.
		quota := 0.5 / store.PaceShare
		s := store.NewFromConfig(cfg, store.Options{Quotas: store.Quotas{store.GroupList: quota}, Reserve: time.Second,
			Backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 100 * time.Millisecond, nil })})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.ListSkillSecrets(ctx, skillPrefix)
		if want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second}; !slices.Equal(at, want) {
			t.Errorf("attempts at %v; want %v (a slot every 2 s, none after 9 s)", at, want)
		}
		for _, want := range []string{"ThrottlingException", "not retried after 5 attempts", "no slot of the list quota", fmt.Sprintf("paced at %g)", quota*store.PaceShare)} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v; want it to say %q", err, want)
			}
		}
		if !errors.Is(err, store.ErrNoTimeLeft) {
			t.Errorf("err = %v; want ErrNoTimeLeft", err)
		}
	})
}

// TestNoRetryPastTheReserve: a retry whose backoff would end after the
// deadline less the reserve is not waited for: the call returns at once with
// the last answer.
func TestNoRetryPastTheReserve(t *testing.T) {
	var at []time.Duration
	var start time.Time
	cfg := throttlingConfig(t, func(now time.Time) { at = append(at, now.Sub(start)) })
	synctest.Test(t, func(t *testing.T) {
		start = time.Now()
		s := store.NewFromConfig(cfg, store.Options{Reserve: time.Second,
			Backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 3 * time.Second, nil })})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The second attempt goes at 3 s; a third would go at 6 s, past 4 s.
		_, err := s.ListSkillSecrets(ctx, skillPrefix)
		if took := time.Since(start); took != 3*time.Second || !slices.Equal(at, []time.Duration{0, 3 * time.Second}) {
			t.Errorf("attempts at %v, returned after %s; want attempts at 0s and 3s and no wait after", at, took)
		}
		if err == nil || !errors.Is(err, store.ErrNoTimeLeft) || !strings.Contains(err.Error(), "not retried after 2 attempts") || !strings.Contains(err.Error(), "ThrottlingException") {
			t.Errorf("err = %v; want ThrottlingException, not retried after 2 attempts, ErrNoTimeLeft", err)
		}
	})
}

// TestAttemptCutByTheDeadline: an attempt still unanswered at the deadline
// less the reserve is cut; after earlier attempts, the error says what the
// one before answered, not only "canceled".
func TestAttemptCutByTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answered int    // attempts answered (throttled) before one hangs
		want     string // in the error; "" when there is nothing to add
	}{
		{"first attempt", 0, ""},
		{"third attempt", 2, "cut after 3 attempts, the one before answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := store.Moto().Config()
			requests := 0
			cfg.HTTPClient = hangAfter{n: tc.answered, requests: &requests, h: throttler(t)}
			synctest.Test(t, func(t *testing.T) {
				s := store.NewFromConfig(cfg, store.Options{Reserve: time.Second,
					Backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 100 * time.Millisecond, nil })})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				start := time.Now()
				_, err := s.ListSkillSecrets(ctx, skillPrefix)
				if took := time.Since(start); took != 4*time.Second || err == nil || requests != tc.answered+1 {
					t.Fatalf("after %d requests, %s: %v; want attempt %d cut at 4 s", requests, took, err, tc.answered+1)
				}
				if tc.want == "" {
					if strings.Contains(err.Error(), "cut after") || !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("err = %v; want the deadline's error alone: no attempt was answered before", err)
					}
					return
				}
				if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ThrottlingException") || !errors.Is(err, store.ErrNoTimeLeft) {
					t.Errorf("err = %v; want %q, the ThrottlingException and ErrNoTimeLeft", err, tc.want)
				}
			})
		})
	}
}

// hangAfter answers the first n requests with h and holds every later one
// until its context ends.
type hangAfter struct {
	n        int
	requests *int
	h        http.Handler
}

func (c hangAfter) Do(req *http.Request) (*http.Response, error) {
	if *c.requests++; *c.requests > c.n {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return inProcess{h: c.h}.Do(req)
}

// TestDefaultReserve: with no Reserve, a second is kept back from the
// deadline; a Reserve given is kept instead.
func TestDefaultReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := storetest.NewMem()
		mem.Create(skillName(1), `{}`)
		for _, tc := range []struct {
			reserve time.Duration
			sent    bool
		}{{0, false}, {200 * time.Millisecond, true}} {
			s := store.NewPaced(mem, store.Options{Reserve: tc.reserve})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := s.ListSkillSecrets(ctx, skillPrefix)
			cancel()
			if sent := err == nil; sent != tc.sent || (!sent && !errors.Is(err, store.ErrNoTimeLeft)) {
				t.Errorf("Reserve %s, deadline in 500ms: err = %v; want sent=%v", tc.reserve, err, tc.sent)
			}
		}
	})
}
