package smapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"abc", 0},
		{"1.5", 0},
		{"99999999999", 0},
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second},
		{"Wed, 25 Nov 2026 11:59:00 GMT", 0},
		{"Wednesday, 25-Nov-26 12:01:00 GMT", time.Minute},
		{"Thu, 26 Nov 2026 12:00:01 GMT", 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "smapi", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeCredentials(t *testing.T) {
	tests := []struct {
		fixture, contentType string
		wantReason           string // substring; "" means success
	}{
		{"credentials-ok.json", "application/json", ""},
		{"credentials-ok.json", "application/json;charset=UTF-8", ""},
		{"credentials-ok.json", "text/plain", "content type"},
		{"credentials-ok.json", "", "content type"},
		{"credentials-html.html", "text/html; charset=utf-8", "content type"},
		{"credentials-html.html", "application/json", "not valid JSON"},
		{"credentials-partial.json", "application/json", "not valid JSON"},
		{"credentials-empty-secret.json", "application/json", "clientSecret is missing or empty"},
		{"credentials-no-object.json", "application/json", "no skillMessagingCredentials"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+" "+tt.contentType, func(t *testing.T) {
			body := readFixture(t, tt.fixture)
			id, sec, reason := DecodeCredentials(tt.contentType, body)
			if tt.wantReason == "" {
				if reason != "" || id != "amzn1.application-oa2-client.0f1e2d3c4b5a69788796a5b4c3d2e1f0" || sec.Reveal() != "fixture-client-secret-7b1c2d" {
					t.Fatalf("DecodeCredentials = %q, %q; want the fixture's credentials", id, reason)
				}
				return
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Fatalf("DecodeCredentials reason = %q; want it to contain %q", reason, tt.wantReason)
			}
			if id != "" || !sec.IsZero() {
				t.Fatalf("DecodeCredentials returned credentials with reason %q", reason)
			}
		})
	}
	t.Run("other shapes", func(t *testing.T) {
		for body, want := range map[string]string{
			"":   "empty body",
			"  ": "empty body",
			`{"skillMessagingCredentials":{"clientId":" ","clientSecret":"x"}}`:  "clientId is missing or empty",
			`{"skillMessagingCredentials":{"clientId":1,"clientSecret":"x"}}`:    "wrong JSON shape",
			`{"skillMessagingCredentials":{"clientId":"a","clientSecret":"x"}}x`: "not valid JSON",
		} {
			if _, _, reason := DecodeCredentials("application/json", []byte(body)); !strings.Contains(reason, want) {
				t.Errorf("DecodeCredentials(%q) reason = %q; want %q", body, reason, want)
			}
		}
	})
}

// FuzzDecodeCredentials checks that decoding never panics and never returns
// half a result. Run: go test -fuzz FuzzDecodeCredentials ./internal/smapi
func FuzzDecodeCredentials(f *testing.F) {
	for _, name := range []string{"credentials-ok.json", "credentials-html.html", "credentials-partial.json", "credentials-empty-secret.json", "credentials-no-object.json"} {
		f.Add("application/json", readFixture(f, name))
	}
	f.Add("text/html", []byte("<html>"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		id, sec, reason := DecodeCredentials(contentType, body)
		if reason == "" && (strings.TrimSpace(id) == "" || strings.TrimSpace(sec.Reveal()) == "") {
			t.Fatalf("DecodeCredentials(%q) succeeded with an empty field", body)
		}
		if reason != "" && (id != "" || !sec.IsZero()) {
			t.Fatalf("DecodeCredentials(%q) returned credentials with reason %q", body, reason)
		}
		if reason != "" && len(body) > 8 && strings.Contains(reason, string(body)) {
			t.Fatalf("reason %q quotes the body", reason)
		}
	})
}

// FuzzParseRetryAfter checks the delay is never negative and never longer
// than a day. Run: go test -fuzz FuzzParseRetryAfter ./internal/smapi
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "Wed, 25 Nov 2026 12:00:30 GMT", "-1", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := ParseRetryAfter(v, now)
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v", v, d)
		}
	})
}
