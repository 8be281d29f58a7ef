package credsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const (
	vendorA = "M1VENDORA"
	vendorB = "M2VENDORB"
	keyARN  = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// discovering turns on vendor discovery with the settings the stack gives
// the function; secrets it creates get moto's registered rotation function.
func (e *env) discovering() string {
	e.t.Helper()
	arn, err := moto.RotationFunctionARN(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	e.syncer.Discover = true
	e.syncer.Create = Creation{
		KMSKeyID:     keyARN,
		RotationDays: 30,
		// The invoked ARN may carry a qualifier; the schedule names the
		// function itself, as the stack's schedules do.
		FunctionARN: func(context.Context) string { return arn + ":$LATEST" },
	}
	e.fake.AddVendor(vendorA, "Vendor A")
	e.fake.AddVendor(vendorB, "Vendor B")
	return arn
}

// known makes the fake issue credentials (version 1) for skill i.
func (e *env) known(i int) {
	e.fake.SetSkill(skill(i), fmt.Sprintf("amzn1.application-oa2-client.skill-%d", i), skillSecret(i, 1))
}

// secretsUnderPrefix returns every secret name under the test's prefix with
// its version count.
func (e *env) secretsUnderPrefix() map[string]int {
	e.t.Helper()
	refs, err := store.New(e.api).ListSkillSecrets(context.Background(), e.prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range refs {
		out[r.Name] = e.versions(r.Name)
	}
	return out
}

func resultOf(t *testing.T, sum *Summary, id string) Result {
	t.Helper()
	for _, r := range sum.Results {
		if r.SkillID == id {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", id, sum.Results)
	return Result{}
}

// TestDiscovery is issue 11's scenario against moto and the fake: vendor A
// lists six skills in nine entries over five pages (one in two stages, one in
// three), vendor
// B one more; skill 1 already has a secret, skill 20 is declared by its secret
// but listed by no vendor, skill 5 has no messaging credentials (404).
func TestDiscovery(t *testing.T) {
	e := newEnv(t, 1, 20)
	rotationARN := e.discovering()
	e.fake.SetListPageSize(2)
	e.fake.ListSkill(vendorA, skill(1), "development", "live")
	e.fake.ListSkill(vendorA, skill(2), "development", "certified", "live")
	for _, i := range []int{3, 4, 5, 6} {
		e.fake.ListSkill(vendorA, skill(i))
	}
	e.fake.ListSkill(vendorB, skill(7), "live")
	for _, i := range []int{2, 3, 4, 6, 7} {
		e.known(i)
	}

	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	// 1 and 20 (by their secrets), then 2, 3, 4, 5, 6, 7 (discovered).
	if sum.Skills != 8 || sum.Updated != 7 || sum.Unchanged != 0 || sum.Failed != 0 || sum.Skipped != 1 || sum.Created != 5 {
		t.Fatalf("summary = %+v; want 8 skills: 7 updated (5 created), 1 skipped", sum)
	}
	if _, pages := e.fake.ListRequests(); pages != 5+1 {
		t.Errorf("skill list pages = %d; want 5 of vendor A and 1 of vendor B", pages)
	}
	for _, i := range []int{1, 2, 3, 4, 6, 7, 20} {
		if n := e.fake.SkillRequests(skill(i)); n != 1 {
			t.Errorf("skill %d: %d credentials requests; want 1 (listed in several stages, fetched once)", i, n)
		}
		e.wantSkill(i, 1)
	}
	for _, i := range []int{1, 20} {
		if r := resultOf(t, sum, skill(i)); r.Created || r.Status != StatusUpdated {
			t.Errorf("skill %d (has a secret) = %+v; want updated, not created", i, r)
		}
	}
	skipped := resultOf(t, sum, skill(5))
	if skipped.Status != StatusSkipped || skipped.Error != "" || !strings.Contains(skipped.Reason, "HTTP 404") || skipped.RequestID == "" {
		t.Errorf("skill 5 = %+v; want skipped with the 404 reason and request id", skipped)
	}
	if _, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.prefix + skill(5))}); !store.IsNotFound(err) {
		t.Errorf("skill 5 has a secret (%v); want none", err)
	}
	for _, i := range []int{2, 3, 4, 6, 7} {
		name := e.prefix + skill(i)
		out, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.KmsKeyId) != keyARN || len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != contract.ManagedTagKey || aws.ToString(out.Tags[0].Value) != "true" {
			t.Errorf("created secret %s: key %q, tags %+v; want the stack's key and the managed tag", name, aws.ToString(out.KmsKeyId), out.Tags)
		}
		if !aws.ToBool(out.RotationEnabled) || aws.ToString(out.RotationLambdaARN) != rotationARN || aws.ToInt64(out.RotationRules.AutomaticallyAfterDays) != 30 {
			t.Errorf("created secret %s: rotation %v by %q; want every 30 days by %s", name, aws.ToBool(out.RotationEnabled), aws.ToString(out.RotationLambdaARN), rotationARN)
		}
		if r := resultOf(t, sum, skill(i)); !r.Created {
			t.Errorf("skill %d = %+v; want created", i, r)
		}
	}
	if !strings.Contains(e.logs.String(), `"msg":"skills discovered"`) {
		t.Errorf("no discovery log line:\n%s", e.logs.String())
	}

	// The second run creates nothing and writes nothing.
	before := e.secretsUnderPrefix()
	e.fake.ResetLog()
	sum, err = e.run(readEvent(t, "scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skills != 8 || sum.Updated != 0 || sum.Unchanged != 7 || sum.Skipped != 1 || sum.Failed != 0 || sum.Created != 0 {
		t.Fatalf("second summary = %+v; want 7 unchanged, 1 skipped, nothing created", sum)
	}
	after := e.secretsUnderPrefix()
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("secrets and versions after the second run = %v; want unchanged %v", after, before)
	}
}

// TestDiscoveryOffListsNothing: the default is today's behaviour exactly.
func TestDiscoveryOffListsNothing(t *testing.T) {
	e := newEnv(t, 1)
	e.fake.AddVendor(vendorA, "Vendor A")
	e.fake.ListSkill(vendorA, skill(2))
	e.known(2)
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 1, 1, 0, 0)
	if v, p := e.fake.ListRequests(); v+p != 0 {
		t.Errorf("list requests = %d, %d; want none", v, p)
	}
	if len(e.secretsUnderPrefix()) != 1 {
		t.Errorf("secrets = %v; want only skill 1's", e.secretsUnderPrefix())
	}
}

