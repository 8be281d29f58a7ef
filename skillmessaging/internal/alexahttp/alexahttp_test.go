package alexahttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestReadBody(t *testing.T) {
	for _, tt := range []struct {
		n       int
		wantErr error
	}{{0, nil}, {MaxBodyBytes, nil}, {MaxBodyBytes + 1, ErrBodyTooLarge}} {
		body, err := ReadBody(bytes.NewReader(make([]byte, tt.n)))
		if !errors.Is(err, tt.wantErr) || (err == nil && len(body) != tt.n) {
			t.Errorf("ReadBody(%d bytes) = %d bytes, %v; want %v", tt.n, len(body), err, tt.wantErr)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct{ in, want string }{
		{strings.Repeat("a", 10), strings.Repeat("a", 10)},
		{strings.Repeat("a", 11), strings.Repeat("a", 10) + "…"},
		{strings.Repeat("a", 9) + "é", strings.Repeat("a", 9) + "…"}, // é would cross the cut
		{"a\x00b\n", "a b "},
		{"a\xffb", "a?b"},
	}
	for _, tt := range tests {
		if got := Clip(tt.in, 10); got != tt.want {
			t.Errorf("Clip(%q, 10) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckResponse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   *APIError
	}{
		{"2xx", 202, nil, "", nil},
		{"200, the first success", 200, nil, "", nil},
		{"299, the last success", 299, nil, "", nil},
		{"199 is not a success", 199, nil, "", &APIError{Service: "S", StatusCode: 199}},
		{"300 is not a success", 300, nil, "", &APIError{Service: "S", StatusCode: 300}},
		{"Proactive Events' integer code", 400, map[string]string{"X-Amzn-RequestId": "rid-1"}, `{"code":400,"message":"Invalid event"}`,
			&APIError{Service: "S", StatusCode: 400, RequestID: "rid-1", APICode: 400, Message: "Invalid event"}},
		{"a string code is not Amazon's integer", 403, nil, `{"code":"FORBIDDEN","message":"no"}`, &APIError{Service: "S", StatusCode: 403, Message: "no"}},
		{"Retry-After seconds", 429, map[string]string{"Retry-After": "7", "X-Amzn-Request-Id": "rid-2"}, `{"message":"Rate exceeded."}`,
			&APIError{Service: "S", StatusCode: 429, RequestID: "rid-2", Message: "Rate exceeded.", RetryAfter: 7 * time.Second}},
		{"Retry-After date", 503, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, `<html>`,
			&APIError{Service: "S", StatusCode: 503, RetryAfter: 90 * time.Second}},
		{"long message", 500, nil, `{"message":"` + strings.Repeat("m", 300) + `"}`, &APIError{Service: "S", StatusCode: 500, Message: strings.Repeat("m", MaxMessageLen) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			for k, v := range tt.header {
				resp.Header.Set(k, v)
			}
			err := CheckResponse("S", resp, []byte(tt.body), now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckResponse(%d) = %v; want nil", tt.status, err)
				}
				return
			}
			var api *APIError
			if !errors.As(err, &api) || *api != *tt.want {
				t.Fatalf("CheckResponse(%d, %s) = %#v; want %#v", tt.status, tt.body, err, tt.want)
			}
			if strings.Contains(err.Error(), tt.body) && tt.body != "" && len(tt.body) > 20 {
				t.Errorf("the error quotes the body: %v", err)
			}
		})
	}
}

func TestDescribeAnswer(t *testing.T) {
	tests := []struct {
		code    string
		apiCode int
		msg     string
		rid     string
		hint    string
		want    string
	}{
		{"", 0, "", "", "", "S answered HTTP 400"},
		{"invalid_client", 0, "bad", "r1", "", "S answered HTTP 400 invalid_client: bad (request id r1)"},
		{"", 432, "limit", "", "wait", "S answered HTTP 400 (code 432): limit; wait"},
	}
	for _, tt := range tests {
		if got := DescribeAnswer("S", 400, tt.code, tt.apiCode, tt.msg, tt.rid, tt.hint); got != tt.want {
			t.Errorf("DescribeAnswer(%q, %d, %q, %q, %q) = %q; want %q", tt.code, tt.apiCode, tt.msg, tt.rid, tt.hint, got, tt.want)
		}
	}
}

func TestParseEndpointAndLoopback(t *testing.T) {
	tests := []struct {
		raw string
		ok  bool
	}{
		{"https://api.amazonalexa.com", true},
		{"http://127.0.0.1:8080/alexa", true},
		{"http://[::1]:1", true},
		{"http://localhost:1", true},
		{"http://api.amazonalexa.com", false},
		{"http://127.0.0.2.example", false},
		{"ftp://api.amazonalexa.com", false},
		{"https://user@api.amazonalexa.com", false},
		{"https://api.amazonalexa.com?x=1", false},
		{"https://api.amazonalexa.com#f", false},
		{"/relative", false},
		{"https://a b", false},
	}
	for _, tt := range tests {
		if _, err := ParseEndpoint(tt.raw); (err == nil) != tt.ok {
			t.Errorf("ParseEndpoint(%q) = %v; want ok=%v", tt.raw, err, tt.ok)
		}
	}
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "10.0.0.1": false, "localhost.example": false, "": false} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v; want %v", host, got, want)
		}
	}
}

