package credsync

import (
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
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// BenchmarkSync1000 syncs 1,000 skills against the fake SMAPI answering each
// request after 50 ms, with the Secrets Manager side in memory. It reports
// the wall time against the ideal 1,000 × 50 ms / concurrency, allocations
// per skill (both ends of each HTTP exchange: the fake runs in-process) and
// the peak heap. Run: make bench
func BenchmarkSync1000(b *testing.B) {
	const skills, latency = 1000, 50 * time.Millisecond
	for _, conc := range []int{1, 8, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			fake := smapitest.New()
			defer fake.Close()
			fake.AddClient("bench-client", "bench-secret", "Atzr|bench")
			fake.SetLatency(latency)
			mem := storetest.NewMem()
			mem.Create("lwa", `{"clientId":"bench-client","clientSecret":"bench-secret","refreshToken":"Atzr|bench"}`)
			for i := range skills {
				id := fmt.Sprintf("amzn1.ask.skill.%08d-0000-4000-8000-000000000000", i)
				mem.Create("bench/"+id, `{"skillId":"`+id+`"}`)
				fake.SetSkill(id, "client-"+id, fmt.Sprintf("secret-%d", i))
			}
			hc := smapi.NewHTTPClient(10 * time.Second)
			tokens := smapi.NewTokenSource(fake.TokenURL(), hc)
			client, err := smapi.NewClient(fake.SMAPIURL(), tokens, hc)
			if err != nil {
				b.Fatal(err)
			}
			s := &Syncer{Store: store.New(mem), Client: client, Tokens: tokens, LWASecretID: "lwa", Prefix: "bench/",
				Concurrency: conc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}

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
				sum, err := s.Run(context.Background(), Request{})
				if err != nil || sum.Skills != skills {
					b.Fatalf("sync: %v, %+v", err, sum)
				}
			}
			wall := time.Since(start) / time.Duration(b.N)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			close(stop)
			wg.Wait()

			ideal := skills * latency / time.Duration(conc)
			b.ReportMetric(wall.Seconds(), "wall-s")
			b.ReportMetric(ideal.Seconds(), "ideal-s")
			b.ReportMetric(float64(wall)/float64(ideal), "x-ideal")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(skills*b.N), "allocs/skill")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}

// BenchmarkThrottled syncs 100 and 300 skills at concurrency 16 against the
// fake SMAPI limited to 5 and to 20 requests a second (a token bucket holding
// a second's worth; 429 with Retry-After: 1 when empty), answering after
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
