package skillmessaging

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// secrets is the Secrets Manager of this package's tests: in memory,
// because this module (Go 1.24, light to import) cannot use the repository's
// moto helpers. The same reads run against moto's server in
// internal/testsupport/skillmessagingmoto of the root module.
var secrets = newMemSM()

// memSM answers GetSecretValue as Secrets Manager does: each secret keeps
// its versions with their staging labels; a read without a stage or version
// id is AWSCURRENT; a missing secret or label is a
// ResourceNotFoundException.
type memSM struct {
	mu      sync.Mutex
	secrets map[string][]*memVersion
}

type memVersion struct {
	id     string
	value  *string
	binary []byte
	stages []string
}

func newMemSM() *memSM { return &memSM{secrets: map[string][]*memVersion{}} }

// put adds an AWSCURRENT version (the previous one loses the label).
func (m *memSM) put(name, value string) { m.add(name, &memVersion{value: &value}, "AWSCURRENT") }

func (m *memSM) putBinary(name string, b []byte) { m.add(name, &memVersion{binary: b}, "AWSCURRENT") }

// putPending adds an AWSPENDING version, as a rotation in progress does.
func (m *memSM) putPending(name, value string) { m.add(name, &memVersion{value: &value}, "AWSPENDING") }

func (m *memSM) add(name string, v *memVersion, stage string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, old := range m.secrets[name] {
		old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return s == stage })
	}
	v.stages = []string{stage}
	if v.id == "" {
		v.id = fmt.Sprintf("v%d", len(m.secrets[name])+1)
	}
	m.secrets[name] = append(m.secrets[name], v)
}

func (m *memSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	versions, ok := m.secrets[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	stage := aws.ToString(in.VersionStage)
	if stage == "" {
		stage = "AWSCURRENT"
	}
	for _, v := range versions {
		if slices.Contains(v.stages, stage) && (in.VersionId == nil || *in.VersionId == v.id) {
			if v.value == nil && v.binary == nil {
				break // staged by RotateSecret, no value yet: Secrets Manager finds none
			}
			return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: v.value, SecretBinary: v.binary, VersionStages: v.stages, VersionId: aws.String(v.id)}, nil
		}
	}
	return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: " + stage)}
}

// never is in every secret of the tests; no error or output may contain it.
const never = "NEVER-PRINTED"

var skillSeq atomic.Int64

// newSkillID returns a valid skill id unique to this test binary.
func newSkillID() string {
	return fmt.Sprintf("amzn1.ask.skill.00000000-0000-4000-8000-%012d", skillSeq.Add(1))
}

// countingSM counts the GetSecretValue calls made to api.
type countingSM struct {
	api   SecretsManagerAPI
	calls atomic.Int64
	// gate, when set, holds every call until it is closed.
	gate chan struct{}
	// fail, when set, is returned instead of calling Secrets Manager.
	fail atomic.Pointer[error]
}

func (c *countingSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if err := c.fail.Load(); err != nil {
		return nil, *err
	}
	return c.api.GetSecretValue(ctx, in, opts...)
}

// clock is a settable time for TTL and token expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records the retry delays instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func putSecret(t *testing.T, name, value string) {
	t.Helper()
	secrets.put(name, value)
}

func skillValue(skillID, clientID, clientSecret string) string {
	return fmt.Sprintf(`{"skillId":%q,"clientId":%q,"clientSecret":%q}`, skillID, clientID, clientSecret)
}

// env is one skill with its secret in memory and its credentials at the fake.
type env struct {
	fake    *skillmessagingtest.Server
	sm      *countingSM
	cache   *CredentialsCache
	sender  *Sender
	prefix  string
	skillID string
	secret  string // the client secret
	user    string
	sleeps  *sleeps
	clock   *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		fake:    skillmessagingtest.NewServer(),
		sm:      &countingSM{api: secrets},
		prefix:  "test/" + strings.ReplaceAll(t.Name(), "/", "_") + "/",
		skillID: newSkillID(),
		secret:  "skill-secret-1-" + never,
		user:    "amzn1.ask.account.AFAKEUSER" + fmt.Sprint(skillSeq.Load()),
		sleeps:  &sleeps{},
		clock:   newClock(),
	}
	t.Cleanup(e.fake.Close)
	e.fake.SetSkill(e.skillID, "amzn1.application-oa2-client.test", e.secret)
	e.fake.AddUser(e.user)
	putSecret(t, e.prefix+e.skillID, skillValue(e.skillID, "amzn1.application-oa2-client.test", e.secret))
	e.cache = NewCredentialsCache(e.sm, e.prefix)
	var err error
	e.sender, err = NewSender(e.cache, e.skillID, e.options()...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) options() []Option {
	return []Option{WithTokenURL(e.fake.TokenURL()), withClock(e.clock.Now), withSleep(e.sleeps.Sleep)}
}

// withClock and withSleep set the seams of this package's tests: the clock
// of token expiry and refusals, and the retrier's wait.
func withClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

func withSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(c *config) { c.sleep = sleep }
}

// rotate changes the skill's credentials at the fake and, if stored, in the
// secret too. It returns the new client secret.
func (e *env) rotate(t *testing.T, n int, stored bool) string {
	t.Helper()
	sec := fmt.Sprintf("skill-secret-%d-%s", n, never)
	e.fake.SetSkill(e.skillID, "amzn1.application-oa2-client.test", sec)
	if stored {
		putSecret(t, e.prefix+e.skillID, skillValue(e.skillID, "amzn1.application-oa2-client.test", sec))
	}
	return sec
}

// assertClean fails if any text holds a secret or an access token.
func assertClean(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, never) || strings.Contains(s, "Atc|") {
			t.Errorf("output holds a secret or token: %s", s)
		}
	}
}
