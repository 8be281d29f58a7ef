package skillmessaging

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Mask is what a Secret prints as.
const Mask = "[REDACTED]"

// Secret is a client secret. Printing it with fmt (any verb), logging it with
// log/slog or marshalling it to JSON yields Mask; only Reveal (or a
// conversion to string) returns the content.
type Secret string

// Reveal returns the secret content. Call it only where the content is sent
// to the service that needs it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer with Mask.
func (s Secret) String() string { return Mask }

// GoString implements fmt.GoStringer with Mask, for %#v.
func (s Secret) GoString() string { return Mask }

// Format implements fmt.Formatter, so that every verb (%x and %q included)
// prints Mask.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Mask)) }

// LogValue implements slog.LogValuer with Mask.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Mask) }

// MarshalJSON implements json.Marshaler with Mask.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Mask) }

// Credentials are a skill's Skill Messaging credentials as the sync stored
// them. Printing or logging them shows the ids, never the secret.
type Credentials struct {
	// SkillID is the secret's skillId.
	SkillID string
	// ClientID is the skill's LWA client id.
	ClientID string
	// ClientSecret is the skill's LWA client secret.
	ClientSecret Secret
}
