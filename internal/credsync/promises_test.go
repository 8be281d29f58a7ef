package credsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// refusedPuts passes every call to moto but refuses PutSecretValue for the
// secrets in refuse, as AWS refuses a role without secretsmanager:PutSecretValue
// on that secret: an OperationError around AccessDeniedException with IAM's
// message (which names the role and the secret, never the value). moto has
// no IAM enforcement, so the refusal is scripted at the store's seam.
type refusedPuts struct {
	store.API
	refuse map[string]bool
	// hold, when set, is waited for before a PutSecretValue of a secret in
	// it goes on.
	hold map[string]<-chan struct{}
}

func (r *refusedPuts) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	if ch, ok := r.hold[id]; ok {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.refuse[id] {
		return nil, &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "PutSecretValue", Err: &smithy.GenericAPIError{
			Code:    "AccessDeniedException",
			Message: fmt.Sprintf("User: arn:aws:sts::123456789012:assumed-role/sync/fn is not authorized to perform: secretsmanager:PutSecretValue on resource: %s because no identity-based policy allows the secretsmanager:PutSecretValue action", id),
		}}
	}
	return r.API.PutSecretValue(ctx, in, o...)
}

func (e *env) refusePuts(ids ...string) *refusedPuts {
	r := &refusedPuts{API: e.calls, refuse: map[string]bool{}}
	for _, id := range ids {
		r.refuse[id] = true
	}
	e.syncer.Store = store.New(r)
	return r
}

