package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
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

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

// cronSpec is a parsed EventBridge cron expression. Day-of-week values are
// 1 (Sunday) to 7 (Saturday), as in EventBridge.
type cronSpec struct {
	minutes, hours []int
	months         [13]bool
	domAny         bool     // day-of-month is * or ?
	dom            [32]bool // plain day-of-month values
	domLast        bool     // L: last day of the month
	domLastWeekday bool     // LW: last weekday of the month
	domNearest     []int    // nW: weekday nearest to day n
	dowAny         bool     // day-of-week is * or ?
	dow            [8]bool  // plain day-of-week values
	dowLast        []int    // dL: last weekday d of the month
	dowNth         [][2]int // d#n: n-th weekday d of the month
	domQuestion    bool     // day-of-month is ?
	dowQuestion    bool     // day-of-week is ?
}

// cronMaxGap parses cron(...) and returns the longest time between two
// consecutive firings over three years (2027-2029, which include a leap year):
// long enough to see every month, weekday and month-length combination that
// a yearly-repeating expression can produce.
func cronMaxGap(expr string) (time.Duration, error) {
	inner, ok := strings.CutPrefix(expr, "cron(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return 0, errors.New("want cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)")
	}
	fields := strings.Fields(strings.TrimSuffix(inner, ")"))
	if len(fields) != 6 {
		return 0, fmt.Errorf("%d fields, want 6: minutes hours day-of-month month day-of-week year", len(fields))
	}
	spec, err := parseCron(fields)
	if err != nil {
		return 0, err
	}

	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	first, last := spec.minutes[0], spec.minutes[len(spec.minutes)-1]
	dayFirst := time.Duration(spec.hours[0])*time.Hour + time.Duration(first)*time.Minute
	dayLast := time.Duration(spec.hours[len(spec.hours)-1])*time.Hour + time.Duration(last)*time.Minute
	gap := intraDayGap(spec.hours, spec.minutes)

	// The time from the window's start to the first firing, and from the
	// last firing to the window's end, are parts of real gaps: counting them
	// keeps an expression that fires once in the window (29 February) from
	// looking frequent.
	prev := start
	fired := false
	for day := start; day.Before(end); day = day.AddDate(0, 0, 1) {
		if !spec.matchesDay(day) {
			continue
		}
		gap = max(gap, day.Add(dayFirst).Sub(prev))
		prev = day.Add(dayLast)
		fired = true
	}
	if !fired {
		return 0, errors.New("never fires")
	}
	return max(gap, end.Sub(prev)), nil
}

// intraDayGap is the longest gap between firings within one day, or 0 when a
// day has a single firing.
func intraDayGap(hours, minutes []int) time.Duration {
	var times []int
	for _, h := range hours {
		for _, m := range minutes {
			times = append(times, h*60+m)
		}
	}
	var gap int
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i]-times[i-1])
	}
	return time.Duration(gap) * time.Minute
}

func (c *cronSpec) matchesDay(t time.Time) bool {
	if !c.months[int(t.Month())] {
		return false
	}
	if !c.domQuestion && !c.matchesDOM(t) {
		return false
	}
	if !c.dowQuestion && !c.matchesDOW(t) {
		return false
	}
	return true
}

func (c *cronSpec) matchesDOM(t time.Time) bool {
	if c.domAny {
		return true
	}
	day := t.Day()
	lastDay := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if c.dom[day] || (c.domLast && day == lastDay) {
		return true
	}
	if c.domLastWeekday && day == nearestWeekday(t.Year(), t.Month(), lastDay, lastDay) {
		return true
	}
	for _, n := range c.domNearest {
		if n <= lastDay && day == nearestWeekday(t.Year(), t.Month(), n, lastDay) {
			return true
		}
	}
	return false
}

// nearestWeekday is the Monday-to-Friday day of the month nearest to day n,
// never leaving the month (Quartz/EventBridge "nW").
func nearestWeekday(year int, month time.Month, n, lastDay int) int {
	switch time.Date(year, month, n, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == lastDay {
			return n - 2
		}
		return n + 1
	}
	return n
}

func (c *cronSpec) matchesDOW(t time.Time) bool {
	if c.dowAny {
		return true
	}
	d := int(t.Weekday()) + 1
	if c.dow[d] {
		return true
	}
	lastDay := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	for _, want := range c.dowLast {
		if d == want && t.Day()+7 > lastDay {
			return true
		}
	}
	for _, nth := range c.dowNth {
		if d == nth[0] && (t.Day()-1)/7+1 == nth[1] {
			return true
		}
	}
	return false
}

