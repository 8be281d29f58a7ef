package skillmessaging

import (
	"context"
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

// Format implements fmt.Formatter: whatever the verb, Credentials print their
// ids and Mask for the secret.
func (c Credentials) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "{SkillID:%s ClientID:%s ClientSecret:%s}", c.SkillID, c.ClientID, Mask)
}

// LogValue implements slog.LogValuer: the ids, never the secret.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("skillId", c.SkillID), slog.String("clientId", c.ClientID), slog.String("clientSecret", Mask))
}

// CredentialsProvider gives a TokenSource or a Sender the messaging
// credentials of a skill. CredentialsCache reads them from the sync's secret
// in Secrets Manager; StaticCredentials holds a fixed pair (from the
// environment, the AWS Parameters and Secrets Lambda extension, or a test).
// When LWA refuses the credentials (invalid_client), the token source asks
// again: it calls Reload instead if the provider has a method
// Reload(ctx, skillID) (Credentials, error), as CredentialsCache does.
// Implementations must be safe for concurrent use.
type CredentialsProvider interface {
	Credentials(ctx context.Context, skillID string) (Credentials, error)
}

// StaticCredentials returns a CredentialsProvider that always answers c. It
// refuses another skill than c.SkillID (when set) with an error matching
// ErrMalformedSecret, and empty credentials with one matching ErrNotSynced.
func StaticCredentials(c Credentials) CredentialsProvider { return static(c) }

type static Credentials

func (s static) Credentials(_ context.Context, skillID string) (Credentials, error) {
	c := Credentials(s)
	switch {
	case c.ClientID == "" || c.ClientSecret == "":
		return Credentials{}, fmt.Errorf("static credentials: %w: clientId or clientSecret is empty", ErrNotSynced)
	case c.SkillID != "" && skillID != "" && c.SkillID != skillID:
		return Credentials{}, fmt.Errorf("static credentials: %w: they are for skill %s, not %s", ErrMalformedSecret, c.SkillID, skillID)
	}
	if c.SkillID == "" {
		c.SkillID = skillID
	}
	return c, nil
}

// Format implements fmt.Formatter like Credentials.
func (s static) Format(f fmt.State, verb rune) { Credentials(s).Format(f, verb) }
