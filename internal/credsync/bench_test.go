package credsync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// benchSkill is the i-th benchmark skill id.
func benchSkill(i int) string {
	return fmt.Sprintf("amzn1.ask.skill.%08d-0000-4000-8000-000000000000", i)
}

// benchWorld is a fake SMAPI answering after latency and an in-memory
// Secrets Manager holding the LWA secret, with a syncer over them.
func benchWorld(b *testing.B, latency time.Duration, conc int) (*smapitest.Server, *storetest.Mem, *Syncer) {
	b.Helper()
	fake := smapitest.New()
	b.Cleanup(fake.Close)
	fake.AddClient("bench-client", "bench-secret", "Atzr|bench")
	fake.SetLatency(latency)
	mem := storetest.NewMem()
	mem.Create("lwa", `{"clientId":"bench-client","clientSecret":"bench-secret","refreshToken":"Atzr|bench"}`)
	hc := smapi.NewHTTPClient(10 * time.Second)
	tokens := smapi.NewTokenSource(fake.TokenURL(), hc)
	client, err := smapi.NewClient(fake.SMAPIURL(), tokens, hc)
	if err != nil {
		b.Fatal(err)
	}
	s := &Syncer{Store: store.New(mem), Client: client, Tokens: tokens, LWASecretID: "lwa", Prefix: "bench/",
		Concurrency: conc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return fake, mem, s
}

// measure runs run b.N times and reports its wall time, the allocations per
// skill and the peak heap in use, sampled every 10 ms.
func measure(b *testing.B, skills int, run func()) time.Duration {
	b.Helper()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		run()
	}
	wall := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	close(stop)
	wg.Wait()
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(skills*b.N), "allocs/skill")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	return wall
}

// BenchmarkSync1000 syncs 1,000 skills against the fake SMAPI answering each
// request after 50 ms, with the Secrets Manager side in memory. It reports
// the wall time against the ideal 1,000 × 50 ms / concurrency, allocations
// per skill (both ends of each HTTP exchange: the fake runs in-process) and
// the peak heap. Run: make bench
func BenchmarkSync1000(b *testing.B) {
	const skills, latency = 1000, 50 * time.Millisecond
	for _, conc := range []int{1, 8, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			fake, mem, s := benchWorld(b, latency, conc)
			for i := range skills {
				mem.Create("bench/"+benchSkill(i), `{"skillId":"`+benchSkill(i)+`"}`)
				fake.SetSkill(benchSkill(i), "client-"+benchSkill(i), fmt.Sprintf("secret-%d", i))
			}
			wall := measure(b, skills, func() {
				sum, err := s.Run(context.Background(), Request{})
				if err != nil || sum.Skills != skills {
					b.Fatalf("sync: %v, %+v", err, sum)
				}
			})
			ideal := skills * latency / time.Duration(conc)
			b.ReportMetric(ideal.Seconds(), "ideal-s")
			b.ReportMetric(float64(wall)/float64(ideal), "x-ideal")
		})
	}
}

