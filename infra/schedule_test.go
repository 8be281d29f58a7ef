package main

import (
	"maps"
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
		// Sunday is 1: every day but Sunday (2-7), Saturday 12:00 to Monday 12:00.
		{"cron(0 12 ? * 2-7 *)", 48 * time.Hour},
		// Every day but Saturday (1-6): Friday 12:00 to Sunday 12:00.
		{"cron(0 12 ? * 1-6 *)", 48 * time.Hour},
		// Sundays, Mondays, Wednesdays and Fridays: 2 days at most.
		{"cron(0 6 ? * 1,2,4,6 *)", 48 * time.Hour},
		// Within a day: 00:00, 00:30 ... 23:30 hourly minutes 0 and 30.
		{"cron(0,30 * * * ? *)", 30 * time.Minute},
		// 20:00 and 22:00 each day: the gap spans midnight (22:00 to 20:00).
		{"cron(0 20,22 * * ? *)", 22 * time.Hour},
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
		// cronexpr's own checks.
		{"cron(60 8 * * ? *)", "minute field: '60'"},
		{"cron(0 24 * * ? *)", "hour field: '24'"},
		{"cron(0 8 32 * ? *)", "day-of-month field: '32'"},
		{"cron(0 8 * 13 ? *)", "month field: '13'"},
		{"cron(0 8 ? * FUNDAY *)", "day-of-week field: 'FUNDAY'"},
		{"cron(0/0 8 * * ? *)", "invalid interval 0/0"},
		// EventBridge's weekdays are 1..7; cronexpr would take 0 and 7 as Sunday.
		{"cron(0 8 ? * 8 *)", `"8" is not a day in 1..7 (1 is Sunday)`},
		{"cron(0 8 ? * 0 *)", `"0" is not a day in 1..7 (1 is Sunday)`},
		{"cron(0 8 ? * 0-3 *)", `"0" is not a day in 1..7`},
		{"cron(0 8 ? * 9L *)", `"9" is not a day in 1..7`},
		{"cron(0 8 ? * 2#1,6#3 *)", "one expression with #"},
		{"cron(0 ? * * ? *)", "? is allowed in the day-of-month or day-of-week field only"},
		// Reversed ranges: cronexpr finds no value, or panics on an empty list.
		{"cron(0 5-3 * * ? *)", "never fires"},
		{"cron(5-3 8 * * ? *)", "cannot be evaluated"},
		{"cron(0 8 * 5-3 ? *)", "cannot be evaluated"},
		{"cron(0 8 * * ? 2027)", "year field \"2027\": use *"},
		// Weekly and monthly: the alarm cannot cover twice the gap.
		{"cron(0 8 ? * MON *)", "runs can be 7 days apart"},
		// Mondays and Thursdays (2 and 5): Thursday to Monday.
		{"cron(0 8 ? * 2,5 *)", "runs can be 4 days apart"},
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
		// 6L: last Friday (6 is Friday in EventBridge). 2#1 and MON#1: first Monday.
		{"cron(0 0 ? * 6L *)", map[time.Month]int{time.January: 29, time.December: 31}},
		{"cron(0 0 ? * MON#1 *)", map[time.Month]int{time.January: 4, time.February: 1, time.November: 1}},
		{"cron(0 0 ? * 2#1 *)", map[time.Month]int{time.January: 4, time.February: 1, time.November: 1}},
		// 1#2: second Sunday (2027-01-03 is the first). 7L: last Saturday.
		{"cron(0 0 ? * 1#2 *)", map[time.Month]int{time.January: 10, time.August: 8}},
		{"cron(0 0 ? * 7L *)", map[time.Month]int{time.January: 30, time.July: 31}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := parseEventBridgeCron(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			for month, day := range tt.want {
				var got []int
				start := time.Date(2027, month, 1, 0, 0, 0, 0, time.UTC)
				for f := e.Next(start.Add(-time.Second)); f.Month() == month && f.Year() == 2027; f = e.Next(f) {
					got = append(got, f.Day())
				}
				if len(got) != 1 || got[0] != day {
					t.Errorf("%s in %s 2027 fires on days %v; want [%d]", tt.expr, month, got, day)
				}
			}
		})
	}
}

// TestEventBridgeWeekdays pins EventBridge's day-of-week numbering, 1 (Sunday)
// to 7 (Saturday) (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html:
// "3#2 refers to the second Tuesday of the month: 3 refers to Tuesday because
// it is the third day of each week"), against cronexpr's 0 (Sunday) to 6.
func TestEventBridgeWeekdays(t *testing.T) {
	const (
		sun = time.Sunday
		mon = time.Monday
		tue = time.Tuesday
		wed = time.Wednesday
		thu = time.Thursday
		fri = time.Friday
		sat = time.Saturday
	)
	tests := []struct {
		dow  string
		want []time.Weekday
	}{
		{"1", []time.Weekday{sun}},
		{"SUN", []time.Weekday{sun}},
		{"2", []time.Weekday{mon}},
		{"7", []time.Weekday{sat}},
		{"SAT", []time.Weekday{sat}},
		{"L", []time.Weekday{sat}}, // the last day of the week
		{"2-6", []time.Weekday{mon, tue, wed, thu, fri}},
		{"MON-FRI", []time.Weekday{mon, tue, wed, thu, fri}},
		{"1,7", []time.Weekday{sun, sat}},
		{"SUN,4", []time.Weekday{sun, wed}},
		{"6-7", []time.Weekday{fri, sat}},
		{"WED-7", []time.Weekday{wed, thu, fri, sat}},
		{"1/2", []time.Weekday{sun, tue, thu, sat}},
		{"2-6/2", []time.Weekday{mon, wed, fri}},
		{"*", []time.Weekday{sun, mon, tue, wed, thu, fri, sat}},
	}
	for _, tt := range tests {
		expr := "cron(0 12 ? * " + tt.dow + " *)"
		t.Run(expr, func(t *testing.T) {
			e, err := parseEventBridgeCron(expr)
			if err != nil {
				t.Fatal(err)
			}
			// Four weeks from Friday 2027-01-01: every firing is at 12:00 on
			// a wanted weekday, and each wanted weekday fires four times.
			start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			count := map[time.Weekday]int{}
			for f := e.Next(start); f.Before(start.AddDate(0, 0, 28)); f = e.Next(f) {
				if f.Hour() != 12 || f.Minute() != 0 {
					t.Errorf("fires at %v; want 12:00", f)
				}
				count[f.Weekday()]++
			}
			want := map[time.Weekday]int{}
			for _, d := range tt.want {
				want[d] = 4
			}
			if !maps.Equal(count, want) {
				t.Errorf("firings per weekday over four weeks = %v; want %v", count, want)
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
