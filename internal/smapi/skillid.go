package smapi

import (
	"errors"
	"fmt"
	"regexp"
)

// skillIDPattern matches the two forms Amazon issues: amzn1.ask.skill.<uuid>
// and the legacy amzn1.echo-sdk-ams.app.<uuid>.
var skillIDPattern = regexp.MustCompile(`^amzn1\.(?:ask\.skill|echo-sdk-ams\.app)\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ErrInvalidSkillID is returned (wrapped) for a skill id of the wrong form.
var ErrInvalidSkillID = errors.New("invalid skill id")

// ValidateSkillID returns nil when id is amzn1.ask.skill.<uuid> or the legacy
// amzn1.echo-sdk-ams.app.<uuid>, and an error wrapping ErrInvalidSkillID
// otherwise. An id that fails here is never sent to SMAPI.
func ValidateSkillID(id string) error {
	if skillIDPattern.MatchString(id) {
		return nil
	}
	shown := id
	if len(shown) > 80 {
		shown = shown[:80] + "…"
	}
	return fmt.Errorf("%w %q: want amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>", ErrInvalidSkillID, shown)
}