func TestDiscoveryVendorID(t *testing.T) {
	e := newEnv(t)
	e.discovering()
	e.syncer.VendorID = vendorB
	e.fake.ListSkill(vendorA, skill(1))
	e.fake.ListSkill(vendorB, skill(2))
	e.known(1)
	e.known(2)
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skills != 1 || sum.Results[0].SkillID != skill(2) || !sum.Results[0].Created {
		t.Fatalf("summary = %+v; want only vendor B's skill, created", sum)
	}

	e.syncer.VendorID = "M9UNKNOWN"
	_, err = e.run(`{}`)
	var re *RunError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "VENDOR_ID M9UNKNOWN is not among the vendors") || !strings.Contains(err.Error(), vendorA) {
		t.Fatalf("unknown vendor: err = %v; want a run error naming VENDOR_ID and the visible vendors", err)
	}
}

// TestDiscoveryFailureStillSyncsTheOthers: SMAPI failing the vendor list
// fails the run, after the skills declared by their secrets were synced.
func TestDiscoveryFailureStillSyncsTheOthers(t *testing.T) {
	e := newEnv(t, 1)
	e.discovering()
	e.fake.ScriptVendors(repeatFault(skillmessagingtest.ServerError(503), 5)...)
	sum, err := e.run(`{}`)
	if err == nil || !strings.Contains(err.Error(), "vendor discovery: list vendors: SMAPI answered HTTP 503") {
		t.Fatalf("err = %v; want the discovery error", err)
	}
	wantCounts(t, sum, 1, 1, 0, 0)
	e.wantSkill(1, 1)
}

