package credsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
)

// throttledWorld is a run against the fake SMAPI with a shared rate limit
// (smapitest.Server.SetRateLimit: a token bucket of rate requests a second
// holding a second's worth, 429 with Retry-After: 1 when empty), answering
// after latency, with the Secrets Manager side in memory. hc carries the
// requests: the network, or the fake's in-process transport in a synctest
// bubble. The limit is set when the world is built, so call it inside the
// bubble.
type throttledWorld struct {
	fake   *smapitest.Server
	mem    *storetest.Mem
	syncer *Syncer
	skills int
}

func newThrottledWorld(tb testing.TB, fake *smapitest.Server, hc *http.Client, rate float64, skills, concurrency int, latency time.Duration) *throttledWorld {
	tb.Helper()
	fake.AddClient("throttle-client", "throttle-secret", "Atzr|throttle")
	fake.SetLatency(latency)
	mem := storetest.NewMem()
	mem.Create("lwa", `{"clientId":"throttle-client","clientSecret":"throttle-secret","refreshToken":"Atzr|throttle"}`)
	for i := range skills {
		id := fmt.Sprintf("amzn1.ask.skill.%08d-2222-4222-8222-222222222222", i)
		mem.Create("throttle/"+id, `{"skillId":"`+id+`"}`)
		fake.SetSkill(id, "client-"+id, fmt.Sprintf("secret-%d", i))
	}
	tokens := smapi.NewTokenSource(fake.TokenURL(), hc)
	client, err := smapi.NewClient(fake.SMAPIURL(), tokens, hc)
	if err != nil {
		tb.Fatal(err)
	}
	fake.SetRateLimit(rate, int(rate))
	return &throttledWorld{fake: fake, mem: mem, skills: skills, syncer: &Syncer{
		Store: store.New(mem), Client: client, Tokens: tokens, LWASecretID: "lwa", Prefix: "throttle/",
		Concurrency: concurrency, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}}
}

// run syncs every skill within a Lambda's longest timeout and returns the
// summary, the SMAPI requests and how many of them were answered 429.
func (w *throttledWorld) run(tb testing.TB) (sum *Summary, requests, throttled int) {
	tb.Helper()
	w.fake.ResetLog()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	sum, err := w.syncer.Run(ctx, Request{})
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	for _, r := range w.fake.Requests() {
		if r.SkillID != "" {
			requests++
		}
	}
	return sum, requests, w.fake.Throttled()
}

// TestThrottledRunSyncsEverySkill runs 100 skills at concurrency 16 against
// SMAPI limited to 5 requests a second (and 300 at 20), in a synctest bubble
// so that the fake's latency, its token bucket and the pacer run on the
// bubble's clock: every skill syncs, and at most 10% of the SMAPI calls are
// answered 429.
func TestThrottledRunSyncsEverySkill(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		skills int
	}{{5, 100}, {20, 300}} {
		t.Run(fmt.Sprintf("%g-per-second-%d-skills", tc.rate, tc.skills), func(t *testing.T) {
			fake := smapitest.New() // its listener stays outside the bubble
			defer fake.Close()
			synctest.Test(t, func(t *testing.T) {
				w := newThrottledWorld(t, fake, &http.Client{Transport: fake.Transport()}, tc.rate, tc.skills, 16, 50*time.Millisecond)
				start := time.Now()
				sum, requests, throttled := w.run(t)
				t.Logf("%d skills at %g/s: %d requests, %d throttled (%.1f%%), %s on the bubble's clock (N/R = %s)",
					tc.skills, tc.rate, requests, throttled, 100*float64(throttled)/float64(requests), time.Since(start),
					time.Duration(float64(tc.skills)/tc.rate*float64(time.Second)))
				if sum.Skills != tc.skills || sum.Updated != tc.skills || sum.Failed != 0 {
					t.Fatalf("summary: %d skills, %d updated, %d failed; want all %d updated", sum.Skills, sum.Updated, sum.Failed, tc.skills)
				}
				if throttled*10 > requests {
					t.Fatalf("%d of %d SMAPI requests were answered 429; want at most 10%%", throttled, requests)
				}
			})
		})
	}
}

// TestThrottledDiscovery: discovery's list pages share the run's pacer and
// the fake's rate limit with the credentials calls. 60 discovered skills
// (120 entries, three pages) without secrets, SMAPI limited to 5 requests a
// second, concurrency 16, in a synctest bubble: every secret is created and
// at most 10% of the SMAPI calls are answered 429.
func TestThrottledDiscovery(t *testing.T) {
	fake := smapitest.New()
	defer fake.Close()
	synctest.Test(t, func(t *testing.T) {
		w := newThrottledWorld(t, fake, &http.Client{Transport: fake.Transport()}, 5, 0, 16, 50*time.Millisecond)
		w.syncer.Discover = true
		w.syncer.Create = Creation{KMSKeyID: "alias/throttle", RotationDays: 30, RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:throttle"}
		fake.AddVendor("M1THROTTLE", "Throttle")
		const skills = 60
		for i := range skills {
			id := fmt.Sprintf("amzn1.ask.skill.%08d-3333-4333-8333-333333333333", i)
			fake.ListSkill("M1THROTTLE", id, "development", "live")
			fake.SetSkill(id, "client-"+id, fmt.Sprintf("secret-%d", i))
		}
		w.fake.ResetLog()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		sum, err := w.syncer.Run(ctx, Request{})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if sum.Skills != skills || sum.Created != skills || sum.Failed != 0 {
			t.Fatalf("summary: %+v; want all %d created", sum, skills)
		}
		requests := 0
		for _, r := range fake.Requests() {
			if r.Path != smapitest.TokenPath {
				requests++
			}
		}
		if throttled := fake.Throttled(); throttled == 0 || throttled*10 > requests {
			t.Fatalf("%d of %d SMAPI requests were answered 429; want some, at most 10%%", throttled, requests)
		}
	})
}
