// Package redacttest checks that a value holding secrets prints none of
// them: with every fmt verb, through both log/slog handlers, and as JSON.
// Each package with a secret-holding type runs its types through Check in a
// table test.
package redacttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// Verbs are the fmt verbs, with the flags that change what they print, that
// Check formats a value with: every verb fmt knows, valid for the type or
// not (a wrong verb still prints the value inside %!verb(…)).
//
// %p is used only for pointers. With any other value fmt prints it by
// reflection, bypassing every method (Format, String, LogValue): no type
// can redact itself there, and go vet's printf check refuses such a call.
var Verbs = []string{
	"%v", "%+v", "%#v", "%T", "%s", "%q", "%+q", "%#q", "%x", "%X", "% x", "% X", "%#x",
	"%d", "%+d", "%o", "%O", "%b", "%c", "%U", "%#U", "%e", "%E", "%f", "%F", "%g", "%G", "%t", "%p",
}

// Outputs returns what each way of printing v gives, keyed by the verb or
// by "slog text", "slog JSON" and "JSON".
func Outputs(v any) map[string]string {
	out := make(map[string]string, len(Verbs)+3)
	for _, verb := range Verbs {
		if verb == "%p" && reflect.ValueOf(v).Kind() != reflect.Pointer {
			continue
		}
		out[verb] = fmt.Sprintf(verb, v)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("m", "value", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "value", v)
	out["slog text"], out["slog JSON"] = text.String(), js.String()
	if b, err := json.Marshal(v); err == nil {
		out["JSON"] = string(b)
	}
	return out
}

// Leak returns how out, made with verb (or a handler), shows secret, or "".
// Besides the secret itself it looks for the forms fmt gives the secret's
// string and bytes with that verb and with %v (bytes print as numbers, in
// hex, octal or binary, or as characters).
func Leak(out, verb, secret string) string {
	forms := map[string]string{"as is": secret}
	for _, vb := range []string{verb, "%v", "%x", "%X"} {
		if !strings.HasPrefix(vb, "%") || vb == "%T" || vb == "%p" {
			continue
		}
		forms["string with "+vb] = strings.Trim(fmt.Sprintf(vb, secret), `"`+"`")
		// The bytes, without the brackets around the list: a secret's
		// bytes inside a longer []byte print the same way.
		b := fmt.Sprintf(vb, []byte(secret))
		b = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(b, "[]byte{"), "["), "}")
		forms["bytes with "+vb] = strings.TrimSuffix(b, "]")
	}
	for name, f := range forms {
		if len(f) >= 4 && strings.Contains(out, f) {
			return name
		}
	}
	return ""
}

// Check fails t for every way of printing v that shows one of secrets.
func Check(t testing.TB, name string, v any, secrets ...string) {
	t.Helper()
	for how, out := range Outputs(v) {
		for _, s := range secrets {
			if form := Leak(out, how, s); form != "" {
				t.Errorf("%s printed with %s shows a secret (%s): %s", name, how, form, out)
			}
		}
	}
}
