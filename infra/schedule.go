package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
)

// MaxScheduleGap is the longest time allowed between two runs. The
// no-run alarm (NoFullSyncRunAlarm) looks at 2× the gap, and CloudWatch evaluates an
// alarm over at most seven days.
const MaxScheduleGap = 84 * time.Hour

// Schedule is a validated EventBridge schedule expression.
type Schedule struct {
	// Expression is the rate() or cron() expression as given.
	Expression string
	// MaxGap is the longest time between two consecutive runs: the rate for
	// rate(), the largest gap between firings for cron().
	MaxGap time.Duration
}

var ratePattern = regexp.MustCompile(`^rate\(\s*(\d+)\s+([a-z]+)\s*\)$`)

// ParseSchedule validates an EventBridge rate() or cron() expression and
// computes the longest gap between runs. Cron expressions are evaluated in UTC,
// as EventBridge does; their year field must be * (a schedule that ends would
// leave the no-run alarm (NoFullSyncRunAlarm) firing forever).
func ParseSchedule(expr string) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	var gap time.Duration
	var err error
	switch {
	case strings.HasPrefix(expr, "rate("):
		gap, err = rateInterval(expr)
	case strings.HasPrefix(expr, "cron("):
		gap, err = cronMaxGap(expr)
	default:
		err = errors.New("want rate(<value> <unit>) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)")
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("%q: %w", expr, err)
	}
	if gap > MaxScheduleGap {
		return Schedule{}, fmt.Errorf("%q: runs can be %s apart; at most %s is supported, because the no-run alarm (NoFullSyncRunAlarm) covers twice the gap and a CloudWatch alarm covers at most 7 days", expr, fmtDuration(gap), fmtDuration(MaxScheduleGap))
	}
	return Schedule{Expression: expr, MaxGap: gap}, nil
}

// AlarmWindow returns the period and number of periods of the
// no-run alarm (NoFullSyncRunAlarm): together they cover at least twice MaxGap, with
// each period at most a day and a whole number of minutes (CloudWatch limits).
func (s Schedule) AlarmWindow() (period time.Duration, periods int) {
	window := 2 * s.MaxGap
	periods = int((window + 24*time.Hour - 1) / (24 * time.Hour))
	period = (window/time.Duration(periods) + time.Minute - 1).Truncate(time.Minute)
	return period, periods
}

func rateInterval(expr string) (time.Duration, error) {
	m := ratePattern.FindStringSubmatch(expr)
	if m == nil {
		return 0, errors.New("want rate(<value> <unit>), for example rate(12 hours)")
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, errors.New("the rate value must be a positive whole number")
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := strings.TrimSuffix(m[2], "s")
	d, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("unit %q: want minute(s), hour(s) or day(s)", m[2])
	}
	if plural := strings.HasSuffix(m[2], "s"); plural != (n > 1) {
		return 0, fmt.Errorf("EventBridge wants %q with a value of %d", map[bool]string{true: unit + "s", false: unit}[n > 1], n)
	}
	if n > 100000 {
		return 0, fmt.Errorf("%d %s is far longer than the %s supported", n, m[2], fmtDuration(MaxScheduleGap))
	}
	return time.Duration(n) * d, nil
}

// cronMaxGap parses cron(...) with github.com/hashicorp/cronexpr and returns
// the longest time between two consecutive firings over three years
// (2027-2029, which include a leap year): long enough to see every month,
// weekday and month-length combination that a yearly-repeating expression can
// produce.
func cronMaxGap(expr string) (gap time.Duration, err error) {
	e, err := parseEventBridgeCron(expr)
	if err != nil {
		return 0, err
	}
	// cronexpr v1.1.3 indexes an empty list, and panics, when a range is
	// reversed (5-3 in the minutes or month field).
	defer func() {
		if r := recover(); r != nil {
			gap, err = 0, fmt.Errorf("cannot be evaluated (a reversed range such as 5-3?): %v", r)
		}
	}()
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	first := e.Next(start.Add(-time.Second))
	if first.IsZero() || !first.Before(end) {
		return 0, errors.New("never fires")
	}
	// EventBridge fires at the same minutes and hours on every day it fires
	// (the fields are independent), so one day's firings give the gaps within
	// a day and the time of a day's last firing.
	day := first.Truncate(24 * time.Hour)
	last := first
	for t := e.Next(first); t.Truncate(24 * time.Hour).Equal(day); t = e.Next(t) {
		gap, last = max(gap, t.Sub(last)), t
	}
	lastOfDay := last.Sub(day)
	// The time from the window's start to the first firing, and from the last
	// firing to the window's end, are parts of real gaps: counting them keeps
	// an expression that fires once in the window (29 February) from looking
	// frequent.
	prev := start
	for t := first; !t.IsZero() && t.Before(end); t = e.Next(prev) {
		gap = max(gap, t.Sub(prev))
		prev = t.Truncate(24 * time.Hour).Add(lastOfDay)
	}
	return max(gap, end.Sub(prev)), nil
}

