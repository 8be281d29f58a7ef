package contract

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateSkillID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"ask skill", "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", true},
		{"legacy", "amzn1.echo-sdk-ams.app.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", true},
		{"upper-case hex", "amzn1.ask.skill.0F1E2D3C-4B5A-4978-8796-A5B4C3D2E1F0", true},
		{"empty", "", false},
		{"no uuid", "amzn1.ask.skill.", false},
		{"short uuid", "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f", false},
		{"traversal", "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0/../../x", false},
		{"slash", "amzn1.ask.skill/0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", false},
		{"trailing newline", "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0\n", false},
		{"other prefix", "amzn1.ask.account.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", false},
		{"query", "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0?x=1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSkillID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateSkillID(%q) = %v; want ok=%v", tt.id, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSkillID) {
				t.Errorf("ValidateSkillID(%q) = %v; want it to wrap ErrInvalidSkillID", tt.id, err)
			}
			if tt.ok && len(tt.id) > MaxSkillIDLen {
				t.Errorf("valid id %q is longer than MaxSkillIDLen %d", tt.id, MaxSkillIDLen)
			}
		})
	}
	if longest := "amzn1.echo-sdk-ams.app.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"; len(longest) != MaxSkillIDLen {
		t.Errorf("MaxSkillIDLen = %d; the longest valid id has %d bytes", MaxSkillIDLen, len(longest))
	}
}

// FuzzValidateSkillID checks that whatever passes validation is safe to put
// in a URL path and a secret name. Run: go test -fuzz FuzzValidateSkillID ./internal/contract
func FuzzValidateSkillID(f *testing.F) {
	for _, s := range []string{"amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", "amzn1.echo-sdk-ams.app.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", "../", "amzn1.ask.skill.%2e%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateSkillID(id) != nil {
			return
		}
		if strings.ContainsAny(id, "/?#%\\ \n\t*") || strings.Contains(id, "..") || len(id) > MaxSkillIDLen {
			t.Fatalf("ValidateSkillID accepted unsafe id %q", id)
		}
	})
}

func TestInvalidIDIsShownCut(t *testing.T) {
	exact := strings.Repeat("x", 80)
	if err := ValidateSkillID(exact); !strings.Contains(err.Error(), `"`+exact+`"`) {
		t.Errorf("ValidateSkillID(80 bytes) = %v; want the id whole", err)
	}
	if err := ValidateSkillID(exact + "y"); !strings.Contains(err.Error(), `"`+exact+`…"`) {
		t.Errorf("ValidateSkillID(81 bytes) = %v; want 80 bytes and …", err)
	}
	// A cut never splits a character: é is 2 bytes, at bytes 79 and 80.
	if err := ValidateSkillID(strings.Repeat("a", 79) + "é"); !strings.Contains(err.Error(), `"`+strings.Repeat("a", 79)+`…"`) {
		t.Errorf("ValidateSkillID(multibyte at the cut) = %v; want the cut before é", err)
	}
	// Invalid UTF-8 with no rune start before the cut is cut to nothing,
	// not past the string's start.
	if err := ValidateSkillID(strings.Repeat("\x80", 81)); !strings.Contains(err.Error(), `"…"`) {
		t.Errorf("ValidateSkillID(81 continuation bytes) = %v; want an empty cut and …", err)
	}
	long := strings.Repeat("V", 200)
	if err := ValidateVendorID(long + "-"); !strings.Contains(err.Error(), `"`+long+`…"`) {
		t.Errorf("ValidateVendorID(201 bytes) = %v; want 200 bytes and …", err)
	}
}

func TestValidateVendorID(t *testing.T) {
	for id, ok := range map[string]bool{
		"M1ABCDEFGHIJKL": true, "m1abc": true, strings.Repeat("A", 255): true,
		"": false, strings.Repeat("A", 256): false, "M1/../x": false, "M1 A": false, "M1-A": false,
	} {
		if err := ValidateVendorID(id); (err == nil) != ok {
			t.Errorf("ValidateVendorID(%q) = %v; want ok=%v", id, err, ok)
		}
	}
}

// TestMetricsListsEveryName checks that Metrics holds each metric name once.
func TestMetricsListsEveryName(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Metrics {
		if m == "" || seen[m] {
			t.Errorf("metric name %q is empty or listed twice", m)
		}
		seen[m] = true
	}
	if len(Metrics) != 9 {
		t.Errorf("Metrics has %d names; want the 9 of the const block", len(Metrics))
	}
}
