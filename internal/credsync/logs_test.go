package credsync

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/logbuf"
)

// TestLogPacingRoundsTheRate: the pacing line gives the shared rate to one
// decimal.
func TestLogPacingRoundsTheRate(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want string
	}{
		{4.26, `"rate_per_second":4.3`},
		{12.04, `"rate_per_second":12`},
		{0, `"rate_per_second":0`},
	} {
		logs := &logbuf.Buffer{}
		s := &Syncer{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
		s.logPacing(context.Background(), smapi.PacerStats{Rate: tc.rate})
		if !strings.Contains(logs.String(), tc.want+"}") {
			t.Errorf("rate %v logged %s; want %s", tc.rate, logs.String(), tc.want)
		}
	}
}

// TestLogSkillSaysCreatedOnlyForCreated: a skill's line carries
// "created": true exactly when the run created its secret.
func TestLogSkillSaysCreatedOnlyForCreated(t *testing.T) {
	for _, created := range []bool{false, true} {
		logs := &logbuf.Buffer{}
		s := &Syncer{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
		s.logSkill(context.Background(), Result{SkillID: skill(1), Status: StatusUpdated, Created: created}, 1, time.Millisecond)
		if got := strings.Contains(logs.String(), `"created":true`); got != created {
			t.Errorf("created %v: line %s", created, logs.String())
		}
	}
}

// TestLogSkillGivesAReasonOnlyWhenThereIsOne: "reason" appears exactly when
// the result has one.
func TestLogSkillGivesAReasonOnlyWhenThereIsOne(t *testing.T) {
	for _, reason := range []string{"", "no credentials at Amazon"} {
		logs := &logbuf.Buffer{}
		s := &Syncer{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
		s.logSkill(context.Background(), Result{SkillID: skill(1), Status: StatusSkipped, Reason: reason}, 1, time.Millisecond)
		if got, want := strings.Contains(logs.String(), `"reason":`), reason != ""; got != want || (want && !strings.Contains(logs.String(), `"reason":"`+reason+`"`)) {
			t.Errorf("reason %q: line %s", reason, logs.String())
		}
	}
}