// TestRotatedRefreshTokenNotSaved: LWA rotates the refresh token and the
// new one cannot be written back. The run still syncs every skill, then
// fails naming the LWA secret; the stored token (which LWA keeps honouring)
// is untouched, and the next run saves the new one.
func TestRotatedRefreshTokenNotSaved(t *testing.T) {
	e := newEnv(t, 1, 2)
	const rotated = "Atzr|rotated-NEVER-PRINTED"
	e.fake.RotateRefreshToken(rotated)
	before := e.current(e.lwaID)
	e.refusePuts(e.lwaID)

	sum, err := e.run(`{}`)
	wantCounts(t, sum, 2, 2, 0, 0)
	var runErr *RunError
	if !errors.As(err, &runErr) || runErr.Err == nil || !strings.Contains(err.Error(), "save rotated refresh token to LWA secret "+e.lwaID) || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("err = %v; want the run failed by the refresh token save, naming the LWA secret", err)
	}
	if got := e.current(e.lwaID); got != before || e.versions(e.lwaID) != 1 {
		t.Fatalf("LWA secret = %s (%d versions); want it untouched", got, e.versions(e.lwaID))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"rotated refresh token not saved"`) || !strings.Contains(logs, `"SyncSucceeded":0`) {
		t.Fatalf("logs lack the failed save or the failed summary:\n%s", logs)
	}

	e.syncer.Store = store.New(e.calls)
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	var lwa map[string]string
	if err := json.Unmarshal([]byte(e.current(e.lwaID)), &lwa); err != nil || lwa["refreshToken"] != rotated || lwa["owner"] != "team-a" {
		t.Fatalf("LWA secret after the next run = %v, %v; want the rotated token saved, other keys kept", lwa, err)
	}
}

// TestFailedWritesAndWrongShape: a refused skill write and a SMAPI answer
// of the wrong shape fail their skill with an error naming the skill (and
// the secret), holding no secret value, and the other skills are written.
func TestFailedWritesAndWrongShape(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	e.refusePuts(e.prefix + skill(2))
	e.fake.Script(skill(3), skillmessagingtest.Fault{Status: 200, Body: fmt.Sprintf(`{"skillMessagingCredentials":{"clientId":["x"],"clientSecret":%q}}`, skillSecret(3, 1))})

	sum, err := e.run(`{}`) // checks error, summary and logs for secrets
	wantCounts(t, sum, 3, 1, 0, 2)
	e.wantSkill(1, 1)
	for _, tc := range []struct {
		i    int
		want []string
	}{
		{2, []string{"write skill secret " + e.prefix + skill(2), "AccessDeniedException"}},
		{3, []string{"get skill messaging credentials for skill " + skill(3), "wrong JSON shape", "request id"}},
	} {
		r := sum.Results[tc.i-1]
		for _, w := range append(tc.want, skill(tc.i)) {
			if r.Status != StatusFailed || !strings.Contains(r.Error, w) {
				t.Errorf("skill %d: %+v; want failed with %q", tc.i, r, w)
			}
		}
		if n := e.versions(e.prefix + skill(tc.i)); n != 1 {
			t.Errorf("skill %d has %d versions; want 1 (nothing written)", tc.i, n)
		}
		if !strings.Contains(err.Error(), skill(tc.i)) {
			t.Errorf("run error does not name skill %d: %v", tc.i, err)
		}
	}
}

// TestFailuresDoNotStopLaterSkills: failures that come first, one at a time
// and in parallel, do not stop the skills after them: counts and secrets
// show every later skill written.
func TestFailuresDoNotStopLaterSkills(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			e := newEnv(t, 1, 2, 3, 4, 5, 6)
			e.syncer.Concurrency = conc
			e.fake.RemoveSkill(skill(1))
			e.fake.Script(skill(2), smapitest.HTMLPage())
			e.fake.Script(skill(3), repeatFault(skillmessagingtest.ServerError(500), 5)...)
			sum, err := e.run(`{}`)
			wantCounts(t, sum, 6, 3, 0, 3)
			for i := 1; i <= 6; i++ {
				if r := sum.Results[i-1]; r.SkillID != skill(i) || (r.Status == StatusFailed) != (i <= 3) {
					t.Errorf("results[%d] = %+v; want skills 1-3 failed, 4-6 updated", i-1, r)
				}
			}
			for i := 4; i <= 6; i++ {
				e.wantSkill(i, 1)
			}
			var runErr *RunError
			if !errors.As(err, &runErr) || len(runErr.Failed) != 3 {
				t.Fatalf("err = %v; want the three failures", err)
			}
		})
	}
}

// TestReserveCutsOffLaterSkills: with little time, the skill whose SMAPI
// call is under way when the reserve starts is cut off there, later skills
// are not started, and a skill that finished its fetch is still written
// inside the reserve. The run returns before the deadline.
func TestReserveCutsOffLaterSkills(t *testing.T) {
	e := newEnv(t, 1, 2, 3, 4)
	e.syncer.Concurrency = 2
	e.syncer.Reserve, e.syncer.MinFetch = time.Second, 500*time.Millisecond
	e.fake.Script(skill(2), skillmessagingtest.Fault{Delay: time.Minute})
	// Skill 1's write waits until the reserve has begun.
	reserveBegun := make(chan struct{})
	r := e.refusePuts()
	r.hold = map[string]<-chan struct{}{e.prefix + skill(1): reserveBegun}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	stop := time.AfterFunc(time.Until(deadline.Add(-e.syncer.Reserve))+50*time.Millisecond, func() { close(reserveBegun) })
	defer stop.Stop()
	e.spans.take()
	sum, err := e.syncer.Handle(ctx, json.RawMessage(`{}`))
	// Late is judged on the clock: the run returns before the deadline and
	// skill 2's SMAPI call ends at the deadline less the reserve.
	if returned := time.Now(); !returned.Before(deadline) {
		t.Fatalf("the run returned %s after the invocation's deadline", returned.Sub(deadline))
	}
	for _, span := range e.spans.take() {
		if over := span[1].Sub(deadline.Add(-e.syncer.Reserve)); over > callGrace {
			t.Errorf("a SMAPI call ended %s after the deadline less the reserve", over)
		}
	}
	wantCounts(t, sum, 4, 1, 0, 3)
	e.wantSkill(1, 1)
	if r := sum.Results[1]; r.Status != StatusFailed || !strings.Contains(r.Error, "context deadline exceeded") {
		t.Errorf("skill 2 = %+v; want its SMAPI call cut off at the reserve", r)
	}
	for _, i := range []int{3, 4} {
		if r := sum.Results[i-1]; r.Status != StatusFailed || !strings.Contains(r.Error, "not started") || e.fake.SkillRequests(skill(i)) != 0 {
			t.Errorf("skill %d = %+v (%d SMAPI requests); want not started", i, r, e.fake.SkillRequests(skill(i)))
		}
	}
	if err == nil || !strings.Contains(e.logs.String(), `"msg":"sync finished"`) {
		t.Fatalf("err = %v; want a failed run with its summary line", err)
	}
}

// TestCompareWithCurrentWhilePending: while a rotation's AWSPENDING version
// holds other credentials, the sync compares with AWSCURRENT: credentials
// equal to AWSCURRENT write nothing. (moto answers a read without a stage
// with the newest version, AWSPENDING here.)
func TestCompareWithCurrentWhilePending(t *testing.T) {
	e := newEnv(t, 1)
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	name := e.prefix + skill(1)
	token := e.token(1)
	if _, err := e.api.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &name, ClientRequestToken: &token,
		SecretString: aws.String(e.skillValue(1, 2)), VersionStages: []string{store.StagePending}}); err != nil {
		t.Fatal(err)
	}
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 1, 0, 1, 0)
	if n := e.versions(name); n != 3 {
		t.Fatalf("%d versions; want 3 (placeholder, sync, pending): nothing written", n)
	}
	e.wantSkill(1, 1)
}

// TestTestSecretRefusesMalformedPending: only the {"skillId"} copy of a
// secret that was never synced passes testSecret untested; any other value
// without credentials fails the step.
func TestTestSecretRefusesMalformedPending(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	for n, value := range []string{
		fmt.Sprintf(`{"skillId":%q,"clientId":"amzn1.application-oa2-client.skill-1"}`, skill(1)), // no clientSecret
		fmt.Sprintf(`{"skillId":%q}`, skill(2)),                                                   // another skill's placeholder
		fmt.Sprintf(`{"skillId":%q,"note":"x"}`, skill(1)),                                        // placeholder plus a key
		`["not an object"]`,
	} {
		tok := e.token(10 + n)
		name := e.prefix + skill(1)
		if _, err := e.api.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &name, ClientRequestToken: &tok,
			SecretString: aws.String(value), VersionStages: []string{store.StagePending}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.run(rotationEvent(StepTest, arn, tok))
		if err == nil || !strings.Contains(err.Error(), "rotation step testSecret for skill "+skill(1)) || !strings.Contains(err.Error(), "pending version "+tok) {
			t.Errorf("testSecret on pending %s = %v; want it refused", value, err)
		}
	}
}

func TestRunErrorText(t *testing.T) {
	failed := []Result{{SkillID: "a", Error: "e1"}, {SkillID: "b", Error: "e2"}}
	for _, tc := range []struct {
		e    RunError
		want string
	}{
		{RunError{Err: errors.New("stop")}, "credential sync: stop"},
		{RunError{Failed: failed}, "credential sync: 2 skill(s) failed: [a: e1] [b: e2]"},
		{RunError{Err: errors.New("stop"), Failed: failed[:1]}, "credential sync: stop; 1 skill(s) failed: [a: e1]"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
}

func TestClipEvent(t *testing.T) {
	exact := strings.Repeat("s", 64)
	for in, want := range map[string]string{
		"x":         `"x"`,
		exact:       `"` + exact + `"`,
		exact + "t": `"` + exact + `"…`,
	} {
		if got := clip(in); got != want {
			t.Errorf("clip(%d bytes) = %s; want %s", len(in), got, want)
		}
	}
}

// TestDefaultMinFetch: with MinFetch unset, a skill needs 1 s beyond the
// reserve to start; the error says how much time was needed.
func TestDefaultMinFetch(t *testing.T) {
	e := newEnv(t, 1)
	e.syncer.Reserve = time.Second
	sum, late, _ := e.runWithin(1800*time.Millisecond, `{}`)
	if late != "" {
		t.Fatal(late)
	}
	wantCounts(t, sum, 1, 0, 0, 1)
	if r := sum.Results[0]; !strings.Contains(r.Error, "not started") || !strings.Contains(r.Error, "2s needed") || e.fake.SkillRequests(skill(1)) != 0 {
		t.Fatalf("result = %+v; want not started, 2s needed (reserve 1s + 1s)", r)
	}
}

// TestLogLevels: a failed skill logs at ERROR with its error, a synced one
// at INFO without; every step of a rotation logs its status.
func TestLogLevels(t *testing.T) {
	e := newEnv(t, 1, 2)
	e.fake.RemoveSkill(skill(2))
	_, _ = e.run(`{}`)
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != "skill synced" {
			continue
		}
		_, hasErr := m["error"]
		switch m["skill_id"] {
		case skill(1):
			if m["level"] != "INFO" || hasErr {
				t.Errorf("synced skill logged %s", line)
			}
		case skill(2):
			if m["level"] != "ERROR" || !hasErr {
				t.Errorf("failed skill logged %s", line)
			}
		}
	}

	// The run's pacing is logged: two requests, none throttled, no broad
	// throttling, so no rate applied.
	if want := `"msg":"smapi pacing","requests":2,"throttled":0,"throttled_skills":0,"broad_throttling":false,"rate_cuts":0,"rate_per_second":0`; !strings.Contains(e.logs.String(), want) {
		t.Errorf("logs lack %s:\n%s", want, e.logs.String())
	}
	// A skill whose secret could not be read is logged too.
	_, _ = e.run(fmt.Sprintf(`{"skillIds":[%q]}`, skill(9)))
	if want := fmt.Sprintf(`"level":"ERROR","msg":"skill synced","skill_id":%q,"status":"failed"`, skill(9)); !strings.Contains(e.logs.String(), want) {
		t.Errorf("logs lack %s:\n%s", want, e.logs.String())
	}
	e.fake.SetSkill(skill(2), "amzn1.application-oa2-client.skill-2", skillSecret(2, 1))
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok)
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 2))
	for _, step := range steps {
		if _, err := e.run(rotationEvent(step, arn, tok)); err != nil {
			t.Fatal(err)
		}
	}
	for step, status := range map[string]string{StepCreate: "created", StepSet: "done", StepTest: "tested", StepFinish: "finished"} {
		if want := fmt.Sprintf(`"step":%q,"status":%q`, step, status); !strings.Contains(e.logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, e.logs.String())
		}
	}
}
