package store

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

const testKeyARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestCreateSkillSecret(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	prefix := "create/" + t.Name() + "/"
	name := prefix + "amzn1.ask.skill.x"
	v := SkillSecret{SkillID: "amzn1.ask.skill.x", ClientID: "client-1", ClientSecret: "secret-1"}

	created, changed, err := s.CreateSkillSecret(ctx, name, testKeyARN, v)
	if err != nil || !created || !changed {
		t.Fatalf("CreateSkillSecret = %v, %v, %v; want created", created, changed, err)
	}
	out, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.KmsKeyId) != testKeyARN || len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != contract.ManagedTagKey || aws.ToString(out.Tags[0].Value) != "true" {
		t.Errorf("created secret: key %q, tags %+v; want the key and only the managed tag", aws.ToString(out.KmsKeyId), out.Tags)
	}
	if got, _ := current(t, api, name); got != v.Value() {
		t.Errorf("value = %s; want %s", got, v.Value())
	}

	// Again with the same value (a retried create, or an overlapping run):
	// the request token is the same, and Secrets Manager ignores a repeated
	// request whose token and value match, as moto does.
	if _, _, err = s.CreateSkillSecret(ctx, name, testKeyARN, v); err != nil || versions(t, api, name) != 1 {
		t.Fatalf("repeated CreateSkillSecret = %v with %d versions; want success and one version", err, versions(t, api, name))
	}
	// With new credentials: written as a new version.
	v.ClientSecret = "secret-2"
	created, changed, err = s.CreateSkillSecret(ctx, name, testKeyARN, v)
	if err != nil || created || !changed || versions(t, api, name) != 2 {
		t.Fatalf("CreateSkillSecret over an existing secret = %v, %v, %v; want a new version", created, changed, err)
	}

	refs, err := s.ListSkillSecrets(ctx, prefix)
	if err != nil || len(refs) != 1 || !refs[0].Managed || refs[0].RotationEnabled {
		t.Fatalf("ListSkillSecrets = %+v, %v; want the secret, managed, without rotation", refs, err)
	}
}

func TestScheduleRotation(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	prefix := "rotation/" + t.Name() + "/"
	name := prefix + "amzn1.ask.skill.x"
	create(t, api, name, `{"skillId":"amzn1.ask.skill.x"}`)
	arn, err := moto.RotationFunctionARN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ScheduleRotation(ctx, name, arn, 30); err != nil {
		t.Fatal(err)
	}
	out, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(out.RotationEnabled) || aws.ToString(out.RotationLambdaARN) != arn || out.RotationRules == nil || aws.ToInt64(out.RotationRules.AutomaticallyAfterDays) != 30 {
		t.Errorf("rotation = %v %q %+v; want enabled, by %s, every 30 days", aws.ToBool(out.RotationEnabled), aws.ToString(out.RotationLambdaARN), out.RotationRules, arn)
	}
	if got, _ := current(t, api, name); got != `{"skillId":"amzn1.ask.skill.x"}` {
		t.Errorf("value after scheduling = %s; want it unchanged (no rotation now)", got)
	}
	refs, err := s.ListSkillSecrets(ctx, prefix)
	if err != nil || len(refs) != 1 || !refs[0].RotationEnabled || refs[0].Managed {
		t.Fatalf("ListSkillSecrets = %+v, %v; want rotation enabled, not managed", refs, err)
	}
	if err := s.ScheduleRotation(ctx, prefix+"missing", arn, 30); err == nil || !IsNotFound(err) {
		t.Errorf("ScheduleRotation of a missing secret = %v; want not found", err)
	}
}
