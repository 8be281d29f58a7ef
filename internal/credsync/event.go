package credsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnsupportedEvent is returned (wrapped) for an event the function does
// not handle.
var ErrUnsupportedEvent = errors.New("unsupported event")

// Request is what an invocation asks for.
type Request struct {
	// SkillIDs limits the sync to these skills; empty means every skill.
	SkillIDs []string
	// Rotation is set for a Secrets Manager rotation event.
	Rotation *RotationEvent
	// Deploy is set for the sync the stack runs at deploy time: an LWA
	// secret that is not filled in yet is not an error then.
	Deploy bool
}

// DeploySource is the "source" of the event the stack sends at deploy time:
// {"source": "alexa-skill-credentials.deploy"}.
const DeploySource = "alexa-skill-credentials.deploy"

// RotationEvent is the event Secrets Manager sends a rotation function.
type RotationEvent struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
}

// ParseEvent reads an invocation's payload: {} or null (sync every skill), an
// EventBridge scheduled event (every skill), {"skillIds": [...]} (those
// skills), the deploy-time event {"source": DeploySource} (every skill), or a
// Secrets Manager rotation event. Anything else is an error
// wrapping ErrUnsupportedEvent.
func ParseEvent(raw []byte) (Request, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return Request{}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Request{}, fmt.Errorf("%w: the payload is not a JSON object; want {}, an EventBridge scheduled event or {\"skillIds\": [...]}", ErrUnsupportedEvent)
	}
	switch {
	case len(fields) == 0:
		return Request{}, nil
	case fields["detail-type"] != nil && fields["source"] != nil:
		var ev struct {
			DetailType string `json:"detail-type"`
			Source     string `json:"source"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.DetailType != "Scheduled Event" {
			return Request{}, fmt.Errorf("%w: EventBridge event %s from %s; want a \"Scheduled Event\"", ErrUnsupportedEvent, clip(ev.DetailType), clip(ev.Source))
		}
		return Request{}, nil
	case fields["Step"] != nil || fields["ClientRequestToken"] != nil:
		var ev RotationEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Step == "" || ev.SecretID == "" || ev.ClientRequestToken == "" {
			return Request{}, fmt.Errorf("%w: a rotation event needs string Step, SecretId and ClientRequestToken", ErrUnsupportedEvent)
		}
		return Request{Rotation: &ev}, nil
	case len(fields) == 1 && fields["source"] != nil:
		var src string
		if err := json.Unmarshal(fields["source"], &src); err != nil || src != DeploySource {
			return Request{}, fmt.Errorf("%w: source must be %q", ErrUnsupportedEvent, DeploySource)
		}
		return Request{Deploy: true}, nil
	case len(fields) == 1 && fields["skillIds"] != nil:
		var ids []string
		if err := json.Unmarshal(fields["skillIds"], &ids); err != nil {
			return Request{}, fmt.Errorf("%w: skillIds must be a list of strings", ErrUnsupportedEvent)
		}
		if len(ids) == 0 {
			return Request{}, fmt.Errorf("%w: skillIds is empty; send {} to sync every skill", ErrUnsupportedEvent)
		}
		return Request{SkillIDs: dedupe(ids)}, nil
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, clip(k))
	}
	sort.Strings(keys)
	return Request{}, fmt.Errorf("%w: keys %s; want {}, an EventBridge scheduled event or {\"skillIds\": [...]}", ErrUnsupportedEvent, strings.Join(keys, ", "))
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// clip bounds an untrusted string quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%.64q…", s)
	}
	return fmt.Sprintf("%q", s)
}