// parseEventBridgeCron checks the rules of EventBridge's cron(...) that
// cronexpr does not know, and hands cronexpr the fields with the day-of-week
// translated. The rules: six fields, exactly one of day-of-month and
// day-of-week is ?, day-of-week counts 1 (Sunday) to 7 (Saturday), L alone
// in day-of-week is its last day, # is allowed once
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
// The year must be * here: a schedule that ends would leave the no-run alarm
// (NoFullSyncRunAlarm) firing forever.
func parseEventBridgeCron(expr string) (*cronexpr.Expression, error) {
	inner, ok := strings.CutPrefix(expr, "cron(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return nil, errors.New("want cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)")
	}
	f := strings.Fields(strings.TrimSuffix(inner, ")"))
	if len(f) != 6 {
		return nil, fmt.Errorf("%d fields, want 6: minutes hours day-of-month month day-of-week year", len(f))
	}
	if f[5] != "*" {
		return nil, fmt.Errorf("year field %q: use * (a schedule that stops would leave the no-run alarm (NoFullSyncRunAlarm) firing)", f[5])
	}
	if (f[2] == "?") == (f[4] == "?") {
		return nil, errors.New("exactly one of day-of-month and day-of-week must be ?")
	}
	if strings.Contains(f[0]+f[1]+f[3], "?") {
		return nil, errors.New("? is allowed in the day-of-month or day-of-week field only")
	}
	dow, err := cronexprWeekdays(f[4])
	if err != nil {
		return nil, err
	}
	f[4] = dow
	return cronexpr.Parse(strings.Join(f, " "))
}

// cronexprWeekdays rewrites an EventBridge day-of-week field, where 1 is
// Sunday and 7 Saturday, for cronexpr, where 0 is Sunday and 6 Saturday (and
// 7 Sunday again). Each day number (a value, a range's ends, the day before
// L or #) goes down by one; names (MON), ?, *, and the counts after # and /
// stay; L alone, the last day of the week, becomes Saturday.
func cronexprWeekdays(field string) (string, error) {
	items := strings.Split(field, ",")
	if strings.Contains(field, "#") && len(items) > 1 {
		return "", fmt.Errorf("day-of-week %q: EventBridge allows one expression with #", field)
	}
	for i, item := range items {
		if item == "L" {
			items[i] = "SAT"
			continue
		}
		days, count, hasCount := strings.Cut(item, "#")
		days, step, hasStep := strings.Cut(days, "/")
		ends := strings.Split(days, "-")
		for j, end := range ends {
			num := strings.TrimSuffix(end, "L")
			n, err := strconv.Atoi(num)
			if err != nil {
				continue // a name or a wildcard
			}
			if n < 1 || n > 7 {
				return "", fmt.Errorf("day-of-week %q: %q is not a day in 1..7 (1 is Sunday) or SUN..SAT", field, num)
			}
			ends[j] = strconv.Itoa(n-1) + end[len(num):]
		}
		items[i] = strings.Join(ends, "-")
		if hasStep {
			items[i] += "/" + step
		}
		if hasCount {
			items[i] += "#" + count
		}
	}
	return strings.Join(items, ","), nil
}

// fmtDuration writes d in the largest whole unit: "84 hours", "3 days".
func fmtDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return d.String()
}
