package credsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// Rotation steps, as Secrets Manager names them.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// ErrRotation is wrapped by every refusal of a rotation step.
var ErrRotation = errors.New("rotation refused")

// Rotate runs one step of the Secrets Manager rotation protocol for a skill
// secret. Every step is idempotent: Secrets Manager retries failed steps and
// may call one twice. No step ever moves AWSCURRENT except a successful
// finishSecret, so a failure leaves the current credentials in place.
func (s *Syncer) Rotate(ctx context.Context, ev RotationEvent) error {
	start := time.Now()
	rs := rotationStep{Syncer: s, ev: ev}
	call, cancel := s.callContext(ctx)
	defer cancel()
	status, err := rs.run(ctx, call)
	attrs := []slog.Attr{
		slog.String("skill_id", rs.skillID),
		slog.String("secret_id", ev.SecretID),
		slog.String("step", ev.Step),
		slog.String("status", status),
		slog.String("request_id", rs.requestID),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
		slog.String("trigger", rs.trigger),
	}
	level := slog.LevelInfo
	if err != nil {
		skill := rs.skillID
		if skill == "" {
			skill = "(unknown)"
		}
		err = fmt.Errorf("rotation step %s for skill %s (secret %s): %w", ev.Step, skill, ev.SecretID, err)
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.Logger.LogAttrs(ctx, level, "rotation step", attrs...)
	return err
}

type rotationStep struct {
	*Syncer
	ev        RotationEvent
	skillID   string
	requestID string
	trigger   string
}

// Triggers of a rotation, in each step's log line.
const (
	TriggerSchedule = "schedule"
	// TriggerOnDemand is a rotation requested outside the schedule:
	// RotateSecret (the console's "Rotate secret immediately", the CLI,
	// a skill Lambda's skillmessaging.WithRotateOnRefusal).
	TriggerOnDemand = "on demand"
)

// trigger tells a scheduled rotation from one requested outside the
// schedule. Secrets Manager sets NextRotationDate when a rotation completes
// (the last rotation's date plus the interval) and starts the scheduled one
// at a random hour of that date's 24-hour window
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot_rotation.html,
// "I can't predict when rotation will start"). A rotation running before
// that date began, or on a secret without a schedule, was requested outside
// it. (LastRotatedDate, the end of the previous rotation, does not tell:
// both kinds follow one.)
func trigger(now time.Time, next *time.Time) string {
	if next != nil && !now.Before(next.UTC().Truncate(24*time.Hour)) {
		return TriggerSchedule
	}
	return TriggerOnDemand
}

// run runs the step; LWA and SMAPI are called within call (see
// Syncer.callContext).
func (r *rotationStep) run(ctx, call context.Context) (string, error) {
	info, err := r.Store.Describe(ctx, r.ev.SecretID)
	if err != nil {
		return StatusFailed, err
	}
	id, ok := strings.CutPrefix(info.Name, r.Prefix)
	if !ok || id == "" {
		return StatusFailed, fmt.Errorf("%w: secret %s is not under SKILL_SECRET_PREFIX %q", ErrRotation, info.Name, r.Prefix)
	}
	if err := contract.ValidateSkillID(id); err != nil {
		return StatusFailed, fmt.Errorf("%w: %w", ErrRotation, err)
	}
	r.skillID = id
	r.trigger = trigger(time.Now(), info.NextRotationDate)
	if !info.RotationEnabled {
		return StatusFailed, fmt.Errorf("%w: rotation is not enabled for secret %s", ErrRotation, info.Name)
	}
	stages, staged := info.Stages[r.ev.ClientRequestToken]
	switch {
	case r.ev.Step == StepFinish && len(stages) == 0 && info.VersionWithStage(store.StagePending) == "":
		// An earlier finishSecret ended the rotation without a new
		// version (see finish).
		return "already finished", nil
	case !staged:
		return StatusFailed, fmt.Errorf("%w: version %s is not a version of secret %s", ErrRotation, r.ev.ClientRequestToken, info.Name)
	case slices.Contains(stages, store.StageCurrent):
		return "already current", nil
	case !slices.Contains(stages, store.StagePending):
		return StatusFailed, fmt.Errorf("%w: version %s of secret %s is not staged AWSPENDING", ErrRotation, r.ev.ClientRequestToken, info.Name)
	}
	switch r.ev.Step {
	case StepCreate:
		return r.create(ctx, call, info)
	case StepSet:
		// The credentials live at Amazon: there is nothing to set.
		return "done", nil
	case StepTest:
		return r.test(ctx, call, info)
	case StepFinish:
		return r.finish(ctx, info)
	}
	return StatusFailed, fmt.Errorf("%w: unknown step %s", ErrRotation, clip(r.ev.Step))
}

// create fetches the skill's credentials and stores them as the pending
// version, unless an earlier call already did.
func (r *rotationStep) create(ctx, call context.Context, info *store.SecretInfo) (string, error) {
	if v, found, err := r.Store.ReadVersion(ctx, info.ARN, r.ev.ClientRequestToken, store.StagePending); err != nil {
		return StatusFailed, err
	} else if found && v != "" {
		return "already created", nil
	}
	lwa, err := r.login(ctx, call)
	if err != nil {
		return StatusFailed, err
	}
	saveErr := r.saveRotatedToken(ctx, lwa)
	creds, err := r.Client.GetSkillCredentials(call, r.skillID)
	if err != nil {
		r.requestID = smapi.RequestID(err)
		return StatusFailed, err
	}
	r.requestID = creds.RequestID
	value := store.SkillSecret{SkillID: r.skillID, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret}.Value()
	current, _, err := r.Store.ReadVersion(ctx, info.ARN, "", store.StageCurrent)
	if err != nil {
		return StatusFailed, err
	}
	if err := r.Store.PutPending(ctx, info.ARN, r.ev.ClientRequestToken, value); err != nil {
		return StatusFailed, err
	}
	status := "created"
	if current == value {
		status = StatusUnchanged
	}
	return status, saveErr
}

// test proves the pending credentials with an LWA client_credentials grant.
func (r *rotationStep) test(ctx, call context.Context, info *store.SecretInfo) (string, error) {
	v, found, err := r.Store.ReadVersion(ctx, info.ARN, r.ev.ClientRequestToken, store.StagePending)
	if err != nil {
		return StatusFailed, err
	}
	if !found {
		return StatusFailed, fmt.Errorf("%w: version %s has no value: createSecret has not run", ErrRotation, r.ev.ClientRequestToken)
	}
	pending, err := store.ParseSkillSecret(v)
	if err != nil {
		// When a rotation schedule is set up without rotating (as the stack
		// does), Secrets Manager tests the configuration on a copy of the
		// current value. Before the first sync that copy holds only the
		// skill id: there is nothing to test, and failing would fail the
		// deployment.
		// createSecret always stores credentials, so a pending value without
		// them can only be such a copy.
		if isUnsynced(v, r.skillID) {
			return "not synced yet, nothing to test", nil
		}
		return StatusFailed, fmt.Errorf("pending version %s: %w", r.ev.ClientRequestToken, err)
	}
	if _, err := r.Client.Retrier.Do(call, func(ctx context.Context) error {
		return r.Tokens.CheckMessagingCredentials(ctx, pending.ClientID, pending.ClientSecret)
	}); err != nil {
		r.requestID = smapi.RequestID(err)
		return StatusFailed, fmt.Errorf("pending credentials do not work: %w", err)
	}
	return "tested", nil
}

// finish moves AWSCURRENT to the token's version, unless AWSCURRENT already
// holds the same value (the skill's credentials did not change, or a sync
// or another rotation stored them meanwhile): then it only removes
// AWSPENDING from the token's version, which ends the rotation as Secrets
// Manager requires, so that concurrent requests and a scheduled run leave
// one version with the fresh credentials, not one each.
func (r *rotationStep) finish(ctx context.Context, info *store.SecretInfo) (string, error) {
	pending, found, err := r.Store.ReadVersion(ctx, info.ARN, r.ev.ClientRequestToken, store.StagePending)
	if err != nil {
		return StatusFailed, err
	}
	current, _, err := r.Store.ReadVersion(ctx, info.ARN, "", store.StageCurrent)
	if err != nil {
		return StatusFailed, err
	}
	if found && pending == current {
		if err := r.Store.DropPending(ctx, info.ARN, r.ev.ClientRequestToken); err != nil {
			return StatusFailed, err
		}
		return "finished, current kept", nil
	}
	if err := r.Store.Promote(ctx, info.ARN, r.ev.ClientRequestToken, info.VersionWithStage(store.StageCurrent)); err != nil {
		return StatusFailed, err
	}
	return "finished", nil
}

// isUnsynced reports whether value is a skill secret before its first sync:
// {"skillId": id} and nothing else.
func isUnsynced(value, skillID string) bool {
	var v map[string]any
	if json.Unmarshal([]byte(value), &v) != nil || len(v) != 1 {
		return false
	}
	return v["skillId"] == skillID
}
