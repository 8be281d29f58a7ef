package credsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

var steps = []string{StepCreate, StepSet, StepTest, StepFinish}

func rotationEvent(step, secretID, token string) string {
	return fmt.Sprintf(`{"Step":%q,"SecretId":%q,"ClientRequestToken":%q}`, step, secretID, token)
}

// token returns a rotation token unique to the test.
func (e *env) token(n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", len(e.t.Name()), n)
}

// syncedWithRotation syncs skill i once (AWSCURRENT = version 1 credentials)
// and enables rotation with token, returning the secret's ARN.
func (e *env) syncedWithRotation(i int, token string) string {
	e.t.Helper()
	if _, err := e.run(`{}`); err != nil {
		e.t.Fatal(err)
	}
	name := e.prefix + skill(i)
	if err := moto.EnableRotation(context.Background(), name, token); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// versionWithStage returns the id of the version of name carrying stage.
func (e *env) versionWithStage(name, stage string) string {
	e.t.Helper()
	out, err := e.api.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: &stage})
	if err != nil {
		e.t.Fatalf("read %s of %s: %v", stage, name, err)
	}
	return aws.ToString(out.VersionId)
}

// stages returns the staging labels of each version's value.
func (e *env) valueWithStage(name, stage string) string {
	e.t.Helper()
	out, err := e.api.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: &stage})
	if err != nil {
		e.t.Fatalf("read %s of %s: %v", stage, name, err)
	}
	return aws.ToString(out.SecretString)
}

func (e *env) skillValue(i, version int) string {
	return fmt.Sprintf(`{"skillId":%q,"clientId":"amzn1.application-oa2-client.skill-%d","clientSecret":%q}`, skill(i), i, skillSecret(i, version))
}

func TestRotationChangedCredentials(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 2))

	for _, step := range steps {
		for range 2 { // Secrets Manager may call a step twice.
			if _, err := e.run(rotationEvent(step, arn, tok)); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		if step != StepFinish && e.valueWithStage(e.prefix+skill(1), "AWSCURRENT") != e.skillValue(1, 1) {
			t.Fatalf("AWSCURRENT changed during %s", step)
		}
	}
	name := e.prefix + skill(1)
	if got := e.valueWithStage(name, "AWSCURRENT"); got != e.skillValue(1, 2) {
		t.Errorf("AWSCURRENT = %s; want the new credentials", got)
	}
	if got := e.valueWithStage(name, "AWSPREVIOUS"); got != e.skillValue(1, 1) {
		t.Errorf("AWSPREVIOUS = %s; want the old credentials", got)
	}
	if n := e.fake.SkillRequests(skill(1)); n != 2 {
		t.Errorf("SMAPI requests = %d; want 2 (the sync and one createSecret)", n)
	}
	if !strings.Contains(e.logs.String(), `"step":"createSecret","status":"created"`) || !strings.Contains(e.logs.String(), `"status":"already created"`) {
		t.Errorf("logs lack the createSecret lines:\n%s", e.logs.String())
	}
}

func TestRotationUnchangedCredentials(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	e.syncedWithRotation(1, tok)
	name := e.prefix + skill(1) // by name this time, not ARN
	current := e.versionWithStage(name, "AWSCURRENT")
	for _, step := range steps {
		if _, err := e.run(rotationEvent(step, name, tok)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	if got := e.valueWithStage(name, "AWSCURRENT"); got != e.skillValue(1, 1) {
		t.Errorf("AWSCURRENT = %s; want the same credentials", got)
	}
	out, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	// No new version for the same value: AWSCURRENT stays where it was and
	// the token's version loses AWSPENDING, which ends the rotation.
	if len(out.VersionIdsToStages[tok]) != 0 || !slices.Contains(out.VersionIdsToStages[current], "AWSCURRENT") {
		t.Errorf("stages = %v; want AWSCURRENT on %s and no stage on the token's version", out.VersionIdsToStages, current)
	}
	// Secrets Manager may call finishSecret again.
	if _, err := e.run(rotationEvent(StepFinish, name, tok)); err != nil || !strings.Contains(e.logs.String(), `"status":"already finished"`) {
		t.Errorf("finishSecret again = %v; want already finished:\n%s", err, e.logs.String())
	}
	if !strings.Contains(e.logs.String(), `"step":"createSecret","status":"unchanged"`) {
		t.Errorf("logs do not say unchanged:\n%s", e.logs.String())
	}
}

func TestRotationCreateRetriedAfterFailure(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 2))
	e.fake.Script(skill(1), repeatFault(skillmessagingtest.ServerError(503), 5)...)

	_, err := e.run(rotationEvent(StepCreate, arn, tok))
	if err == nil || !strings.Contains(err.Error(), "rotation step createSecret for skill "+skill(1)) || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "request id") {
		t.Fatalf("err = %v; want the step, the skill, the status and the request id", err)
	}
	if got := e.valueWithStage(e.prefix+skill(1), "AWSCURRENT"); got != e.skillValue(1, 1) {
		t.Fatalf("AWSCURRENT = %s after a failed createSecret", got)
	}
	for _, step := range steps {
		if _, err := e.run(rotationEvent(step, arn, tok)); err != nil {
			t.Fatalf("%s after the retry: %v", step, err)
		}
	}
	if got := e.valueWithStage(e.prefix+skill(1), "AWSCURRENT"); got != e.skillValue(1, 2) {
		t.Fatalf("AWSCURRENT = %s; want the new credentials", got)
	}
}