func TestValidSkillID(t *testing.T) {
	for id, want := range map[string]bool{
		"amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d":        true,
		"amzn1.echo-sdk-ams.app.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d": true,
		"amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8":         false,
		"amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8dx":       false,
		"xamzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d":       false,
		"amzn1.ask.skill.../../v1":                                    false,
	} {
		if got := ValidSkillID(id); got != want {
			t.Errorf("ValidSkillID(%q) = %v; want %v", id, got, want)
		}
	}
}

// TestHTTPClient: every request carries the User-Agent and Accept, and a
// redirect is reported, not followed.
func TestHTTPClient(t *testing.T) {
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
		}
		if r.UserAgent() != "ua/1" || r.Header.Get("Accept") != "application/json" {
			t.Errorf("request headers %v; want the User-Agent and Accept", r.Header)
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := NewHTTPClient(time.Second, "ua/1").Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || followed {
		t.Fatalf("GET = %d, followed %v; want the 302 itself", resp.StatusCode, followed)
	}
}

// TestClientCredentialsToken: the grant's form, and LWA's refusal as an
// *APIError without the response body.
func TestClientCredentialsToken(t *testing.T) {
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "rid-lwa")
		if r.PostForm.Get("client_secret") != "right" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"Client authentication failed","secret":"BODY-ONLY"}`)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"Atc|x","token_type":"bearer","expires_in":3600}`)
	}))
	defer srv.Close()
	tok, err := ClientCredentialsToken(context.Background(), srv.Client(), srv.URL, "alexa:skill_messaging", "cid", "right")
	if err != nil || tok.AccessToken != "Atc|x" {
		t.Fatalf("ClientCredentialsToken = %v, %v; want the token", tok, err)
	}
	if form.Get("grant_type") != "client_credentials" || form.Get("scope") != "alexa:skill_messaging" || form.Get("client_id") != "cid" {
		t.Fatalf("form %v; want the client_credentials grant with scope and client id in the body", form)
	}
	_, err = ClientCredentialsToken(context.Background(), srv.Client(), srv.URL, "alexa:skill_messaging", "cid", "wrong")
	var api *APIError
	if !errors.As(err, &api) || api.Service != "LWA" || api.StatusCode != 401 || api.Code != "invalid_client" || api.RequestID != "rid-lwa" {
		t.Fatalf("ClientCredentialsToken(wrong) = %#v; want LWA's 401 invalid_client", err)
	}
	if strings.Contains(err.Error(), "BODY-ONLY") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the error holds the body or the secret: %v", err)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		t.Fatal("the oauth2 error (with the raw body) is reachable")
	}
	if other := errors.New("x"); LWAError(other, time.Now()) != other {
		t.Fatal("LWAError changed an error that is not oauth2's")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetrier(t *testing.T) {
	api := func(status int, retryAfter time.Duration) error {
		return &APIError{Service: "S", StatusCode: status, RetryAfter: retryAfter}
	}
	tests := []struct {
		name     string
		errs     []error // one per attempt; the call succeeds after them
		deadline time.Duration
		attempts int
		sleeps   string
		wantErr  error
	}{
		{"success", nil, 0, 1, "", nil},
		{"429 then success", []error{api(429, 0)}, 0, 2, "100ms", nil},
		{"backoff doubles to the cap", []error{api(500, 0), api(502, 0), api(503, 0), api(504, 0)}, 0, 5, "100ms 200ms 400ms 400ms", nil},
		{"Retry-After honoured", []error{api(429, 30*time.Second)}, 0, 2, "30s", nil},
		{"Retry-After at the cap", []error{api(503, time.Minute)}, 0, 2, "1m0s", nil},
		{"Retry-After over the cap", []error{api(429, time.Minute+time.Second)}, 0, 1, "", ErrRetryAfterTooLong},
		{"501 not retried", []error{api(501, 0)}, 0, 1, "", nil},
		{"400 not retried", []error{api(400, 0)}, 0, 1, "", nil},
		{"409 not retried", []error{api(409, 0)}, 0, 1, "", nil},
		{"timeout retried", []error{timeoutErr{}}, 0, 2, "100ms", nil},
		{"cut short retried", []error{io.ErrUnexpectedEOF}, 0, 2, "100ms", nil},
		{"reset retried", []error{fmt.Errorf("read: %w", syscall.ECONNRESET)}, 0, 2, "100ms", nil},
		{"other error not retried", []error{errors.New("bad request built")}, 0, 1, "", nil},
		{"attempts run out", []error{api(500, 0), api(500, 0), api(500, 0), api(500, 0), api(500, 0), api(500, 0)}, 0, 5, "100ms 200ms 400ms 400ms", nil},
		{"no time before the deadline", []error{api(429, 30*time.Second)}, time.Second, 1, "", ErrNoTimeToRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slept []string
			r := DefaultRetrier()
			r.BaseDelay, r.MaxDelay = 100*time.Millisecond, 400*time.Millisecond
			r.Jitter = func(d time.Duration) time.Duration { return d }
			r.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d.String()); return nil }
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			calls := 0
			n, err := r.Do(ctx, func(context.Context) error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if n != tt.attempts || calls != tt.attempts || strings.Join(slept, " ") != tt.sleeps {
				t.Fatalf("Do = %d attempts (%d calls), slept %q; want %d, %q", n, calls, slept, tt.attempts, tt.sleeps)
			}
			wantFail := len(tt.errs) >= tt.attempts
			if (err != nil) != wantFail || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Do = %v; want failure %v (%v)", err, wantFail, tt.wantErr)
			}
			if wantFail && !errors.Is(err, tt.errs[tt.attempts-1]) {
				t.Fatalf("Do = %v; want the last error %v inside", err, tt.errs[tt.attempts-1])
			}
		})
	}
}

func TestRetrierStopsWhenTheCallerGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := DefaultRetrier()
	r.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
	n, err := r.Do(ctx, func(context.Context) error { return &APIError{StatusCode: 503} })
	if n != 1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %d, %v; want 1 attempt and %v", n, err, context.Canceled)
	}
	// With no Sleep, the timer waits and the context ends it.
	r.Sleep = nil
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	r.BaseDelay, r.Jitter = time.Hour, func(d time.Duration) time.Duration { return d }
	if n, err := r.Do(ctx, func(context.Context) error { return &APIError{StatusCode: 503} }); n != 1 || !errors.Is(err, ErrNoTimeToRetry) {
		t.Fatalf("Do = %d, %v; want %v", n, err, ErrNoTimeToRetry)
	}
}

// TestDefaultRetrier checks the documented defaults by what they do: 5
// attempts, 200 ms doubling to at most 10 s, Retry-After up to a minute.
func TestDefaultRetrier(t *testing.T) {
	r := DefaultRetrier()
	r.Jitter = func(d time.Duration) time.Duration { return d }
	var slept []string
	r.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d.String()); return nil }
	n, err := r.Do(context.Background(), func(context.Context) error { return &APIError{StatusCode: 503} })
	if n != 5 || err == nil || strings.Join(slept, " ") != "200ms 400ms 800ms 1.6s" {
		t.Fatalf("Do = %d, %v, slept %q; want 5 attempts after 200ms 400ms 800ms 1.6s", n, err, slept)
	}
	var backoffs []string
	for attempt := 5; attempt <= 8; attempt++ {
		backoffs = append(backoffs, r.backoff(attempt).String())
	}
	if got := strings.Join(backoffs, " "); got != "3.2s 6.4s 10s 10s" {
		t.Errorf("backoffs of attempts 5 to 8 = %s; want 3.2s 6.4s 10s 10s (capped at 10 s)", got)
	}
	for _, tt := range []struct {
		retryAfter time.Duration
		wantErr    error
	}{{time.Minute, nil}, {time.Minute + time.Second, ErrRetryAfterTooLong}} {
		calls := 0
		_, err := r.Do(context.Background(), func(context.Context) error {
			if calls++; calls == 1 {
				return &APIError{StatusCode: 429, RetryAfter: tt.retryAfter}
			}
			return nil
		})
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("Do after Retry-After %s = %v; want %v", tt.retryAfter, err, tt.wantErr)
		}
	}
}

