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
