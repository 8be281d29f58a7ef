package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/redacttest"
)

func TestValueNeverPrints(t *testing.T) {
	const content = "s3cr3t-content"
	v := Value(content)
	holder := struct {
		Name   string
		Secret Value
	}{"x", v}

	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "secret", v, "holder", holder)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "secret", v)

	outputs := map[string]string{
		"%v":       fmt.Sprintf("%v", v),
		"%s":       fmt.Sprintf("%s", any(v)),
		"%q":       fmt.Sprintf("%q", v),
		"%x":       fmt.Sprintf("%x", v),
		"%#v":      fmt.Sprintf("%#v", v),
		"%+v hold": fmt.Sprintf("%+v", holder),
		"%#v hold": fmt.Sprintf("%#v", holder),
		"json":     string(js),
		"slog":     logs.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, content) || strings.Contains(out, fmt.Sprintf("%x", content)) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, Mask) && name != "%x" {
			t.Errorf("%s = %q; want it to show %q", name, out, Mask)
		}
	}
	if got := v.Reveal(); got != content {
		t.Errorf("Reveal() = %q; want %q", got, content)
	}
	if v.IsZero() || !Value("").IsZero() {
		t.Error("IsZero is wrong")
	}
}

// TestRedaction: a Value prints no secret with any fmt verb, through either
// slog handler or as JSON, alone or inside what holds it.
func TestRedaction(t *testing.T) {
	const content = "s3cr3t-content-NEVER-PRINTED"
	v := Value(content)
	type holder struct {
		Name   string
		Secret Value
	}
	for name, x := range map[string]any{
		"Value":              v,
		"*Value":             &v,
		"struct with Value":  holder{"x", v},
		"*struct with Value": &holder{"x", v},
		"[]Value":            []Value{v, v},
		"map of Value":       map[string]Value{"k": v},
	} {
		redacttest.Check(t, name, x, content)
	}
	if got := fmt.Sprintf("%d|%c|%q", v, v, v); got != Mask+"|"+Mask+"|"+Mask {
		t.Errorf("Value prints %q; want the mask for every verb", got)
	}
}
