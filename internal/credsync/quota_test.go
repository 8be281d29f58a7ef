package credsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/awsrecord"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// scaledQuotas are Secrets Manager's documented request quotas
// (store.QuotasPage) scaled down to half for the tests against moto, so
// that 80 skills meet them within seconds: writes, creates, rotation
// schedules and tags 25 a second, batch reads and listings 50, reads 5,000.
var scaledQuotas = store.DefaultQuotas().Scaled(0.5)

// fastBackoff replaces the SDK's retry delays (jittered, 1 s and up for
// throttling) where a test retries many times: 20 ms each.
var fastBackoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 20 * time.Millisecond, nil })

// underQuotas routes the syncer's Secrets Manager calls through a proxy in
// front of moto that refuses, as Secrets Manager does (HTTP 400
// ThrottlingException "Rate exceeded"), every call beyond q and every call
// extra (if not nil) picks, and gives the syncer the store the function
// builds (store.NewFromConfig) paced at q. The test's own setup calls (e.api)
// bypass the proxy. It returns the proxy and the quota it enforces.
func (e *env) underQuotas(q store.Quotas, opts store.Options, extra func(awsrecord.Call) bool) (*awsrecord.Recorder, *storetest.Quota) {
	e.t.Helper()
	rec := awsrecord.StartT(e.t, moto.URL)
	quota := storetest.NewQuota(q)
	rec.SetThrottle(func(c awsrecord.Call) bool {
		return (extra != nil && extra(c)) || !quota.Allow(c.Operation)
	})
	cfg := moto.Config()
	cfg.BaseEndpoint = aws.String(rec.URL())
	opts.Quotas = q
	e.syncer.Store = store.NewFromConfig(cfg, opts)
	return rec, quota
}

// count returns how many recorded calls of op were answered with status.
func count(rec *awsrecord.Recorder, op string, status int) int {
	n := 0
	for _, c := range rec.Calls() {
		if c.Operation == op && c.Status == status {
			n++
		}
	}
	return n
}

// TestFirstRunAtConcurrency64UnderQuotas: 80 skills written for the first
// time at concurrency 64, every quota enforced (scaled down to half, see
// scaledQuotas): every skill is written, none fails.
func TestFirstRunAtConcurrency64UnderQuotas(t *testing.T) {
	const skills = 80
	ids := make([]int, skills)
	for i := range ids {
		ids[i] = i + 1
	}
	e := newEnv(t, ids...)
	e.syncer.Concurrency = 64
	rec, quota := e.underQuotas(scaledQuotas, store.Options{}, nil)
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, skills, skills, 0, 0)
	for _, i := range ids {
		e.wantSkill(i, 1)
	}
	if n := count(rec, "PutSecretValue", http.StatusOK); n != skills {
		t.Errorf("%d PutSecretValue answered 200; want %d", n, skills)
	}
	t.Logf("throttled by the proxy: %v", quota.Throttled())
}

// TestDiscoveryFirstRunUnderQuotas: a discovery run that creates the
// secrets of 64 skills and schedules their rotation (CreateSecret with its
// tag, RotateSecret) at concurrency 64, every quota enforced (scaled down,
// see scaledQuotas): every secret is created with its schedule, none fails.
func TestDiscoveryFirstRunUnderQuotas(t *testing.T) {
	const skills = 64
	e := newEnv(t)
	e.discovering()
	for i := 1; i <= skills; i++ {
		e.fake.ListSkill(vendorA, skill(i), "development")
		e.known(i)
	}
	e.syncer.Concurrency = 64
	rec, quota := e.underQuotas(scaledQuotas, store.Options{}, nil)
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skills != skills || sum.Created != skills || sum.Updated != skills || sum.Failed != 0 {
		t.Fatalf("summary = %+v; want %d created, 0 failed", sum, skills)
	}
	refs, err := store.New(e.api).ListSkillSecrets(context.Background(), e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != skills {
		t.Fatalf("%d secrets under the prefix; want %d", len(refs), skills)
	}
	for _, r := range refs {
		if !r.RotationEnabled || !r.Managed {
			t.Errorf("%s: rotation %v, managed %v; want both", r.Name, r.RotationEnabled, r.Managed)
		}
	}
	for _, op := range []string{"CreateSecret", "RotateSecret"} {
		if n := count(rec, op, http.StatusOK); n != skills {
			t.Errorf("%d %s answered 200; want %d", n, op, skills)
		}
	}
	t.Logf("throttled by the proxy: %v", quota.Throttled())
}

// TestReadThrottlingBurstIsSurvived: the first 8 BatchGetSecretValue and
// the first 8 ListSecrets requests of a discovery run are answered
// ThrottlingException (more than the SDK's default 3 attempts), every quota
// enforced besides: the run retries through the burst and every skill syncs.
func TestReadThrottlingBurstIsSurvived(t *testing.T) {
	const skills, burst = 45, 8 // 45 skills: three batch pages
	ids := make([]int, skills)
	for i := range ids {
		ids[i] = i + 1
	}
	e := newEnv(t, ids...)
	e.discovering()
	var batch, list atomic.Int32
	rec, _ := e.underQuotas(scaledQuotas, store.Options{Backoff: fastBackoff}, func(c awsrecord.Call) bool {
		switch c.Operation {
		case "BatchGetSecretValue":
			return batch.Add(1) <= burst
		case "ListSecrets":
			return list.Add(1) <= burst
		}
		return false
	})
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, skills, skills, 0, 0)
	if n := count(rec, "BatchGetSecretValue", http.StatusBadRequest); n != burst || burst <= retry.DefaultMaxAttempts {
		t.Errorf("%d BatchGetSecretValue throttled; want the burst of %d (> %d)", n, burst, retry.DefaultMaxAttempts)
	}
	t.Logf("ListSecrets throttled: %d", count(rec, "ListSecrets", http.StatusBadRequest))
}

