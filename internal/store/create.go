package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// CreateSkillSecret creates the secret name holding v, encrypted with
// kmsKeyID and tagged contract.ManagedTagKey=true. The request token is derived from
// the value, so a retried create is idempotent: Secrets Manager ignores a
// repeated request whose token and value match (and reports success again).
// When the secret exists with another value (made meanwhile by an overlapping
// run, or by hand), v is written as WriteSkill does: created is false and
// changed says whether a version was written.
func (s *Store) CreateSkillSecret(ctx context.Context, name, kmsKeyID string, v SkillSecret) (created, changed bool, err error) {
	value := v.Value()
	_, err = s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               &name,
		Description:        aws.String("Alexa skill messaging client id and secret of " + v.SkillID + ", created and kept current by the skill credential sync"),
		KmsKeyId:           &kmsKeyID,
		SecretString:       &value,
		ClientRequestToken: aws.String(RequestToken("", value)),
		Tags:               []types.Tag{{Key: aws.String(contract.ManagedTagKey), Value: aws.String("true")}},
	})
	var exists *types.ResourceExistsException
	switch {
	case errors.As(err, &exists):
		changed, err = s.WriteSkill(ctx, name, v)
		return false, changed, err
	case err != nil:
		return false, false, fmt.Errorf("create skill secret %s: %w", name, err)
	}
	return true, true, nil
}

// ScheduleRotation puts the secret name under rotation by the function
// lambdaARN every days days, without rotating it now: the schedule the stack
// gives its own skill secrets. Secrets Manager then tests the configuration
// by calling the function's testSecret step.
func (s *Store) ScheduleRotation(ctx context.Context, name, lambdaARN string, days int) error {
	_, err := s.api.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          &name,
		RotationLambdaARN: &lambdaARN,
		RotationRules:     &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(int64(days))},
		RotateImmediately: aws.Bool(false),
	})
	if err != nil {
		return fmt.Errorf("schedule rotation of secret %s every %d days: %w", name, days, err)
	}
	return nil
}
