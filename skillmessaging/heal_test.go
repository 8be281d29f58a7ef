package skillmessaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// rotations is the RotateSecret of this package's tests, on the in-memory
// Secrets Manager: it stages an AWSPENDING version without a value, as
// Secrets Manager does before it invokes the rotation function, and refuses
// while an earlier rotation's AWSPENDING is on another version than
// AWSCURRENT, with Secrets Manager's InvalidRequestException (see
// rotationInProgress for the sources). The test plays the rotation
// function with finish.
type rotations struct {
	sm           *memSM
	unconfigured bool

	mu    sync.Mutex
	calls int
	seq   int
}

// Secrets Manager's answers, quoted in rotationInProgress and in
// InvalidRequestException's documentation
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html#API_RotateSecret_Errors).
const (
	msgInProgress    = "A previous rotation isn't complete. That rotation will be reattempted."
	msgNotConfigured = "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call."
)

func (r *rotations) RotateSecret(_ context.Context, in *secretsmanager.RotateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error) {
	r.mu.Lock()
	r.calls++
	r.seq++
	id := fmt.Sprintf("rotation-%d", r.seq)
	r.mu.Unlock()
	if in.RotationLambdaARN != nil || in.RotationRules != nil || in.RotateImmediately != nil {
		return nil, errors.New("the cache must not change the rotation configuration")
	}
	if r.unconfigured {
		return nil, &types.InvalidRequestException{Message: aws.String(msgNotConfigured)}
	}
	name := aws.ToString(in.SecretId)
	m := r.sm
	m.mu.Lock()
	defer m.mu.Unlock()
	versions, ok := m.secrets[name]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	for _, v := range versions {
		if slices.Contains(v.stages, "AWSPENDING") && !slices.Contains(v.stages, "AWSCURRENT") {
			return nil, &types.InvalidRequestException{Message: aws.String(msgInProgress)}
		}
	}
	for _, v := range versions {
		v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == "AWSPENDING" })
	}
	m.secrets[name] = append(versions, &memVersion{id: id, stages: []string{"AWSPENDING"}})
	return &secretsmanager.RotateSecretOutput{Name: in.SecretId, VersionId: aws.String(id)}, nil
}

func (r *rotations) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// finish plays the rotation function on the pending version of name:
// createSecret stores value, finishSecret moves AWSCURRENT to it (the old
// one becomes AWSPREVIOUS). It reports whether a rotation was pending.
func (r *rotations) finish(name, value string) bool {
	m := r.sm
	m.mu.Lock()
	defer m.mu.Unlock()
	pending := r.pending(name)
	if pending == nil {
		return false
	}
	pending.value = &value
	for _, v := range m.secrets[name] {
		current := slices.Contains(v.stages, "AWSCURRENT")
		v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == "AWSCURRENT" || s == "AWSPREVIOUS" })
		if current {
			v.stages = append(v.stages, "AWSPREVIOUS")
		}
	}
	pending.stages = []string{"AWSCURRENT", "AWSPENDING"}
	return true
}

// createSecret plays only the rotation function's first step on the pending
// version of name: it stores value, and AWSCURRENT stays where it is (the
// rotation's test of the new credentials then fails).
func (r *rotations) createSecret(name, value string) {
	r.sm.mu.Lock()
	defer r.sm.mu.Unlock()
	if pending := r.pending(name); pending != nil {
		pending.value = &value
	}
}

// pending is the version of name a rotation staged; the caller holds r.sm.mu.
func (r *rotations) pending(name string) *memVersion {
	for _, v := range r.sm.secrets[name] {
		if slices.Contains(v.stages, "AWSPENDING") && !slices.Contains(v.stages, "AWSCURRENT") {
			return v
		}
	}
	return nil
}

// stagePending stages a rotation without a value, as one another container
// or the schedule started.
func (r *rotations) stagePending(t *testing.T, name string) {
	t.Helper()
	if _, err := r.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{SecretId: &name}); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.calls--
	r.mu.Unlock()
}