func parseCron(f []string) (*cronSpec, error) {
	c := &cronSpec{}
	var err error
	if c.minutes, err = parseCronField(f[0], "minutes", 0, 59, nil); err != nil {
		return nil, err
	}
	if c.hours, err = parseCronField(f[1], "hours", 0, 23, nil); err != nil {
		return nil, err
	}
	months, err := parseCronField(f[3], "month", 1, 12, monthNames)
	if err != nil {
		return nil, err
	}
	for _, m := range months {
		c.months[m] = true
	}
	if f[5] != "*" {
		return nil, fmt.Errorf("year field %q: use * (a schedule that stops would leave the no-run alarm (NoFullSyncRunAlarm) firing)", f[5])
	}

	c.domQuestion, c.dowQuestion = f[2] == "?", f[4] == "?"
	if c.domQuestion == c.dowQuestion {
		return nil, errors.New("exactly one of day-of-month and day-of-week must be ?")
	}
	if !c.domQuestion {
		if err := c.parseDOM(f[2]); err != nil {
			return nil, err
		}
	}
	if !c.dowQuestion {
		if err := c.parseDOW(f[4]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *cronSpec) parseDOM(field string) error {
	if field == "*" {
		c.domAny = true
		return nil
	}
	for _, item := range strings.Split(field, ",") {
		switch {
		case item == "L":
			c.domLast = true
		case item == "LW":
			c.domLastWeekday = true
		case strings.HasSuffix(item, "W"):
			n, err := strconv.Atoi(strings.TrimSuffix(item, "W"))
			if err != nil || n < 1 || n > 31 {
				return fmt.Errorf("day-of-month %q: want nW with n in 1..31", item)
			}
			c.domNearest = append(c.domNearest, n)
		default:
			days, err := parseCronField(item, "day-of-month", 1, 31, nil)
			if err != nil {
				return err
			}
			for _, d := range days {
				c.dom[d] = true
			}
		}
	}
	return nil
}

func (c *cronSpec) parseDOW(field string) error {
	if field == "*" {
		c.dowAny = true
		return nil
	}
	day := func(s, item string) (int, error) {
		if d, ok := dayNames[strings.ToUpper(s)]; ok {
			return d, nil
		}
		d, err := strconv.Atoi(s)
		if err != nil || d < 1 || d > 7 {
			return 0, fmt.Errorf("day-of-week %q: want 1..7 or SUN..SAT", item)
		}
		return d, nil
	}
	for _, item := range strings.Split(field, ",") {
		switch {
		case item == "L":
			c.dow[7] = true // L alone is the last day of the week, Saturday
		case strings.HasSuffix(item, "L"):
			d, err := day(strings.TrimSuffix(item, "L"), item)
			if err != nil {
				return err
			}
			c.dowLast = append(c.dowLast, d)
		case strings.Contains(item, "#"):
			ds, ns, _ := strings.Cut(item, "#")
			d, err := day(ds, item)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(ns)
			if err != nil || n < 1 || n > 5 {
				return fmt.Errorf("day-of-week %q: want d#n with n in 1..5", item)
			}
			c.dowNth = append(c.dowNth, [2]int{d, n})
		default:
			days, err := parseCronField(item, "day-of-week", 1, 7, dayNames)
			if err != nil {
				return err
			}
			for _, d := range days {
				c.dow[d] = true
			}
		}
	}
	return nil
}

// parseCronField parses a list of *, values, ranges a-b and steps x/n within
// lo..hi, with optional names (JAN, MON). The result is sorted and unique.
func parseCronField(field, name string, lo, hi int, names map[string]int) ([]int, error) {
	value := func(s string) (int, error) {
		if v, ok := names[strings.ToUpper(s)]; ok {
			return v, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("%s field %q: %q is not a value in %d..%d", name, field, s, lo, hi)
		}
		return v, nil
	}
	var out []int
	for _, item := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepStr); err != nil || step < 1 {
				return nil, fmt.Errorf("%s field %q: step %q is not a positive number", name, field, stepStr)
			}
		}
		from, to := lo, hi
		switch a, b, isRange := strings.Cut(rng, "-"); {
		case rng == "*":
		case isRange:
			var err error
			if from, err = value(a); err != nil {
				return nil, err
			}
			if to, err = value(b); err != nil {
				return nil, err
			}
			if from > to {
				return nil, fmt.Errorf("%s field %q: range %s is reversed", name, field, rng)
			}
		default:
			v, err := value(rng)
			if err != nil {
				return nil, err
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		for v := from; v <= to; v += step {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
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