// TestThrottledWritesStopBeforeTheDeadline: with every PutSecretValue
// answered ThrottlingException, the writes are retried until the deadline
// less the store's reserve and no further; the run ends before the
// invocation's deadline with each skill failed, naming the skill, the
// operation and why it stopped.
func TestThrottledWritesStopBeforeTheDeadline(t *testing.T) {
	e := newEnv(t, 1, 2)
	e.syncer.Reserve, e.syncer.MinFetch = time.Second, 100*time.Millisecond
	rec, _ := e.underQuotas(scaledQuotas, store.Options{Reserve: 500 * time.Millisecond, Backoff: fastBackoff},
		func(c awsrecord.Call) bool { return c.Operation == "PutSecretValue" })
	sum, late, err := e.runWithin(3*time.Second, `{}`)
	if late != "" {
		t.Fatal(late)
	}
	if err == nil || sum.Failed != 2 {
		t.Fatalf("summary %+v, err %v; want both skills failed", sum, err)
	}
	for i, r := range sum.Results {
		for _, want := range []string{"skill " + skill(i+1), "PutSecretValue", "ThrottlingException", "no time left before the invocation's deadline"} {
			if !strings.Contains(r.Error, want) {
				t.Errorf("skill %d error %q; want it to say %q", i+1, r.Error, want)
			}
		}
	}
	if n := count(rec, "PutSecretValue", http.StatusBadRequest); n <= 2*retry.DefaultMaxAttempts {
		t.Errorf("%d throttled PutSecretValue for 2 skills; want more than the SDK's default %d attempts each", n, retry.DefaultMaxAttempts)
	}
}

// TestRealQuotasInMemory runs at Secrets Manager's documented quotas
// themselves (store.DefaultQuotas, not scaled), with the in-memory Secrets
// Manager enforcing them, in a synctest bubble so that the quotas' seconds
// pass on the bubble's clock: a first run of 300 skills at concurrency 64
// (300 writes: at least 6 s at 50 a second) and a discovery first run
// creating and scheduling 300 secrets both end with 0 failed and nothing
// throttled.
func TestRealQuotasInMemory(t *testing.T) {
	const skills = 300
	for _, discovery := range []bool{false, true} {
		t.Run(fmt.Sprintf("discovery=%v", discovery), func(t *testing.T) {
			fake := smapitest.New() // its listener stays outside the bubble
			defer fake.Close()
			synctest.Test(t, func(t *testing.T) {
				mem, s := quotaWorld(t, fake, &http.Client{Transport: fake.Transport()}, skills, discovery)
				s.Concurrency = 64
				start := time.Now()
				sum, err := s.Run(context.Background(), Request{})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Skills != skills || sum.Updated != skills || sum.Failed != 0 || (discovery && sum.Created != skills) {
					t.Fatalf("summary: %d skills, %d updated, %d created, %d failed; want all %d", sum.Skills, sum.Updated, sum.Created, sum.Failed, skills)
				}
				if th := mem.Throttled(); len(th) != 0 {
					t.Fatalf("throttled: %v; want none", th)
				}
				t.Logf("%d skills in %s on the bubble's clock (N/50 s = %s)", skills, time.Since(start), time.Duration(skills)*time.Second/50)
			})
		})
	}
}

// quotaWorld is the fake SMAPI (answering at once) and an in-memory Secrets
// Manager enforcing the documented quotas, with the LWA secret and the
// skills' secrets (or, with discovery, skills a vendor lists and no
// secrets), and a syncer over a store paced at the quotas (store.NewPaced).
func quotaWorld(tb testing.TB, fake *smapitest.Server, hc *http.Client, skills int, discovery bool) (*storetest.Mem, *Syncer) {
	tb.Helper()
	fake.AddClient("quota-client", "quota-secret", "Atzr|quota")
	mem := storetest.NewMem()
	mem.Create("lwa", `{"clientId":"quota-client","clientSecret":"quota-secret","refreshToken":"Atzr|quota"}`)
	fake.AddVendor("M1QUOTA", "Quota")
	for i := range skills {
		id := fmt.Sprintf("amzn1.ask.skill.%08d-4444-4444-8444-444444444444", i)
		if discovery {
			fake.ListSkill("M1QUOTA", id, "development")
		} else {
			mem.Create("quota/"+id, `{"skillId":"`+id+`"}`)
		}
		fake.SetSkill(id, "client-"+id, fmt.Sprintf("secret-%d", i))
	}
	mem.SetQuotas(store.DefaultQuotas())
	tokens := smapi.NewTokenSource(fake.TokenURL(), hc)
	client, err := smapi.NewClient(fake.SMAPIURL(), tokens, hc)
	if err != nil {
		tb.Fatal(err)
	}
	return mem, &Syncer{Store: store.NewPaced(mem, store.Options{}), Client: client, Tokens: tokens, LWASecretID: "lwa", Prefix: "quota/",
		Discover: discovery, Create: Creation{KMSKeyID: "alias/quota", RotationDays: 30, RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:quota"},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}
