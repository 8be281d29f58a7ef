package credsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
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
		id := throttledSkill(i)
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

// throttledSkill is the i-th skill of a throttledWorld.
func throttledSkill(i int) string {
	return fmt.Sprintf("amzn1.ask.skill.%08d-2222-4222-8222-222222222222", i)
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

// pacing returns the run's "smapi pacing" log line.
func pacing(tb testing.TB, logs *bytes.Buffer) map[string]any {
	tb.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "smapi pacing" {
			return m
		}
	}
	tb.Fatalf("no smapi pacing line in %s", logs)
	return nil
}

// TestThrottledRunSyncsEverySkill runs 300 skills at concurrency 16 against
// SMAPI limited to 5 requests a second for all skills, and at 20 a second,
// in a synctest bubble so that the fake's latency, its token bucket and the
// pacer run on the bubble's clock: throttling happens and is found broad,
// every skill syncs, and at most 10% of the SMAPI calls are answered 429.
//
// The run's first requests go unpaced (nothing limits them before broad
// throttling is seen): at 5 a second with a bucket of 5, 16 requests at once
// cost 11 429s, plus those sent while the first answers come in. With 100
// skills that alone is about 10%; 300 skills keep the bound meaningful for
// the rest of the run.
func TestThrottledRunSyncsEverySkill(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		skills int
	}{{5, 300}, {20, 300}} {
		t.Run(fmt.Sprintf("%g-per-second-%d-skills", tc.rate, tc.skills), func(t *testing.T) {
			fake := smapitest.New() // its listener stays outside the bubble
			defer fake.Close()
			synctest.Test(t, func(t *testing.T) {
				w := newThrottledWorld(t, fake, &http.Client{Transport: fake.Transport()}, tc.rate, tc.skills, 16, 50*time.Millisecond)
				var logs bytes.Buffer
				w.syncer.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
				start := time.Now()
				sum, requests, throttled := w.run(t)
				t.Logf("%d skills at %g/s: %d requests, %d throttled (%.1f%%), %s on the bubble's clock (N/R = %s)",
					tc.skills, tc.rate, requests, throttled, 100*float64(throttled)/float64(requests), time.Since(start),
					time.Duration(float64(tc.skills)/tc.rate*float64(time.Second)))
				if sum.Skills != tc.skills || sum.Updated != tc.skills || sum.Failed != 0 {
					t.Fatalf("summary: %d skills, %d updated, %d failed; want all %d updated", sum.Skills, sum.Updated, sum.Failed, tc.skills)
				}
				if throttled == 0 || throttled*10 > requests {
					t.Fatalf("%d of %d SMAPI requests were answered 429; want some, at most 10%%", throttled, requests)
				}
				if p := pacing(t, &logs); p["broad_throttling"] != true || p["throttled"] != float64(throttled) {
					t.Fatalf("pacing line %v; want broad throttling and the %d 429s", p, throttled)
				}
			})
		})
	}
}

// TestSporadicSkillThrottles: one skill in forty answers 429 (Retry-After:
// 1) once, with SMAPI's documented 25 requests a second per skill enforced,
// 400 skills at concurrency 8. Every skill syncs; each throttled skill is
// fetched exactly twice (a 429 does not use up its attempts and is not
// retried before its Retry-After); throttling is not found broad, so the
// shared rate is never cut; and the other skills do not wait for the
// throttled ones: the run ends within a Retry-After of the unthrottled
// pace (400 × 50 ms / 8 = 2.5 s) on the bubble's clock.
func TestSporadicSkillThrottles(t *testing.T) {
	fake := smapitest.New()
	defer fake.Close()
	synctest.Test(t, func(t *testing.T) {
		const skills = 400
		w := newThrottledWorld(t, fake, &http.Client{Transport: fake.Transport()}, 0, skills, 8, 50*time.Millisecond)
		fake.SetSkillRateLimit(smapitest.SkillRateLimit, smapitest.SkillRateLimit)
		var logs bytes.Buffer
		w.syncer.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		for i := 0; i < skills; i += 40 {
			fake.Script(throttledSkill(i), skillmessagingtest.Throttled("1"))
		}
		start := time.Now()
		sum, requests, throttled := w.run(t)
		took := time.Since(start)
		if sum.Updated != skills || sum.Failed != 0 {
			t.Fatalf("summary: %d updated, %d failed; want all %d updated", sum.Updated, sum.Failed, skills)
		}
		if throttled != skills/40 || requests != skills+skills/40 {
			t.Fatalf("%d requests, %d answered 429; want %d and %d", requests, throttled, skills+skills/40, skills/40)
		}
		for i := 0; i < skills; i += 40 {
			if n := fake.SkillRequests(throttledSkill(i)); n != 2 {
				t.Fatalf("skill %d fetched %d times; want 2", i, n)
			}
		}
		p := pacing(t, &logs)
		if p["broad_throttling"] != false || p["rate_cuts"] != 0.0 || p["throttled_skills"] != float64(skills/40) {
			t.Fatalf("pacing line %v; want %d throttled skills, no broad throttling, no cut", p, skills/40)
		}
		if ideal := skills * 50 * time.Millisecond / 8; took > ideal+time.Second+100*time.Millisecond {
			t.Fatalf("run took %s on the bubble's clock; want at most %s + one Retry-After", took, ideal)
		}
	})
}

// TestThrottledDiscovery: discovery's list pages share the run's pacer and
// the fake's rate limit with the credentials calls. 300 discovered skills
// (600 entries, 12 pages) without secrets, SMAPI limited to 5 requests a
// second, concurrency 16, in a synctest bubble: every secret is created and
// some but at most 10% of the SMAPI calls are answered 429 (see
// TestThrottledRunSyncsEverySkill for why not fewer skills).
func TestThrottledDiscovery(t *testing.T) {
	fake := smapitest.New()
	defer fake.Close()
	synctest.Test(t, func(t *testing.T) {
		w := newThrottledWorld(t, fake, &http.Client{Transport: fake.Transport()}, 5, 0, 16, 50*time.Millisecond)
		w.syncer.Discover = true
		w.syncer.Create = Creation{KMSKeyID: "alias/throttle", RotationDays: 30, RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:throttle"}
		fake.AddVendor("M1THROTTLE", "Throttle")
		const skills = 300
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