// healEnv is env with a healing cache: rot plays Secrets Manager's rotation,
// and onSleep (when set) runs at every wait of the cache, on the fake clock.
type healEnv struct {
	*env
	rot     *rotations
	logs    *bytes.Buffer
	logMu   sync.Mutex
	onSleep func()
	waits   time.Duration
}

func newHealEnv(t *testing.T, opts ...CacheOption) *healEnv {
	t.Helper()
	h := &healEnv{env: newEnv(t), logs: &bytes.Buffer{}}
	h.rot = &rotations{sm: secrets}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&h.logMu, h.logs}, nil))
	opts = append([]CacheOption{WithRotateOnRefusal(h.rot), WithLogger(logger), withCacheClock(h.clock.Now), withCacheSleep(h.sleep)}, opts...)
	h.cache = NewCredentialsCache(h.sm, h.prefix, opts...)
	h.sender = h.newSender(t)
	return h
}

func (h *healEnv) newSender(t *testing.T) *Sender {
	t.Helper()
	s, err := NewSender(h.cache, h.skillID, h.options()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (h *healEnv) sleep(ctx context.Context, d time.Duration) error {
	h.clock.Advance(d)
	h.logMu.Lock()
	h.waits += d
	f := h.onSleep
	h.logMu.Unlock()
	if f != nil {
		f()
	}
	return ctx.Err()
}

func (h *healEnv) Logs() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// withCacheClock and withCacheSleep set the cache's seams.
func withCacheClock(now func() time.Time) CacheOption {
	return func(c *CredentialsCache) { c.now = now }
}

func withCacheSleep(sleep func(context.Context, time.Duration) error) CacheOption {
	return func(c *CredentialsCache) { c.sleep = sleep }
}

// rotationFunction makes the cache's next wait finish the rotation with the
// credentials Amazon has now (clientSecret), as the sync's rotation
// function does, after the given number of waits.
func (h *healEnv) rotationFunction(clientSecret string, afterWaits int) {
	n := 0
	h.onSleep = func() {
		if n++; n == afterWaits {
			h.rot.finish(h.prefix+h.skillID, skillValue(h.skillID, "amzn1.application-oa2-client.test", clientSecret))
		}
	}
}

func (h *healEnv) send(t *testing.T) error {
	t.Helper()
	_, err := h.sender.Send(context.Background(), h.fake.Endpoint(), h.user, Message{Data: map[string]string{"n": "1"}})
	return err
}

func TestRotateOnRefusalHeals(t *testing.T) {
	h := newHealEnv(t)
	if err := h.send(t); err != nil {
		t.Fatal(err)
	}
	// Another skill's credentials, cached by the same cache, stay cached.
	other := newSkillID()
	putSecret(t, h.prefix+other, skillValue(other, "amzn1.application-oa2-client.other", "other-secret-"+never))
	if _, err := h.cache.Credentials(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	// The credentials change at Amazon; the secret still has the old ones.
	sec := h.rotate(t, 2, false)
	h.fake.ExpireTokens()
	h.rotationFunction(sec, 3)
	if err := h.send(t); err != nil {
		t.Fatalf("send after the change: %v", err)
	}
	if n := h.rot.Calls(); n != 1 {
		t.Errorf("RotateSecret calls = %d; want 1", n)
	}
	if c, err := h.cache.Credentials(context.Background(), h.skillID); err != nil || c.ClientSecret.Reveal() != sec {
		t.Errorf("cache holds %v, %v; want the rotated credentials", c, err)
	}
	reads := h.sm.calls.Load()
	if c, err := h.cache.Credentials(context.Background(), other); err != nil || c.SkillID != other || h.sm.calls.Load() != reads {
		t.Errorf("other skill: %v, %v after %d reads; want its credentials from the cache", c, err, h.sm.calls.Load()-reads)
	}
	logs := h.Logs()
	if strings.Count(logs, "\n") != 1 || !strings.Contains(logs, `"outcome":"rotated"`) || !strings.Contains(logs, `"skill_id":"`+h.skillID+`"`) || !strings.Contains(logs, `"level":"INFO"`) {
		t.Errorf("logs = %s; want one INFO line with the skill and outcome rotated", logs)
	}
	assertClean(t, logs)
}

// TestRotateOnRefusalNewCredentialsRefusedToo: the rotation brings other
// credentials, which LWA refuses as well; the error counts both grants.
func TestRotateOnRefusalNewCredentialsRefusedToo(t *testing.T) {
	h := newHealEnv(t)
	h.rotate(t, 2, false)
	h.rotationFunction("skill-secret-wrong-"+never, 2)
	err := h.send(t)
	var api *Error
	if !errors.Is(err, ErrCredentialsRefused) || !errors.As(err, &api) || api.Attempts != 2 || !strings.Contains(err.Error(), "(attempts: 2)") {
		t.Fatalf("send = %v; want refused after 2 grant requests (the secret's credentials, then the rotation's)", err)
	}
	if n := h.fake.TokenRequests(); n != 2 {
		t.Errorf("%d token requests; want 2", n)
	}
	assertClean(t, err.Error())
}

// TestRotationWaits: the waits for a rotation's result back off from at most
// 2 s, then 4 s, to 5 s each, and are never shorter than 100 ms (over 200
// rotations the jitter draws below 100 ms about fifteen times).
func TestRotationWaits(t *testing.T) {
	rot := &rotations{sm: secrets}
	clk := newClock()
	var name string
	var waits []time.Duration
	cache := NewCredentialsCache(secrets, "waits/", WithRotateOnRefusal(rot), withCacheClock(clk.Now), withCacheSleep(func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		clk.Advance(d)
		if len(waits) == 4 {
			rot.finish(name, skillValue(strings.TrimPrefix(name, "waits/"), "amzn1.application-oa2-client.test", "new-"+never))
		}
		return ctx.Err()
	}))
	caps := []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for range 200 {
		skill := newSkillID()
		name, waits = "waits/"+skill, nil
		putSecret(t, name, skillValue(skill, "amzn1.application-oa2-client.test", "old-"+never))
		refused, _, err := cache.read(context.Background(), name, "", "AWSCURRENT")
		if err != nil {
			t.Fatal(err)
		}
		if c, outcome, err := cache.rotateAndWait(context.Background(), name, refused); err != nil || outcome != "rotated" || c.ClientSecret.Reveal() != "new-"+never {
			t.Fatalf("rotateAndWait = %v, %q, %v; want the rotated credentials", c, outcome, err)
		}
		if len(waits) != len(caps) {
			t.Fatalf("waits %v; want %d", waits, len(caps))
		}
		for i, d := range waits {
			if d < 100*time.Millisecond || d > caps[i] || (i >= 2 && d != caps[i]) {
				t.Fatalf("waits %v: wait %d is %s; want 100ms to %s (exactly 5s from the third on)", waits, i+1, d, caps[i])
			}
		}
	}
}

func TestRotateOnRefusalConcurrentCallersShareOne(t *testing.T) {
	h := newHealEnv(t)
	sec := h.rotate(t, 2, false)
	h.rotationFunction(sec, 2)
	// Several token sources (as several senders in one container) on one
	// cache: one rotation for all of them.
	senders := []*Sender{h.sender}
	for range 7 {
		senders = append(senders, h.newSender(t))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(senders))
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Send(context.Background(), h.fake.Endpoint(), h.user, Message{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sender %d: %v", i, err)
		}
	}
	if n := h.rot.Calls(); n != 1 {
		t.Errorf("RotateSecret calls = %d; want 1 for %d concurrent senders", n, len(senders))
	}
}

func TestRotateOnRefusalJoinsRotationInProgress(t *testing.T) {
	h := newHealEnv(t)
	sec := h.rotate(t, 2, false)
	h.rot.stagePending(t, h.prefix+h.skillID) // started by another container
	h.rotationFunction(sec, 4)
	if err := h.send(t); err != nil {
		t.Fatalf("send: %v", err)
	}
	if n := h.rot.Calls(); n != 1 {
		t.Errorf("RotateSecret calls = %d; want 1 (refused as in progress, then waited for)", n)
	}
	if !strings.Contains(h.Logs(), `"outcome":"joined a rotation in progress"`) {
		t.Errorf("logs = %s; want the outcome joined a rotation in progress", h.Logs())
	}
}

func TestRotateOnRefusalFailures(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(h *healEnv, newSecret string)
		wantIs      []error
		wantOutcome string
		wantText    []string
	}{
		{
			name:        "rotation not configured",
			setup:       func(h *healEnv, _ string) { h.rot.unconfigured = true },
			wantIs:      []error{ErrRotationNotConfigured, ErrCredentialsRefused},
			wantOutcome: "refused",
			wantText:    []string{"rotation function"},
		},
		{
			name: "refusal survives a fresh copy",
			setup: func(h *healEnv, _ string) {
				// The rotation function finds the same credentials at Amazon.
				h.rotationFunction(h.secret, 2)
			},
			wantIs:      []error{ErrCredentialsRefused},
			wantOutcome: "rotated, same credentials",
			wantText:    []string{"same credentials", "messaging permission in the developer console", "sync's alarms"},
		},
		{
			name: "the new version holds the refused credentials",
			setup: func(h *healEnv, _ string) {
				// createSecret found the same credentials at Amazon; the
				// rotation goes no further.
				h.onSleep = func() {
					h.rot.createSecret(h.prefix+h.skillID, skillValue(h.skillID, "amzn1.application-oa2-client.test", h.secret))
				}
			},
			wantIs:      []error{ErrCredentialsRefused},
			wantOutcome: "rotated, same credentials",
			wantText:    []string{"same credentials"},
		},
		{
			name: "reading the secret fails during the wait",
			setup: func(h *healEnv, _ string) {
				h.onSleep = func() {
					err := error(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized", Fault: smithy.FaultClient})
					h.sm.fail.Store(&err)
				}
			},
			wantIs:      []error{ErrCredentialsRefused},
			wantOutcome: "rotated, read failed",
			wantText:    []string{"AccessDeniedException"},
		},
		{
			name:        "rotation never finishes",
			setup:       func(h *healEnv, _ string) {},
			wantIs:      []error{ErrCredentialsRefused},
			wantOutcome: "rotated, timed out",
			wantText:    []string{"did not finish within", "sync's alarms"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHealEnv(t)
			sec := h.rotate(t, 2, false)
			tc.setup(h, sec)
			err := h.send(t)
			for _, want := range tc.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("err = %v; want it to match %v", err, want)
				}
			}
			var re *RotationError
			if !strings.HasSuffix(tc.wantOutcome, "same credentials") {
				if !errors.As(err, &re) || re.SkillID != h.skillID || re.Outcome != tc.wantOutcome {
					t.Errorf("err = %v; want a *RotationError for skill %s with outcome %q", err, h.skillID, tc.wantOutcome)
				}
			}
			for _, s := range append(tc.wantText, h.skillID) {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("err = %v; want it to say %q", err, s)
				}
			}
			if !strings.Contains(h.Logs(), `"outcome":"`+tc.wantOutcome+`"`) || !strings.Contains(h.Logs(), `"level":"WARN"`) {
				t.Errorf("logs = %s; want one WARN line with outcome %q", h.Logs(), tc.wantOutcome)
			}
			t.Logf("error: %v", err)
			assertClean(t, err.Error(), fmt.Sprintf("%+v", err), h.Logs())
		})
	}
}

