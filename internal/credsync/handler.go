package credsync

import (
	"context"
	"encoding/json"
	"fmt"
)

// Handle is the Lambda handler: it parses the event and runs the sync it
// asks for. Rotation events are refused until the rotation steps exist.
func (s *Syncer) Handle(ctx context.Context, event json.RawMessage) (*Summary, error) {
	req, err := ParseEvent(event)
	if err != nil {
		s.Logger.ErrorContext(ctx, "event refused", "error", err.Error())
		return nil, err
	}
	if req.Rotation != nil {
		err := fmt.Errorf("%w: Secrets Manager rotation (step %s of %s) is not supported by this version of the function; run a sync with {} or {\"skillIds\": [...]} instead",
			ErrUnsupportedEvent, clip(req.Rotation.Step), clip(req.Rotation.SecretID))
		s.Logger.ErrorContext(ctx, "event refused", "error", err.Error())
		return nil, err
	}
	return s.Run(ctx, req)
}
