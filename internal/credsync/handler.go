package credsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// Handle is the Lambda handler: it parses the event and runs the sync or the
// rotation step it asks for. A rotation step returns no summary.
func (s *Syncer) Handle(ctx context.Context, event json.RawMessage) (*Summary, error) {
	req, err := ParseEvent(event)
	if err != nil {
		s.Logger.ErrorContext(ctx, "event refused", "error", err.Error())
		return nil, err
	}
	if req.Rotation != nil {
		return nil, s.Rotate(ctx, *req.Rotation)
	}
	sum, err := s.Run(ctx, req)
	if req.Deploy && errors.Is(err, store.ErrLWANotConfigured) {
		// The first deploy creates the LWA secret with a placeholder: that
		// is the expected state, not a failure of the deployment.
		sum.Message = fmt.Sprintf("nothing synced: the LWA secret %s is not filled in yet; fill it in (make fill-lwa-secret, docs/deploy.md#fill-the-lwa-secret) and run make sync", s.LWASecretID)
		s.Logger.WarnContext(ctx, "deploy-time sync skipped", "run", RunDeploy, "reason", sum.Message)
		return sum, nil
	}
	return sum, err
}
