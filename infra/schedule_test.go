package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		expr string
		gap  time.Duration
	}{
		{"rate(1 minute)", time.Minute},
		{"rate(5 minutes)", 5 * time.Minute},
		{"rate(1 hour)", time.Hour},
		{"rate(12 hours)", 12 * time.Hour},
		{"rate(1 day)", 24 * time.Hour},
		{"rate(3 days)", 72 * time.Hour},
		{"rate(84 hours)", 84 * time.Hour},
		{" rate(6 hours) ", 6 * time.Hour},
		// Every day at 08:00 UTC.
		{"cron(0 8 * * ? *)", 24 * time.Hour},
		// Twice a day: 03:00 and 15:00, or 03:00 and 04:00 (gap 23 hours).
		{"cron(0 3,15 * * ? *)", 12 * time.Hour},
		{"cron(0 3-4 * * ? *)", 23 * time.Hour},
		// Every 15 minutes.
		{"cron(0/15 * * * ? *)", 15 * time.Minute},
		// Weekdays 09:00-17:45 every 15 minutes: Friday 17:45 to Monday 09:00.
		{"cron(0/15 9-17 ? * MON-FRI *)", 63*time.Hour + 15*time.Minute},
		{"cron(0/15 9-17 ? * 2-6 *)", 63*time.Hour + 15*time.Minute},
		// Every 2 days by day of month: 31 -> 1 (1 day), 29 -> 1 (3 days in a 31-day month).
		{"cron(0 0 1/2 * ? *)", 48 * time.Hour},
		// Every day of the week but Sunday: Saturday 12:00 to Monday 12:00.
		{"cron(0 12 ? * MON-SAT *)", 48 * time.Hour},
		{"cron(30 6 ? * 2,3,4,5,6,7,1 *)", 24 * time.Hour},
		{"cron(0 0 * JAN-DEC ? *)", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := ParseSchedule(tt.expr)
			if err != nil {
				t.Fatalf("ParseSchedule(%q) error: %v", tt.expr, err)
			}
			if s.MaxGap != tt.gap {
				t.Errorf("ParseSchedule(%q).MaxGap = %v; want %v", tt.expr, s.MaxGap, tt.gap)
			}
			if s.Expression != strings.TrimSpace(tt.expr) {
				t.Errorf("ParseSchedule(%q).Expression = %q", tt.expr, s.Expression)
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{"", "want rate("},
		{"every 12 hours", "want rate("},
		{"rate(12 hours", "want rate("},
		{"rate(0 hours)", "positive whole number"},
		{"rate(-1 hours)", "want rate("},
		{"rate(1.5 hours)", "want rate("},
		{"rate(1 hours)", `EventBridge wants "hour"`},
		{"rate(2 hour)", `EventBridge wants "hours"`},
		{"rate(12 weeks)", `unit "weeks"`},
		{"rate(12 Hours)", "want rate("},
		{"rate(85 hours)", "runs can be 85 hours apart; at most 84 hours"},
		{"rate(4 days)", "runs can be 4 days apart"},
		{"rate(99999999999 days)", "far longer"},
		{"cron(0 8 * * ?)", "5 fields, want 6"},
		{"cron(0 8 * * * *)", "exactly one of day-of-month and day-of-week must be ?"},
		{"cron(0 8 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?"},
		{"cron(60 8 * * ? *)", `"60" is not a value in 0..59`},
		{"cron(0 24 * * ? *)", `"24" is not a value in 0..23`},
		{"cron(0 8 32 * ? *)", `"32" is not a value in 1..31`},
		{"cron(0 8 * 13 ? *)", `"13" is not a value in 1..12`},
		{"cron(0 8 ? * 8 *)", `"8" is not a value in 1..7`},
		{"cron(0 8 ? * FUNDAY *)", `"FUNDAY" is not a value`},
		{"cron(0 5-3 * * ? *)", "range 5-3 is reversed"},
		{"cron(0/0 8 * * ? *)", "step \"0\" is not a positive number"},
		{"cron(0 8 * * ? 2027)", "year field \"2027\": use *"},
		// Weekly and monthly: the alarm cannot cover twice the gap.
		{"cron(0 8 ? * MON *)", "runs can be 7 days apart"},
		{"cron(0 8 1 * ? *)", "apart; at most 84 hours"},
		// 29 February only.
		{"cron(0 8 29 2 ? *)", "apart; at most 84 hours"},
		{"cron(0 8 31 2 ? *)", "never fires"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseSchedule(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSchedule(%q) = %v; want an error containing %q", tt.expr, err, tt.want)
			}
		})
	}
}