// TestRotateOnRefusalOncePerInterval: within the interval after a rotation
// was requested, none is requested again; exactly the interval later, one
// is. WithRotateInterval(0) keeps the default.
func TestRotateOnRefusalOncePerInterval(t *testing.T) {
	for _, tc := range []struct {
		opt      CacheOption
		interval time.Duration
	}{{WithRotateInterval(time.Hour), time.Hour}, {WithRotateInterval(0), DefaultRotateInterval}} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			h := newHealEnv(t, tc.opt)
			h.rotate(t, 2, false)
			h.rotationFunction(h.secret, 2) // the rotation finds the refused credentials
			requested := h.clock.Now()      // the refusal asks for the rotation before any wait
			if err := h.send(t); !errors.Is(err, ErrCredentialsRefused) {
				t.Fatalf("first send = %v; want refused", err)
			}
			h.onSleep = nil
			h.clock.Advance(refusalMemory) // past the token source's memory of the refusal
			err := h.send(t)
			var re *RotationError
			if !errors.As(err, &re) || re.Outcome != "not requested" || !strings.Contains(err.Error(), "at most one per "+tc.interval.String()) {
				t.Errorf("second send = %v; want no rotation requested within the interval", err)
			}
			if n := h.rot.Calls(); n != 1 {
				t.Errorf("RotateSecret calls = %d; want 1 within the interval", n)
			}
			h.clock.Advance(requested.Add(tc.interval).Sub(h.clock.Now()))
			sec := h.rotate(t, 3, false)
			h.rotationFunction(sec, 2)
			if err := h.send(t); err != nil {
				t.Errorf("send the interval after the first request: %v", err)
			}
			if n := h.rot.Calls(); n != 2 {
				t.Errorf("RotateSecret calls = %d; want 2 after the interval", n)
			}
		})
	}
}

