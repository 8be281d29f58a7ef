package skillmessagingmoto

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

var moto *motoserver.Server

func TestMain(m *testing.M) { motoserver.RunTests(m, &moto) }

// stages records the VersionStage of every read, so the test proves the
// cache always asks for AWSCURRENT (moto, like Secrets Manager, answers
// AWSCURRENT to a read without a stage, so the value alone cannot tell).
type stages struct {
	api skillmessaging.SecretsManagerAPI
	mu  sync.Mutex
	got []string
}

func (s *stages) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	s.got = append(s.got, aws.ToString(in.VersionStage))
	s.mu.Unlock()
	return s.api.GetSecretValue(ctx, in, opts...)
}

func TestCredentialsCacheAgainstMoto(t *testing.T) {
	const never = "NEVER-PRINTED"
	ctx := context.Background()
	api := moto.ResetT(t)
	create := func(name string, in secretsmanager.CreateSecretInput) string {
		t.Helper()
		in.Name = aws.String(name)
		out, err := api.CreateSecret(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	value := func(skill, client, secret string) string {
		return fmt.Sprintf(`{"skillId":%q,"clientId":%q,"clientSecret":%q}`, skill, client, secret)
	}
	const prefix = "moto-cache/"
	synced := "amzn1.ask.skill.00000000-0000-4000-8000-000000000001"
	pending := "amzn1.ask.skill.00000000-0000-4000-8000-000000000002"
	unsynced := "amzn1.ask.skill.00000000-0000-4000-8000-000000000003"
	binary := "amzn1.ask.skill.00000000-0000-4000-8000-000000000004"
	missing := "amzn1.ask.skill.00000000-0000-4000-8000-000000000005"
	syncedARN := create(prefix+synced, secretsmanager.CreateSecretInput{SecretString: aws.String(value(synced, "client-1", "secret-1-"+never))})
	create(prefix+pending, secretsmanager.CreateSecretInput{SecretString: aws.String(value(pending, "client-current", "secret-c-"+never))})
	// A rotation in progress: another value staged as AWSPENDING.
	if _, err := api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(prefix + pending),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-0000000000aa"),
		SecretString:       aws.String(value(pending, "client-pending", "secret-p-"+never)), VersionStages: []string{"AWSPENDING"}}); err != nil {
		t.Fatal(err)
	}
	create(prefix+unsynced, secretsmanager.CreateSecretInput{SecretString: aws.String(fmt.Sprintf(`{"skillId":%q}`, unsynced))})
	create(prefix+binary, secretsmanager.CreateSecretInput{SecretBinary: []byte(never)})

	rec := &stages{api: api}
	cache := skillmessaging.NewCredentialsCache(rec, prefix)
	tests := []struct {
		skill      string
		wantClient string
		wantErr    error
	}{
		{synced, "client-1", nil},
		{pending, "client-current", nil},
		{unsynced, "", skillmessaging.ErrNotSynced},
		{binary, "", skillmessaging.ErrMalformedSecret},
		{missing, "", skillmessaging.ErrSecretNotFound},
	}
	for _, tc := range tests {
		c, err := cache.Credentials(ctx, tc.skill)
		if !errors.Is(err, tc.wantErr) || c.ClientID != tc.wantClient {
			t.Errorf("Credentials(%q) = %v, %v; want %q, %v", tc.skill, c, err, tc.wantClient, tc.wantErr)
		}
		if err != nil {
			var se *skillmessaging.SecretError
			if !errors.As(err, &se) || se.SecretID != prefix+tc.skill {
				t.Errorf("Credentials(%q) = %v; want a *SecretError naming the secret", tc.skill, err)
			}
			if s := fmt.Sprintf("%v %+v", err, err); strings.Contains(s, never) {
				t.Errorf("error holds the secret's value: %s", s)
			}
		}
	}
	// By ARN, as a function given its secret's ARN does.
	byARN := skillmessaging.NewSecretCredentialsCache(rec, syncedARN)
	if c, err := byARN.Credentials(ctx, synced); err != nil || c.ClientSecret.Reveal() != "secret-1-"+never {
		t.Errorf("NewSecretCredentialsCache(ARN).Credentials = %v, %v; want the synced credentials", c, err)
	}
	for i, stage := range rec.got {
		if stage != "AWSCURRENT" {
			t.Errorf("read %d asked for stage %q; want AWSCURRENT", i, stage)
		}
	}
}