// BenchmarkPacing puts the SMAPI pacing's figures side by side, against the
// fake SMAPI answering after 50 ms with SMAPI's documented 25 requests a
// second per skill enforced, at the default concurrency of 8, Secrets
// Manager in memory:
//
//   - unthrottled/skills=N: a run of N skills against the ideal
//     N × 50 ms / 8 (x-ideal; the target is at most 1.15 for 200 skills);
//   - sporadic/skills=N: one skill in forty answers 429 (Retry-After: 1)
//     once, against the same run without (x-none; the target is at most
//     1.2), with the 429s and whether throttling was found broad (it must
//     not be: broad-throttling 0, rate-cuts 0).
//
// BenchmarkThrottled has the runs under a global SMAPI limit. Run: make bench
func BenchmarkPacing(b *testing.B) {
	const latency, conc = 50 * time.Millisecond, 8
	world := func(b *testing.B, skills int) (*smapitest.Server, *Syncer, *bytes.Buffer) {
		fake, mem, s := benchWorld(b, latency, conc)
		fake.SetSkillRateLimit(smapitest.SkillRateLimit, smapitest.SkillRateLimit)
		for i := range skills {
			mem.Create("bench/"+benchSkill(i), `{"skillId":"`+benchSkill(i)+`"}`)
			fake.SetSkill(benchSkill(i), "client-"+benchSkill(i), fmt.Sprintf("secret-%d", i))
		}
		var logs bytes.Buffer
		s.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		return fake, s, &logs
	}
	run := func(b *testing.B, s *Syncer, skills int) time.Duration {
		start := time.Now()
		sum, err := s.Run(context.Background(), Request{})
		if err != nil || sum.Skills != skills || sum.Failed != 0 {
			b.Fatalf("sync: %v, %+v", err, sum)
		}
		return time.Since(start)
	}
	for _, skills := range []int{200, 2000} {
		b.Run(fmt.Sprintf("unthrottled/skills=%d", skills), func(b *testing.B) {
			_, s, _ := world(b, skills)
			wall := measure(b, skills, func() { run(b, s, skills) })
			ideal := time.Duration(skills) * latency / conc
			b.ReportMetric(ideal.Seconds(), "ideal-s")
			b.ReportMetric(float64(wall)/float64(ideal), "x-ideal")
		})
	}
	for _, skills := range []int{1000, 2000} {
		b.Run(fmt.Sprintf("sporadic/skills=%d", skills), func(b *testing.B) {
			for range b.N {
				fake, s, logs := world(b, skills)
				none := run(b, s, skills)
				for i := 0; i < skills; i += 40 {
					fake.Script(benchSkill(i), skillmessagingtest.Throttled("1"))
				}
				fake.ResetLog()
				logs.Reset()
				wall := run(b, s, skills)
				p := pacing(b, logs)
				b.ReportMetric(none.Seconds(), "wall-none-s")
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(float64(wall)/float64(none), "x-none")
				b.ReportMetric(float64(fake.Throttled()), "429s")
				b.ReportMetric(map[bool]float64{true: 1}[p["broad_throttling"] == true], "broad-throttling")
				b.ReportMetric(p["rate_cuts"].(float64), "rate-cuts")
			}
		})
	}
}

