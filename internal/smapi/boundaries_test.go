package smapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The tests in this file pin the edges of the limits the README states, so
// an off-by-one in any of them fails a test.

func TestReadBodyLimit(t *testing.T) {
	for n, wantErr := range map[int]bool{0: false, MaxBodyBytes: false, MaxBodyBytes + 1: true} {
		body, err := ReadBody(bytes.NewReader(make([]byte, n)))
		if (err != nil) != wantErr || (err == nil && len(body) != n) {
			t.Errorf("ReadBody(%d bytes) = %d bytes, %v; want error %v", n, len(body), err, wantErr)
		}
	}
}

func TestCheckResponseStatuses(t *testing.T) {
	for status, ok := range map[int]bool{199: false, 200: true, 204: true, 299: true, 300: false, 404: false} {
		err := CheckResponse("SMAPI", &http.Response{StatusCode: status, Header: http.Header{}}, nil)
		if (err == nil) != ok {
			t.Errorf("CheckResponse(HTTP %d) = %v; want ok=%v", status, err, ok)
		}
	}
}

func TestClip(t *testing.T) {
	exact := strings.Repeat("a", 200)
	if got := clip(exact); got != exact {
		t.Errorf("clip(200 bytes) = %q; want it whole", got)
	}
	if got := clip(exact + "b"); got != exact+"…" {
		t.Errorf("clip(201 bytes) = %q; want 200 bytes and …", got)
	}
	// A cut never splits a character: é is 2 bytes, at bytes 199 and 200.
	if got := clip(strings.Repeat("a", 199) + "é" + "z"); got != strings.Repeat("a", 199)+"…" {
		t.Errorf("clip(multibyte at the cut) = %q; want the cut before é", got)
	}
	if got := clip("a\x00b\n"); got != "a b " {
		t.Errorf("clip(control characters) = %q; want them as spaces", got)
	}
}

func TestParseRetryAfterLimits(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"86400":                         24 * time.Hour,
		"86401":                         0,
		"Thu, 26 Nov 2026 12:00:00 GMT": 24 * time.Hour,
		"Wed, 25 Nov 2026 12:00:00 GMT": 0,
	} {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s; want %s", in, got, want)
		}
	}
}

// TestBackoffStaysWithinMaxDelay: every attempt's backoff is
// min(BaseDelay·2^(attempt-1), MaxDelay), never negative, even when MaxDelay
// is near the end of time.Duration's range (doubling past it would overflow).
func TestBackoffStaysWithinMaxDelay(t *testing.T) {
	for _, tt := range []struct{ base, max time.Duration }{
		{200 * time.Millisecond, 10 * time.Second},
		{time.Second, 3 * time.Second}, // the cap is not a doubling of the base
		{1 << 61, 1 << 62},             // one doubling reaches the cap exactly
		{1, 1 << 62},
	} {
		r := Retrier{BaseDelay: tt.base, MaxDelay: tt.max, Jitter: func(d time.Duration) time.Duration { return d }}
		want := tt.base
		for attempt := 1; attempt <= 70; attempt++ {
			if got := r.backoff(attempt); got != want {
				t.Fatalf("base %d, max %d: backoff(%d) = %d; want %d", tt.base, tt.max, attempt, got, want)
			}
			if want <= tt.max/2 {
				want *= 2
			} else {
				want = tt.max
			}
		}
	}
}

// TestDefaultJitterIncludesTheCap: with no Jitter, a backoff of d is drawn
// from [0, d] with both ends (TestFullJitter checks the spread at SMAPI's
// delays; this one the ends, at 1 ns where they are 2 values of 2).
func TestDefaultJitterIncludesTheCap(t *testing.T) {
	r := Retrier{BaseDelay: 1, MaxDelay: 1}
	seen := map[time.Duration]int{}
	for range 200 {
		seen[r.backoff(1)]++
	}
	if len(seen) != 2 || seen[0] == 0 || seen[1] == 0 {
		t.Errorf("200 draws of a 1 ns backoff = %v; want both 0 and 1 ns, nothing else", seen)
	}
}

func TestDescribeAnswer(t *testing.T) {
	tests := []struct {
		code, message, requestID, hint, want string
	}{
		{"", "", "", "", "LWA answered HTTP 400"},
		{"invalid_grant", "", "", "", "LWA answered HTTP 400 invalid_grant"},
		{"", "bad", "", "", "LWA answered HTTP 400: bad"},
		{"", "", "r-1", "", "LWA answered HTTP 400 (request id r-1)"},
		{"", "", "", "do this", "LWA answered HTTP 400; do this"},
		{"invalid_grant", "bad", "r-1", "do this", "LWA answered HTTP 400 invalid_grant: bad (request id r-1); do this"},
	}
	for _, tt := range tests {
		if got := DescribeAnswer("LWA", 400, tt.code, tt.message, tt.requestID, tt.hint); got != tt.want {
			t.Errorf("DescribeAnswer(%q, %q, %q, %q) = %q; want %q", tt.code, tt.message, tt.requestID, tt.hint, got, tt.want)
		}
	}
}

// TestNoRetryThatEndsAtTheDeadline: a wait that would end exactly at the
// deadline is not started.
func TestNoRetryThatEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := DefaultRetrier().Do(ctx, func(context.Context) error {
			return &APIError{Service: "SMAPI", StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second}
		})
		if n != 1 || !errors.Is(err, ErrNoTimeToRetry) {
			t.Fatalf("Do = %d attempts, %v; want 1 attempt and ErrNoTimeToRetry", n, err)
		}
	})
}

// TestRetrierWithPacer: with a run's Pacer and a deadline, 429s do not use
// up the attempts, every answer is counted, and a hold longer than the time
// left ends the call with ErrNoTimeToRetry.
func TestRetrierWithPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r := DefaultRetrier()
		r.MaxAttempts = 2
		pacer := NewPacer()
		r.Pacer = pacer
		// The Pacer's Wait waits out a 429's hold; the Retrier adds no wait
		// of its own.
		r.Sleep = func(_ context.Context, d time.Duration) error {
			t.Errorf("the Retrier slept %s after a 429 with a Pacer; want only the Pacer's hold", d)
			return nil
		}
		calls := 0
		n, err := r.Do(ctx, func(context.Context) error {
			calls++
			if calls <= 3 {
				return &APIError{Service: "SMAPI", StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second}
			}
			return nil
		})
		if err != nil || n != 4 {
			t.Fatalf("Do = %d attempts, %v; want success on the 4th (429s do not count)", n, err)
		}
		if s := pacer.Stats(); s.Requests != 4 || s.Throttled != 3 || s.ThrottledKeys != 1 || s.Broad || s.Cuts != 0 {
			t.Fatalf("pacer stats = %+v; want 4 requests, 3 throttled for one key, no cut", s)
		}

		short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel2()
		r.Pacer = NewPacer()
		n, err = r.Do(short, func(context.Context) error {
			return &APIError{Service: "SMAPI", StatusCode: http.StatusTooManyRequests, RetryAfter: 5 * time.Second}
		})
		if n != 1 || !errors.Is(err, ErrNoTimeToRetry) || !strings.Contains(err.Error(), "HTTP 429") {
			t.Fatalf("Do = %d attempts, %v; want 1 attempt, ErrNoTimeToRetry around the 429", n, err)
		}
	})
}