// TestSkillIDsEventDoesNotDiscover: {"skillIds"} syncs just those skills.
func TestSkillIDsEventDoesNotDiscover(t *testing.T) {
	e := newEnv(t, 1)
	e.discovering()
	e.fake.ListSkill(vendorA, skill(2))
	e.known(2)
	sum, err := e.run(fmt.Sprintf(`{"skillIds":[%q]}`, skill(1)))
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 1, 1, 0, 0)
	if v, p := e.fake.ListRequests(); v+p != 0 {
		t.Errorf("list requests = %d, %d; want none", v, p)
	}
}

// TestDeclaredSkillsWithoutSecrets: skills declared beyond what the stack
// creates (SKILL_IDS_FILE) get their secrets from the function; a 404 for a
// declared skill is a failure, not a skip; a stack-made secret of a declared
// skill that lost its rotation schedule gets it back.
func TestDeclaredSkillsWithoutSecrets(t *testing.T) {
	e := newEnv(t, 3)
	e.discovering()
	e.syncer.Discover = false
	e.syncer.Declared = []string{skill(1), skill(2), skill(3)}
	e.known(1)
	sum, err := e.run(`{}`)
	var re *RunError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0].SkillID != skill(2) || !strings.Contains(re.Failed[0].Error, "HTTP 404") {
		t.Fatalf("err = %v; want skill 2 failed with 404", err)
	}
	if sum.Skills != 3 || sum.Updated != 2 || sum.Failed != 1 || sum.Skipped != 0 || sum.Created != 1 {
		t.Fatalf("summary = %+v; want 3 skills: 2 updated (1 created), 1 failed", sum)
	}
	got := e.secretsUnderPrefix()
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, strings.TrimPrefix(n, e.prefix))
	}
	sort.Strings(names)
	if fmt.Sprint(names) != fmt.Sprint([]string{skill(1), skill(3)}) {
		t.Errorf("secrets = %v; want skills 1 and 3 only", names)
	}
	out, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.prefix + skill(3))})
	if err != nil || !aws.ToBool(out.RotationEnabled) {
		t.Errorf("declared skill 3's existing secret: rotation %v, %v; want it scheduled", aws.ToBool(out.RotationEnabled), err)
	}
}

// TestRotationScheduledOnALaterRun: a secret the function created but could
// not put under rotation fails the skill with the credentials kept, and the
// next run schedules it (the secret is the function's: managed tag).
func TestRotationScheduledOnALaterRun(t *testing.T) {
	e := newEnv(t)
	rotationARN := e.discovering()
	e.syncer.Discover = false
	e.syncer.Declared = []string{skill(1)}
	e.syncer.Create.FunctionARN = nil // the function's own ARN is unknown
	e.known(1)
	sum, err := e.run(`{}`)
	var re *RunError
	if !errors.As(err, &re) || len(re.Failed) != 1 || !strings.Contains(re.Failed[0].Error, "credentials stored, but rotation of secret") {
		t.Fatalf("err = %v; want skill 1 failed because its rotation is not scheduled", err)
	}
	if r := sum.Results[0]; !r.Created {
		t.Fatalf("result = %+v; want the secret created", r)
	}
	e.wantSkill(1, 1)

	e.syncer.Create.RotationLambdaARN = rotationARN
	sum, err = e.run(`{}`)
	if err != nil || sum.Unchanged != 1 || sum.Created != 0 {
		t.Fatalf("second run = %+v, %v; want skill 1 unchanged", sum, err)
	}
	out, err := e.api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.prefix + skill(1))})
	if err != nil || !aws.ToBool(out.RotationEnabled) || aws.ToString(out.RotationLambdaARN) != rotationARN {
		t.Fatalf("rotation after the second run: %v by %q (%v); want scheduled", aws.ToBool(out.RotationEnabled), aws.ToString(out.RotationLambdaARN), err)
	}
}
