package credsync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// BenchmarkQuotas runs against the in-memory Secrets Manager enforcing every
// documented request quota at its real rate (store.DefaultQuotas, from
// store.QuotasPage), the fake SMAPI answering at once, concurrency 64, and
// reports each run's wall time (setting up the in-memory world included:
// milliseconds) against the least time its binding quota
// allows:
//
//   - first-run-500: 500 skills written for the first time, 500
//     PutSecretValue at 50 a second: at least 10 s;
//   - discovery-500: 500 discovered skills whose secrets are created and
//     scheduled for rotation, 500 CreateSecret and 500 RotateSecret at 50 a
//     second each (in parallel): at least 10 s;
//   - unchanged-2000: 2,000 skills whose secrets already hold their
//     credentials, 100 BatchGetSecretValue at 100 a second: at least 1 s.
//
// x-min is wall ÷ min; "throttled" counts the calls the fake refused, "failed"
// the skills that failed (both should be 0). Run: make bench
func BenchmarkQuotas(b *testing.B) {
	for _, tc := range []struct {
		name      string
		skills    int
		discovery bool
		unchanged bool
		calls     int     // calls of the binding quota
		rate      float64 // its documented rate
	}{
		{"first-run-500", 500, false, false, 500, 50},
		{"discovery-500", 500, true, false, 500, 50},
		{"unchanged-2000", 2000, false, true, 2000 / store.BatchSize, 100},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var failed, throttled int
			wall := measure(b, tc.skills, func() {
				fake := smapitest.New()
				defer fake.Close()
				mem, s := quotaWorld(b, fake, smapi.NewHTTPClient(10*time.Second), tc.skills, tc.discovery)
				s.Concurrency = 64
				if tc.unchanged {
					for i := range tc.skills {
						id := fmt.Sprintf("amzn1.ask.skill.%08d-4444-4444-8444-444444444444", i)
						mem.Create("quota/"+id, store.SkillSecret{SkillID: id, ClientID: "client-" + id, ClientSecret: secret.Value(fmt.Sprintf("secret-%d", i))}.Value())
					}
				}
				sum, err := s.Run(context.Background(), Request{})
				if sum == nil || sum.Skills != tc.skills {
					b.Fatalf("run: %v, %+v", err, sum)
				}
				failed += sum.Failed
				for _, n := range mem.Throttled() {
					throttled += n
				}
			})
			least := time.Duration(float64(tc.calls) / tc.rate * float64(time.Second))
			b.ReportMetric(least.Seconds(), "min-s")
			b.ReportMetric(float64(wall)/float64(least), "x-min")
			b.ReportMetric(float64(throttled)/float64(b.N), "throttled")
			b.ReportMetric(float64(failed)/float64(b.N), "failed")
		})
	}
}
