// Package secret holds the one type that carries secret material through the
// program: a string that refuses to be printed.
package secret

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Mask is what a Value prints as, in every format and log handler.
const Mask = "[REDACTED]"

// Value is a secret string (a client secret, a refresh token, an access
// token). Printing it with fmt, logging it with slog or marshalling it to JSON
// yields Mask; only Reveal returns the content. The zero Value is empty.
type Value string

// Reveal returns the secret content. Call it only where the content is sent
// to the service that needs it.
func (v Value) Reveal() string { return string(v) }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v == "" }

// String implements fmt.Stringer with a fixed mask.
func (v Value) String() string { return Mask }

// GoString implements fmt.GoStringer with a fixed mask, for %#v.
func (v Value) GoString() string { return Mask }

// Format implements fmt.Formatter: every verb prints the mask. Without it
// a verb that does not fit a string (%d, %c, …) makes fmt print the content
// inside %!d(…), bypassing String.
func (v Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Mask) }

// LogValue implements slog.LogValuer with a fixed mask.
func (v Value) LogValue() slog.Value { return slog.StringValue(Mask) }

// MarshalJSON implements json.Marshaler with a fixed mask, so a struct holding
// a Value can be logged or returned without leaking it.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(Mask) }