func repeatFault(f skillmessagingtest.Fault, n int) []skillmessagingtest.Fault {
	fs := make([]skillmessagingtest.Fault, n)
	for i := range fs {
		fs[i] = f
	}
	return fs
}

func TestRotationFailingTestLeavesCurrent(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 2))
	if _, err := e.run(rotationEvent(StepCreate, arn, tok)); err != nil {
		t.Fatal(err)
	}
	// Amazon rotates again before testSecret: the pending credentials no
	// longer work.
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 3))
	_, err := e.run(rotationEvent(StepTest, arn, tok))
	if err == nil || !strings.Contains(err.Error(), "rotation step testSecret for skill "+skill(1)) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v; want testSecret refused by LWA with invalid_client", err)
	}
	if got := e.valueWithStage(e.prefix+skill(1), "AWSCURRENT"); got != e.skillValue(1, 1) {
		t.Fatalf("AWSCURRENT = %s after a failed testSecret; want it untouched", got)
	}
	for _, r := range e.fake.Requests() {
		if r.GrantType == "client_credentials" && r.ClientID != "amzn1.application-oa2-client.skill-1" {
			t.Errorf("testSecret used client %q; want the pending one", r.ClientID)
		}
	}
}

// TestRotationScheduleSetup is what happens when the stack creates a
// rotation schedule without rotating: Secrets Manager calls testSecret on an
// AWSPENDING copy of the current value.
func TestRotationScheduleSetup(t *testing.T) {
	e := newEnv(t, 1)
	// Skill 3's secret holds credentials from the start (moto's copy is of
	// the first version; Secrets Manager's is of AWSCURRENT).
	e.fake.SetSkill(skill(3), "amzn1.application-oa2-client.skill-3", skillSecret(3, 1))
	e.create(e.prefix+skill(3), e.skillValue(3, 1))
	for _, tc := range []struct {
		skill      int
		wantStatus string
	}{
		{1, `"status":"not synced yet, nothing to test"`}, // before the first sync
		{3, `"status":"tested"`},                          // synced: the copy's credentials are tested
	} {
		name, tok := e.prefix+skill(tc.skill), e.token(tc.skill)
		if err := moto.ConfigureRotation(context.Background(), name, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := e.run(rotationEvent(StepTest, name, tok)); err != nil {
			t.Fatalf("testSecret on the copy of skill %d: %v", tc.skill, err)
		}
		if !strings.Contains(e.logs.String(), tc.wantStatus) {
			t.Errorf("skill %d: logs lack %s:\n%s", tc.skill, tc.wantStatus, e.logs.String())
		}
	}
	// A copy holding credentials that no longer work still fails.
	e.fake.SetSkill(skill(3), "amzn1.application-oa2-client.skill-3", skillSecret(3, 9))
	name, tok := e.prefix+skill(3), e.token(4)
	if err := moto.ConfigureRotation(context.Background(), name, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(rotationEvent(StepTest, name, tok)); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("testSecret with stale credentials = %v; want invalid_client", err)
	}
}

func TestRotationRefusals(t *testing.T) {
	e := newEnv(t, 1, 2)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	outside := "outside/" + t.Name()
	e.create(outside, `{}`)
	if err := moto.EnableRotation(context.Background(), outside, e.token(2)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, event, want string
	}{
		{"token not staged", rotationEvent(StepCreate, arn, e.token(9)), "is not a version of secret"},
		{"rotation not enabled", rotationEvent(StepCreate, e.prefix+skill(2), tok), "rotation is not enabled"},
		{"outside the prefix", rotationEvent(StepCreate, outside, e.token(2)), "is not under SKILL_SECRET_PREFIX"},
		{"unknown step", rotationEvent("fooSecret", arn, tok), "unknown step"},
		{"test before create", rotationEvent(StepTest, arn, tok), "createSecret has not run"},
		{"missing secret", rotationEvent(StepCreate, "no/such/secret", tok), "describe secret no/such/secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := e.run(tt.event)
			if err == nil || !strings.Contains(err.Error(), tt.want) || sum != nil {
				t.Fatalf("Handle(%s) = %v, %v; want error %q", tt.event, sum, err, tt.want)
			}
		})
	}
	if !errors.Is(func() error { _, err := e.run(rotationEvent(StepCreate, arn, e.token(9))); return err }(), ErrRotation) {
		t.Error("refusal does not wrap ErrRotation")
	}
	if got := e.valueWithStage(e.prefix+skill(1), "AWSCURRENT"); got != e.skillValue(1, 1) {
		t.Fatalf("AWSCURRENT changed by refused steps: %s", got)
	}
}