func TestCronSpecialDays(t *testing.T) {
	// Each expression fires on one day of every month; the test checks the
	// days in 2027 against a calendar.
	tests := []struct {
		expr string
		want map[time.Month]int // day of month per month of 2027
	}{
		// L: last day of the month.
		{"cron(0 0 L * ? *)", map[time.Month]int{time.January: 31, time.February: 28, time.April: 30}},
		// LW: last weekday. 2027-01-31 is a Sunday, 2027-07-31 a Saturday.
		{"cron(0 0 LW * ? *)", map[time.Month]int{time.January: 29, time.February: 26, time.July: 30}},
		// 1W: 2027-05-01 is a Saturday, so Monday the 3rd.
		{"cron(0 0 1W * ? *)", map[time.Month]int{time.May: 3, time.June: 1}},
		// 15W: 2027-08-15 is a Sunday, so Monday the 16th.
		{"cron(0 0 15W * ? *)", map[time.Month]int{time.August: 16, time.September: 15}},
		// 6L: last Friday. 2#1: first Monday.
		{"cron(0 0 ? * 6L *)", map[time.Month]int{time.January: 29, time.December: 31}},
		{"cron(0 0 ? * MON#1 *)", map[time.Month]int{time.January: 4, time.February: 1, time.November: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			fields := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(tt.expr, "cron("), ")"))
			spec, err := parseCron(fields)
			if err != nil {
				t.Fatal(err)
			}
			for month, day := range tt.want {
				var got []int
				for d := time.Date(2027, month, 1, 0, 0, 0, 0, time.UTC); d.Month() == month; d = d.AddDate(0, 0, 1) {
					if spec.matchesDay(d) {
						got = append(got, d.Day())
					}
				}
				if len(got) != 1 || got[0] != day {
					t.Errorf("%s in %s 2027 fires on days %v; want [%d]", tt.expr, month, got, day)
				}
			}
		})
	}
}

func TestAlarmWindow(t *testing.T) {
	tests := []struct {
		expr    string
		period  time.Duration
		periods int
	}{
		{"rate(1 minute)", 2 * time.Minute, 1},
		{"rate(30 minutes)", time.Hour, 1},
		{"rate(12 hours)", 24 * time.Hour, 1},
		{"rate(13 hours)", 13 * time.Hour, 2},
		{"rate(1 day)", 24 * time.Hour, 2},
		{"rate(3 days)", 24 * time.Hour, 6},
		{"rate(84 hours)", 24 * time.Hour, 7},
		// 2 x 63h15m = 126h30m over 6 periods of 21h05m.
		{"cron(0/15 9-17 ? * MON-FRI *)", 21*time.Hour + 5*time.Minute, 6},
		// 2 x 25 hours = 50 hours over 3 periods, rounded up to whole minutes.
		{"rate(25 hours)", 16*time.Hour + 40*time.Minute, 3},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := ParseSchedule(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			period, periods := s.AlarmWindow()
			if period != tt.period || periods != tt.periods {
				t.Errorf("AlarmWindow(%q) = %v x %d; want %v x %d", tt.expr, period, periods, tt.period, tt.periods)
			}
			// CloudWatch: whole minutes, at most a day per period and
			// 7 days in all, and the window covers twice the gap.
			total := period * time.Duration(periods)
			if period%time.Minute != 0 || period > 24*time.Hour || total > 7*24*time.Hour || total < 2*s.MaxGap {
				t.Errorf("AlarmWindow(%q) = %v x %d breaks a CloudWatch limit or covers less than %v", tt.expr, period, periods, 2*s.MaxGap)
			}
		})
	}
}

// FuzzParseSchedule checks that no expression panics and that every accepted
// one yields an alarm window CloudWatch accepts. Run with
// go test -run '^$' -fuzz FuzzParseSchedule ./infra
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{"rate(12 hours)", "rate(1 minute)", "cron(0/15 9-17 ? * MON-FRI *)", "cron(0 0 LW * ? *)", "cron(0 0 ? * 6L,MON#2 *)", "cron(0 8 29 2 ? *)"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseSchedule(expr)
		if err != nil {
			return
		}
		period, periods := s.AlarmWindow()
		total := period * time.Duration(periods)
		if s.MaxGap <= 0 || period%time.Minute != 0 || period <= 0 || period > 24*time.Hour || total > 7*24*time.Hour || total < 2*s.MaxGap {
			t.Errorf("ParseSchedule(%q): gap %v, window %v x %d", expr, s.MaxGap, period, periods)
		}
	})
}