// TestBackoffStaysWithinMaxDelay: every attempt's backoff is
// min(BaseDelay·2^(attempt-1), MaxDelay), never negative, even when MaxDelay
// is near the end of time.Duration's range (doubling past it would overflow).
func TestBackoffStaysWithinMaxDelay(t *testing.T) {
	for _, tt := range []struct{ base, max time.Duration }{
		{100 * time.Millisecond, 400 * time.Millisecond},
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

// TestDefaultJitterIsFull: with no Jitter, a backoff of d is drawn from the
// whole of [0, d], both ends included.
func TestDefaultJitterIsFull(t *testing.T) {
	r := Retrier{BaseDelay: 1, MaxDelay: 1} // a backoff of 1 ns: 0 or 1
	seen := map[time.Duration]int{}
	for range 200 {
		seen[r.backoff(1)]++
	}
	if len(seen) != 2 || seen[0] == 0 || seen[1] == 0 {
		t.Errorf("200 draws of a 1 ns backoff = %v; want both 0 and 1 ns, nothing else", seen)
	}
	r.BaseDelay, r.MaxDelay = time.Second, time.Second
	var low, high bool
	for range 200 {
		d := r.backoff(1)
		if d < 0 || d > time.Second {
			t.Fatalf("backoff of 1s drew %s; want 0 to 1s", d)
		}
		low, high = low || d < time.Second/2, high || d >= time.Second/2
	}
	if !low || !high {
		t.Errorf("200 draws of a 1 s backoff all fell in one half (below 500ms: %v, above: %v)", low, high)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"5", 5 * time.Second}, {" 5 ", 5 * time.Second}, {"0", 0}, {"-1", 0}, {"86400", 24 * time.Hour}, {"86401", 0},
		{"x", 0}, {now.Add(time.Minute).Format(http.TimeFormat), time.Minute}, {now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(25 * time.Hour).Format(http.TimeFormat), 0},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), 24 * time.Hour}, // a day away, the longest accepted
		{now.Add(24*time.Hour + time.Second).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzParseRetryAfter: go test ./internal/alexahttp -fuzz FuzzParseRetryAfter
// (from skillmessaging/). Whatever the header, the delay is within a day.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "Wed, 21 Oct 2026 07:28:00 GMT", "", "-3", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 10, 21, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := ParseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s; want 0 to %s", v, d, maxRetryAfter)
		}
	})
}
