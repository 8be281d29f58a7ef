package credsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// callSpans records when each LWA and SMAPI request began and ended
// (answered or cut off).
type callSpans struct {
	base  http.RoundTripper
	mu    sync.Mutex
	spans [][2]time.Time
}

func (c *callSpans) RoundTrip(req *http.Request) (*http.Response, error) {
	began := time.Now()
	resp, err := c.base.RoundTrip(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = append(c.spans, [2]time.Time{began, time.Now()})
	return resp, err
}

// take returns the spans recorded so far and forgets them.
func (c *callSpans) take() [][2]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	spans := c.spans
	c.spans = nil
	return spans
}

// callGrace is how long after its context ended a cut-off request may take
// to return: the transport's goroutines seeing the context end, which on a
// loaded two-core machine under the race detector has taken 150 ms. It stays
// well under the smallest reserve these tests set (1 s), so a run that
// ignored the reserve (its calls ending a whole reserve late) still fails.
const callGrace = 400 * time.Millisecond

// runWithin handles event with an invocation deadline d from now, checks
// that nothing secret leaked, and says what was late: a call to LWA or SMAPI
// that ended after the deadline minus the reserve (or, begun after that,
// did not end at once), or a run that returned after the deadline (Lambda
// would have killed the function without a summary). Lateness is judged on
// the clock against those bounds, not by the context's error: a run that
// ends exactly at the deadline, or whose calls end at it, is late.
func (e *env) runWithin(d time.Duration, event string) (sum *Summary, late string, err error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	deadline, _ := ctx.Deadline()
	e.spans.take()
	sum, err = e.syncer.Handle(ctx, json.RawMessage(event))
	returned := time.Now()
	cut := deadline.Add(-e.syncer.reserve())
	for _, span := range e.spans.take() {
		if over := span[1].Sub(later(cut, span[0])); over > callGrace {
			late += fmt.Sprintf("a call to LWA or SMAPI ended %s after the deadline less the reserve; ", over)
		}
	}
	if !returned.Before(deadline) {
		late += fmt.Sprintf("the run returned %s after the deadline", returned.Sub(deadline))
	}
	out, _ := json.Marshal(sum)
	e.assertNoSecret("summary", string(out))
	if err != nil {
		e.assertNoSecret("error", err.Error())
	}
	e.assertNoSecret("logs", e.logs.String())
	return sum, late, err
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestSlowLWAEndsBeforeTheReserve: LWA answering after a minute never holds
// the run past the invocation's deadline minus the reserve. The run ends in
// time with a summary, an error saying LWA did not answer in time, and no
// skill touched.
func TestSlowLWAEndsBeforeTheReserve(t *testing.T) {
	for _, tc := range []struct {
		name              string
		reserve, deadline time.Duration
	}{
		// The case of the report: a 1 s deadline, the default 3 s reserve.
		{"deadline inside the reserve", 0, time.Second},
		{"LWA gets 300 ms", time.Second, 1300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, 2)
			e.syncer.Reserve = tc.reserve
			e.fake.ScriptToken(skillmessagingtest.Fault{Delay: time.Minute})
			sum, late, err := e.runWithin(tc.deadline, `{}`)
			if late != "" {
				t.Fatal(late)
			}
			if !errors.Is(err, smapi.ErrLWATimeout) || !strings.Contains(err.Error(), "LWA did not answer in time") ||
				!strings.Contains(err.Error(), "no skill secret was touched") || !strings.Contains(err.Error(), "before the invocation's deadline") {
				t.Fatalf("err = %v; want LWA did not answer in time, no skill secret touched", err)
			}
			wantCounts(t, sum, 0, 0, 0, 0)
			for _, i := range []int{1, 2} {
				if n := e.versions(e.prefix + skill(i)); n != 1 || e.fake.SkillRequests(skill(i)) != 0 {
					t.Errorf("skill %d: %d versions, %d SMAPI requests; want untouched", i, n, e.fake.SkillRequests(skill(i)))
				}
			}
			if !strings.Contains(e.logs.String(), `"msg":"sync finished"`) || !strings.Contains(e.logs.String(), `"SyncSucceeded":0`) {
				t.Errorf("no failed summary line:\n%s", e.logs.String())
			}
		})
	}
}

// TestSlowLWAInRotationSteps: createSecret (refresh_token grant) and
// testSecret (client_credentials grant) end before the reserve too, and
// leave AWSCURRENT as it was.
func TestSlowLWAInRotationSteps(t *testing.T) {
	e := newEnv(t, 1)
	tok := e.token(1)
	arn := e.syncedWithRotation(1, tok) // caches an access token
	e.fake.SetSkill(skill(1), "amzn1.application-oa2-client.skill-1", skillSecret(1, 2))
	e.syncer.Reserve = time.Second

	// A new refresh token in the LWA secret makes createSecret refresh.
	const second = "Atzr|second-NEVER-PRINTED"
	e.fake.AddClient(lwaClientID, lwaClientSecret, second)
	if _, err := e.api.PutSecretValue(context.Background(), putValue(e.lwaID, fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"refreshToken":%q}`, lwaClientID, lwaClientSecret, second))); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{StepCreate, StepTest} {
		if step == StepTest {
			if _, err := e.run(rotationEvent(StepCreate, arn, tok)); err != nil {
				t.Fatal(err)
			}
		}
		e.fake.ScriptToken(skillmessagingtest.Fault{Delay: time.Minute})
		_, late, err := e.runWithin(1300*time.Millisecond, rotationEvent(step, arn, tok))
		if late != "" {
			t.Fatalf("%s: %s", step, late)
		}
		if !errors.Is(err, smapi.ErrLWATimeout) || !strings.Contains(err.Error(), "LWA did not answer in time") || !strings.Contains(err.Error(), "rotation step "+step+" for skill "+skill(1)) {
			t.Fatalf("%s: err = %v; want the step and skill, LWA did not answer in time", step, err)
		}
		if got := e.valueWithStage(e.prefix+skill(1), "AWSCURRENT"); got != e.skillValue(1, 1) {
			t.Fatalf("AWSCURRENT = %s after a failed %s", got, step)
		}
	}
}

func putValue(id, value string) *secretsmanager.PutSecretValueInput {
	return &secretsmanager.PutSecretValueInput{SecretId: &id, SecretString: &value}
}
