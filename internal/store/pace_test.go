package store_test

import (
	"context"
	"errors"
	"fmt"
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
	// Usually the retryer sees no time for another attempt ("not retried
	// after N attempts"); on a loaded machine an attempt may still be in
	// flight at the deadline less the reserve, and the store cuts it ("cut
	// after N attempts"). Either way it names the attempts and the last
	// answer.
	if !strings.Contains(err.Error(), "not retried after") && !strings.Contains(err.Error(), "cut after") {
		t.Fatalf("err = %v; want it to say how many attempts were made (not retried after / cut after)", err)
	}
	t.Logf("after %d attempts: %v", throttled.Load(), err)
	if !errors.Is(err, store.ErrNoTimeLeft) {
		t.Errorf("err = %v; want ErrNoTimeLeft", err)
	}
	if n := throttled.Load(); n <= int32(retry.DefaultMaxAttempts) {
		t.Errorf("%d attempts; want more than the SDK's default %d", n, retry.DefaultMaxAttempts)
	}
}
