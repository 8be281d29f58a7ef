package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretInfo is what DescribeSecret says of a secret, as rotation needs it.
type SecretInfo struct {
	ARN             string
	Name            string
	RotationEnabled bool
	// NextRotationDate is when the schedule rotates next (nil: no
	// schedule); Secrets Manager sets it once a rotation completes.
	NextRotationDate *time.Time
	// Stages maps each version id to its staging labels.
	Stages map[string][]string
}

// VersionWithStage returns the id of the version carrying stage, or "".
func (i *SecretInfo) VersionWithStage(stage string) string {
	for v, stages := range i.Stages {
		if slices.Contains(stages, stage) {
			return v
		}
	}
	return ""
}

// Describe returns the name, rotation state and version stages of id (a
// name or an ARN).
func (s *Store) Describe(ctx context.Context, id string) (*SecretInfo, error) {
	out, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &id})
	if err != nil {
		return nil, fmt.Errorf("describe secret %s: %w", id, err)
	}
	return &SecretInfo{
		ARN:              aws.ToString(out.ARN),
		Name:             aws.ToString(out.Name),
		RotationEnabled:  aws.ToBool(out.RotationEnabled),
		NextRotationDate: out.NextRotationDate,
		Stages:           out.VersionIdsToStages,
	}, nil
}

// ReadVersion returns the value of version versionID (any version when
// empty) carrying stage. found is false when that version has no value yet,
// as a version Secrets Manager staged for rotation before createSecret ran.
func (s *Store) ReadVersion(ctx context.Context, id, versionID, stage string) (value string, found bool, err error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: &id, VersionStage: &stage}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := s.api.GetSecretValue(ctx, in)
	if IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s version of secret %s: %w", stage, id, err)
	}
	return aws.ToString(out.SecretString), true, nil
}

// PutPending stores value as version token with the AWSPENDING stage.
func (s *Store) PutPending(ctx context.Context, id, token, value string) error {
	_, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           &id,
		ClientRequestToken: &token,
		SecretString:       &value,
		VersionStages:      []string{StagePending},
	})
	if err != nil {
		return fmt.Errorf("put pending version %s of secret %s: %w", token, id, err)
	}
	return nil
}

// Promote moves AWSCURRENT from version current to version token; Secrets
// Manager then labels current AWSPREVIOUS.
func (s *Store) Promote(ctx context.Context, id, token, current string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        &id,
		VersionStage:    aws.String(StageCurrent),
		MoveToVersionId: &token,
	}
	if current != "" {
		in.RemoveFromVersionId = &current
	}
	if _, err := s.api.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("move AWSCURRENT of secret %s to version %s: %w", id, token, err)
	}
	return nil
}

// DropPending removes AWSPENDING from version token, which ends a rotation
// without moving AWSCURRENT.
func (s *Store) DropPending(ctx context.Context, id, token string) error {
	if _, err := s.api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            &id,
		VersionStage:        aws.String(StagePending),
		RemoveFromVersionId: &token,
	}); err != nil {
		return fmt.Errorf("remove AWSPENDING from version %s of secret %s: %w", token, id, err)
	}
	return nil
}

// ParseSkillSecret reads a skill secret's value. A value with only skillId
// (not synced yet) or with an empty field is an error.
func ParseSkillSecret(value string) (SkillSecret, error) {
	var v struct {
		SkillID      string `json:"skillId"`
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return SkillSecret{}, fmt.Errorf("skill secret value is not a JSON object")
	}
	var missing []string
	for k, f := range map[string]string{"skillId": v.SkillID, "clientId": v.ClientID, "clientSecret": v.ClientSecret} {
		if strings.TrimSpace(f) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return SkillSecret{}, fmt.Errorf("skill secret value has no %s", strings.Join(missing, ", "))
	}
	return SkillSecret{SkillID: v.SkillID, ClientID: v.ClientID, ClientSecret: secret.Value(v.ClientSecret)}, nil
}