func TestWithoutRotateOnRefusalNoRotation(t *testing.T) {
	e := newEnv(t)
	rot := &rotations{sm: secrets}
	// The option's absence is what counts: a Secrets Manager client that
	// could rotate is never asked to.
	sm := struct {
		*countingSM
		*rotations
	}{e.sm, rot}
	cache := NewCredentialsCache(sm, e.prefix)
	sender, err := NewSender(cache, e.skillID, e.options()...)
	if err != nil {
		t.Fatal(err)
	}
	e.rotate(t, 2, false)
	_, err = sender.Send(context.Background(), e.fake.Endpoint(), e.user, Message{})
	if !errors.Is(err, ErrCredentialsRefused) || strings.Contains(err.Error(), "rotation") {
		t.Errorf("err = %v; want refused, with no rotation", err)
	}
	if rot.Calls() != 0 {
		t.Errorf("RotateSecret calls = %d; want 0 without WithRotateOnRefusal", rot.Calls())
	}
}

// TestRotateOnRefusalFreshness measures, on the fake clock, the time from a
// change of credentials at Amazon to a working send when the rotation
// function answers within seconds. The end-to-end measure with the sync's
// rotation steps against moto is in internal/testsupport/skillmessagingmoto.
func TestRotateOnRefusalFreshness(t *testing.T) {
	h := newHealEnv(t)
	if err := h.send(t); err != nil {
		t.Fatal(err)
	}
	changed := h.clock.Now()
	sec := h.rotate(t, 2, false)
	h.fake.ExpireTokens()
	// The rotation function takes about 3 s (four steps, one SMAPI call and
	// one LWA grant): done after the waits that add up to that.
	h.onSleep = func() {
		if h.clock.Now().Sub(changed) >= 3*time.Second {
			h.rot.finish(h.prefix+h.skillID, skillValue(h.skillID, "amzn1.application-oa2-client.test", sec))
		}
	}
	if err := h.send(t); err != nil {
		t.Fatal(err)
	}
	took := h.clock.Now().Sub(changed)
	t.Logf("freshness: %s from the change at Amazon to a working send (fake clock; the rotation function took 3s)", took)
	if took > time.Minute {
		t.Errorf("healing took %s; want well under a minute", took)
	}
}