// BenchmarkDiscover2000 is a vendor-discovery run over 2,000 skills, each
// listed in two stages (4,000 entries, 80 pages of 50), at the default
// concurrency of 8 with SMAPI answering after 50 ms. "first" starts with no
// skill secret: the function creates all 2,000 and schedules their rotation;
// "second" runs again over them and writes nothing. It reports SMAPI
// requests and Secrets Manager calls per skill. Run: make bench
func BenchmarkDiscover2000(b *testing.B) {
	const skills, latency, conc = 2000, 50 * time.Millisecond, 8
	for _, name := range []string{"first", "second"} {
		b.Run(name, func(b *testing.B) {
			fake, mem, s := benchWorld(b, latency, conc)
			s.Discover = true
			s.Create = Creation{KMSKeyID: "alias/bench", RotationDays: 30, RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:bench"}
			fake.AddVendor("M1BENCH", "Bench")
			for i := range skills {
				fake.ListSkill("M1BENCH", benchSkill(i), "development", "live")
				fake.SetSkill(benchSkill(i), "client-"+benchSkill(i), fmt.Sprintf("secret-%d", i))
			}
			run := func() *Summary {
				sum, err := s.Run(context.Background(), Request{})
				if err != nil || sum.Skills != skills {
					b.Fatalf("sync: %v, %+v", err, sum)
				}
				return sum
			}
			if name == "second" {
				run()
			}
			fake.ResetLog()
			mem.Calls() // counts from here
			var sum *Summary
			measure(b, skills, func() { sum = run() })
			if name == "first" && b.N == 1 && sum.Created != skills || name == "second" && (sum.Created != 0 || sum.Updated != 0) {
				b.Fatalf("%s run: summary %+v", name, sum)
			}
			var smapiRequests int
			for _, r := range fake.Requests() {
				if r.Path != smapitest.TokenPath {
					smapiRequests++
				}
			}
			calls := 0
			for _, n := range mem.Calls() {
				calls += n
			}
			b.ReportMetric(float64(smapiRequests)/float64(skills*b.N), "smapi-requests/skill")
			b.ReportMetric(float64(calls)/float64(skills*b.N), "secretsmanager-calls/skill")
		})
	}
}

// BenchmarkThrottled syncs 100 and 300 skills at concurrency 16 against the
// fake SMAPI limited to 5 and to 20 requests a second for all skills
// together (a token bucket holding a second's worth; 429 with Retry-After: 1
// when empty) beside the documented 25 a second per skill, answering after
// 50 ms, over loopback, with the Secrets Manager side in memory. It reports
// the skills synced, the wall time against N/R, the share of SMAPI calls
// answered 429, and the Secrets Manager calls of the run and of a second,
// unchanged run. BENCH_PACING=off runs without the pacer, as before it.
// Run: make bench
func BenchmarkThrottled(b *testing.B) {
	for _, rate := range []float64{5, 20} {
		for _, skills := range []int{100, 300} {
			b.Run(fmt.Sprintf("rate=%g/skills=%d", rate, skills), func(b *testing.B) {
				for range b.N {
					fake := smapitest.New()
					w := newThrottledWorld(b, fake, smapi.NewHTTPClient(10*time.Second), rate, skills, 16, 50*time.Millisecond)
					fake.SetSkillRateLimit(smapitest.SkillRateLimit, smapitest.SkillRateLimit)
					if os.Getenv("BENCH_PACING") == "off" {
						w.syncer.NewPacer = func() *smapi.Pacer { return nil }
					}
					w.mem.Calls()
					start := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
					sum, _ := w.syncer.Run(ctx, Request{})
					wall := time.Since(start)
					cancel()
					first := total(w.mem.Calls())
					requests, throttled := 0, fake.Throttled()
					for _, r := range fake.Requests() {
						if r.SkillID != "" {
							requests++
						}
					}
					fake.SetRateLimit(0, 0)
					if _, err := w.syncer.Run(context.Background(), Request{}); err != nil {
						b.Fatalf("unchanged run: %v", err)
					}
					unchanged := total(w.mem.Calls())
					fake.Close()

					ideal := time.Duration(float64(skills) / rate * float64(time.Second))
					b.ReportMetric(float64(sum.Updated), "synced")
					b.ReportMetric(float64(sum.Failed), "failed")
					b.ReportMetric(wall.Seconds(), "wall-s")
					b.ReportMetric(ideal.Seconds(), "N/R-s")
					b.ReportMetric(float64(wall)/float64(ideal), "x-N/R")
					b.ReportMetric(100*float64(throttled)/float64(requests), "429-%")
					b.ReportMetric(float64(requests), "smapi-calls")
					b.ReportMetric(float64(first), "sm-calls-first")
					b.ReportMetric(float64(unchanged), "sm-calls-unchanged")
				}
			})
		}
	}
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// BenchmarkMoto200 syncs 200 skills against moto's Secrets Manager (a real
// server, each call a few milliseconds) and the fake SMAPI answering at
// once, at the default concurrency 8: a first run that writes every skill,
// then an unchanged run. It reports each run's wall time and Secrets Manager
// calls. Run: make bench
func BenchmarkMoto200(b *testing.B) {
	const skills = 200
	for range b.N {
		fake := smapitest.New()
		fake.AddClient(lwaClientID, lwaClientSecret, lwaRefreshToken)
		api := moto.SecretsManager()
		prefix := fmt.Sprintf("bench-moto-%d/", time.Now().UnixNano())
		mustCreate := func(name, value string) {
			if _, err := api.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}); err != nil {
				b.Fatal(err)
			}
		}
		mustCreate(prefix+"lwa", fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"refreshToken":%q}`, lwaClientID, lwaClientSecret, lwaRefreshToken))
		for i := range skills {
			mustCreate(prefix+"skills/"+skill(i), fmt.Sprintf(`{"skillId":%q}`, skill(i)))
			fake.SetSkill(skill(i), "client", skillSecret(i, 1))
		}
		hc := smapi.NewHTTPClient(10 * time.Second)
		tokens := smapi.NewTokenSource(fake.TokenURL(), hc)
		client, err := smapi.NewClient(fake.SMAPIURL(), tokens, hc)
		if err != nil {
			b.Fatal(err)
		}
		calls := &callCounter{API: api, n: map[string]int{}}
		s := &Syncer{Store: store.New(calls), Client: client, Tokens: tokens, LWASecretID: prefix + "lwa", Prefix: prefix + "skills/",
			Concurrency: 8, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		for _, name := range []string{"first", "unchanged"} {
			start := time.Now()
			sum, err := s.Run(context.Background(), Request{})
			if err != nil || sum.Skills != skills {
				b.Fatalf("%s run: %v, %+v", name, err, sum)
			}
			b.ReportMetric(time.Since(start).Seconds(), name+"-wall-s")
			b.ReportMetric(float64(total(calls.counts())), "sm-calls-"+name)
		}
		fake.Close()
	}
}
