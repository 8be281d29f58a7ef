package redacttest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// recorder collects what Check reports instead of failing the test.
type recorder struct {
	*testing.T
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

type masked string

func (masked) String() string               { return "[REDACTED]" }
func (m masked) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }
func (masked) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }

// TestCheckFindsLeaks: Check must be able to fail, in every form a careless
// type prints a secret.
func TestCheckFindsLeaks(t *testing.T) {
	const s = "s3cret-NEVER-PRINTED"
	tests := []struct {
		name     string
		v        any
		wantLeak []string // outputs that must be reported
	}{
		{"string field", struct{ Secret string }{s}, []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "slog text", "slog JSON", "JSON"}},
		{"raw JSON field", struct{ raw json.RawMessage }{json.RawMessage(`"` + s + `"`)}, []string{"%v", "%+v", "%#v", "%x", "%X", "% x", "%#x", "%d", "%o", "%O", "%b", "%c", "%U", "%e", "%g", "slog text"}},
		{"masked", masked(s), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{T: t}
			Check(r, tt.name, tt.v, s)
			all := strings.Join(r.errs, "\n")
			for _, how := range tt.wantLeak {
				if !strings.Contains(all, "printed with "+how+" shows") {
					t.Errorf("Check did not report %s:\n%s", how, all)
				}
			}
			if tt.wantLeak == nil && len(r.errs) > 0 {
				t.Errorf("Check reported a safe value:\n%s", all)
			}
		})
	}
}