// TestRotationDuringScheduledSync runs a scheduled sync between the steps
// of a rotation requested on demand (by a skill Lambda's
// skillmessaging.WithRotateOnRefusal): both fetch the new credentials, and
// the secret ends with one new version holding them, not two. moto does not
// invoke a rotation function by itself: the test drives the steps as
// Secrets Manager would, each twice (it may retry a step).
func TestRotationDuringScheduledSync(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	name := e.prefix + skill(1)
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 2))
	e.calls.API = awsPut{e.calls.API}
	for _, step := range steps {
		for range 2 {
			if _, err := e.run(rotationEvent(step, arn, tok)); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		if step == StepCreate {
			// The schedule's sync runs while the rotation is in progress.
			if _, err := e.run(`{}`); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := e.valueWithStage(name, "AWSCURRENT"); got != e.skillValue(1, 2) {
		t.Errorf("AWSCURRENT = %s; want the new credentials", got)
	}
	out, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	labelled := 0
	for v, stages := range out.VersionIdsToStages {
		if len(stages) == 0 {
			continue
		}
		labelled++
		if slices.Contains(stages, "AWSPENDING") {
			t.Errorf("version %s still AWSPENDING: the rotation did not end", v)
		}
	}
	if labelled != 2 || len(out.VersionIdsToStages[tok]) != 0 {
		t.Errorf("stages = %v; want AWSCURRENT (the sync's new version) and AWSPREVIOUS only, the rotation's version unlabelled", out.VersionIdsToStages)
	}
	if !strings.Contains(e.logs.String(), `"status":"finished, current kept"`) || !strings.Contains(e.logs.String(), `"trigger":"on demand"`) {
		t.Errorf("logs lack finishSecret's current kept or the on-demand trigger:\n%s", e.logs.String())
	}
}

// awsPut makes a PutSecretValue without stages do what Secrets Manager does
// during a rotation: move AWSCURRENT to the new version (the old one becomes
// AWSPREVIOUS) and leave AWSPENDING where it is
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html,
// VersionStages: "If you don't include VersionStages, then Secrets Manager
// automatically moves the staging label AWSCURRENT to this version").
// moto 5.2.1, after RotateSecret, takes the pending version for the current
// one and relabels it AWSPREVIOUS instead.
type awsPut struct{ store.API }

func (a awsPut) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if len(in.VersionStages) > 0 {
		return a.API.PutSecretValue(ctx, in, o...)
	}
	cur, err := a.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: in.SecretId, VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		return nil, err
	}
	staged := *in
	staged.VersionStages = []string{"NEW"}
	out, err := a.API.PutSecretValue(ctx, &staged, o...)
	if err != nil {
		return nil, err
	}
	for _, u := range []secretsmanager.UpdateSecretVersionStageInput{
		{SecretId: in.SecretId, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: out.VersionId, RemoveFromVersionId: cur.VersionId},
		{SecretId: in.SecretId, VersionStage: aws.String("NEW"), RemoveFromVersionId: out.VersionId},
	} {
		if _, err := a.API.UpdateSecretVersionStage(ctx, &u, o...); err != nil {
			return nil, err
		}
	}
	return out, nil
}
