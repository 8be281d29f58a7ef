package alexahttp

import "regexp"

// skillIDPattern matches the two forms Amazon issues: amzn1.ask.skill.<uuid>
// and the legacy amzn1.echo-sdk-ams.app.<uuid>.
var skillIDPattern = regexp.MustCompile(`^amzn1\.(?:ask\.skill|echo-sdk-ams\.app)\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidSkillID reports whether id is amzn1.ask.skill.<uuid> or the legacy
// amzn1.echo-sdk-ams.app.<uuid>.
func ValidSkillID(id string) bool { return skillIDPattern.MatchString(id) }
