package credsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
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
			callsBefore := mem.Calls()
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
			for op, n := range mem.Calls() {
				calls += n - callsBefore[op]
			}
			b.ReportMetric(float64(smapiRequests)/float64(skills*b.N), "smapi-requests/skill")
			b.ReportMetric(float64(calls)/float64(skills*b.N), "secretsmanager-calls/skill")
		})
	}
}
