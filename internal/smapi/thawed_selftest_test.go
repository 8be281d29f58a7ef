package smapi

import (
	"testing"
	"time"
)

func TestThawed(t *testing.T) {
	before := time.Now()
	after, err := Thawed(before, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// What code without Round(0) sees: no time passed.
	if !after.Equal(before) || after.Sub(before) != 0 || after.After(before.Add(time.Minute)) {
		t.Errorf("monotonic comparison of %v and %v sees time pass", after, before)
	}
	// What the wall clock says.
	if got := after.Round(0).Sub(before.Round(0)); got != 2*time.Hour {
		t.Errorf("wall clock moved %s; want 2h", got)
	}
	if !after.Round(0).After(before.Add(time.Hour).Round(0)) {
		t.Error("a one-hour expiry is not past by the wall clock")
	}
	for name, tc := range map[string]struct {
		t time.Time
		d time.Duration
	}{
		"no monotonic reading": {before.Round(0), time.Hour},
		"fraction of a second": {before, 1500 * time.Millisecond},
		"negative":             {before, -time.Hour},
	} {
		if _, err := Thawed(tc.t, tc.d); err == nil {
			t.Errorf("%s: Thawed = nil error; want a refusal", name)
		}
	}
}
