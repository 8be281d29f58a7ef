package credsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/logbuf"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var moto *motoserver.Server

func TestMain(m *testing.M) {
	flag.Parse()
	motoserver.RunTests(m, &moto)
}

const (
	lwaClientID     = "amzn1.application-oa2-client.lwa-profile"
	lwaClientSecret = "lwa-client-secret-NEVER-PRINTED"
	lwaRefreshToken = "Atzr|refresh-token-NEVER-PRINTED"
)

// skill returns the i-th test skill id.
func skill(i int) string { return fmt.Sprintf("amzn1.ask.skill.%08d-1111-4111-8111-111111111111", i) }

// skillSecret is the fake's client secret for skill i (version v).
func skillSecret(i, v int) string { return fmt.Sprintf("skill-%d-secret-v%d-NEVER-PRINTED", i, v) }

// env is one test's world: moto's Secrets Manager, the fake Amazon, a syncer
// wired like the Lambda's, and everything it logged.
type env struct {
	t      *testing.T
	api    *secretsmanager.Client
	fake   *smapitest.Server
	syncer *Syncer
	logs   *logbuf.Buffer
	prefix string
	lwaID  string
	waits  *[]time.Duration
	calls  *callCounter
	// spans records when each LWA and SMAPI request started and ended.
	spans *callSpans
}

// callCounter counts the Secrets Manager calls the store makes, by operation.
type callCounter struct {
	store.API
	mu sync.Mutex
	n  map[string]int
	// editBatch, when set, changes a BatchGetSecretValue answer before the
	// store sees it: a scripted answer where moto cannot produce AWS's.
	editBatch func(*secretsmanager.BatchGetSecretValueOutput)
}

func (c *callCounter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

// counts returns the calls so far and forgets them.
func (c *callCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func (c *callCounter) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, o ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	c.add("ListSecrets")
	return c.API.ListSecrets(ctx, in, o...)
}

func (c *callCounter) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.add("GetSecretValue")
	return c.API.GetSecretValue(ctx, in, o...)
}

func (c *callCounter) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	c.add("BatchGetSecretValue")
	out, err := c.API.BatchGetSecretValue(ctx, in, o...)
	if err == nil && c.editBatch != nil {
		c.editBatch(out)
	}
	return out, err
}

func (c *callCounter) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	c.add("PutSecretValue")
	return c.API.PutSecretValue(ctx, in, o...)
}

func (c *callCounter) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	c.add("DescribeSecret")
	return c.API.DescribeSecret(ctx, in, o...)
}

func (c *callCounter) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, o ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	c.add("UpdateSecretVersionStage")
	return c.API.UpdateSecretVersionStage(ctx, in, o...)
}

// newEnv creates the LWA secret and a secret for each of the skills, which
// the fake knows with credentials version 1.
func newEnv(t *testing.T, skills ...int) *env {
	t.Helper()
	e := &env{
		t:      t,
		api:    moto.SecretsManager(),
		fake:   smapitest.New(),
		logs:   &logbuf.Buffer{},
		prefix: "alexa/" + t.Name() + "/",
		lwaID:  "lwa/" + t.Name(),
	}
	t.Cleanup(e.fake.Close)
	t.Cleanup(func() { forgetSecrets(t, e.api) })
	e.fake.AddClient(lwaClientID, lwaClientSecret, lwaRefreshToken)
	e.create(e.lwaID, fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"refreshToken":%q,"owner":"team-a"}`, lwaClientID, lwaClientSecret, lwaRefreshToken))
	for _, i := range skills {
		e.create(e.prefix+skill(i), fmt.Sprintf(`{"skillId":%q}`, skill(i)))
		e.fake.SetSkill(skill(i), fmt.Sprintf("amzn1.application-oa2-client.skill-%d", i), skillSecret(i, 1))
	}

	hc := smapi.NewHTTPClient(5 * time.Second)
	e.spans = &callSpans{base: hc.Transport}
	hc.Transport = e.spans
	tokens := smapi.NewTokenSource(e.fake.TokenURL(), hc)
	client, err := smapi.NewClient(e.fake.SMAPIURL(), tokens, hc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := []time.Duration{}
	e.waits = &waits
	client.Retrier.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return ctx.Err()
	}
	e.calls = &callCounter{API: e.api, n: map[string]int{}}
	e.syncer = &Syncer{
		Store:       store.New(e.calls),
		Client:      client,
		Tokens:      tokens,
		LWASecretID: e.lwaID,
		Prefix:      e.prefix,
		Concurrency: 4,
		// Functional tests do not wait for their pacing slots or a 429's
		// hold; the holds are recorded with the retry waits.
		NewPacer: func() *smapi.Pacer {
			p := smapi.NewPacer()
			p.Sleep = client.Retrier.Sleep
			return p
		},
		FunctionName: "test-function",
		Logger:       slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	return e
}

// forgetSecrets deletes, without recovery, every secret whose name holds
// t's name, so that a test run again (-count=2) starts from nothing.
func forgetSecrets(t *testing.T, api *secretsmanager.Client) {
	p := secretsmanager.NewListSecretsPaginator(api, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Errorf("forget the test's secrets: %v", err)
			return
		}
		for _, s := range page.SecretList {
			if strings.Contains(aws.ToString(s.Name), t.Name()) {
				if _, err := api.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: s.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
					t.Errorf("forget secret %s: %v", aws.ToString(s.Name), err)
				}
			}
		}
	}
}

func (e *env) create(name, value string) {
	e.t.Helper()
	if _, err := e.api.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) current(name string) string {
	e.t.Helper()
	out, err := e.api.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

func (e *env) versions(name string) int {
	e.t.Helper()
	out, err := e.api.ListSecretVersionIds(context.Background(), &secretsmanager.ListSecretVersionIdsInput{SecretId: &name, IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(out.Versions)
}

// run runs a sync and checks that no secret reached the logs, the error or
// the summary.
func (e *env) run(event string) (*Summary, error) {
	e.t.Helper()
	sum, err := e.syncer.Handle(context.Background(), json.RawMessage(event))
	out, _ := json.Marshal(sum)
	e.assertNoSecret("summary", string(out))
	if err != nil {
		e.assertNoSecret("error", err.Error())
	}
	e.assertNoSecret("logs", e.logs.String())
	return sum, err
}

func (e *env) assertNoSecret(what, s string) {
	e.t.Helper()
	secrets := []string{lwaClientSecret, lwaRefreshToken, "Atzr|", "Atza|", "NEVER-PRINTED"}
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			e.t.Errorf("%s leaks a secret (%q):\n%s", what, sec, s)
		}
	}
}

func (e *env) wantSkill(i, version int) {
	e.t.Helper()
	want := fmt.Sprintf(`{"skillId":%q,"clientId":"amzn1.application-oa2-client.skill-%d","clientSecret":%q}`, skill(i), i, skillSecret(i, version))
	if got := e.current(e.prefix + skill(i)); got != want {
		e.t.Errorf("secret of skill %d = %s; want %s", i, got, want)
	}
}

func wantCounts(t *testing.T, sum *Summary, skills, updated, unchanged, failed int) {
	t.Helper()
	if sum == nil || sum.Skills != skills || sum.Updated != updated || sum.Unchanged != unchanged || sum.Failed != failed {
		t.Fatalf("summary = %+v; want %d skills, %d updated, %d unchanged, %d failed", sum, skills, updated, unchanged, failed)
	}
}

func TestFirstAndSecondSync(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 3, 3, 0, 0)
	for i := 1; i <= 3; i++ {
		e.wantSkill(i, 1)
		if r := sum.Results[i-1]; r.SkillID != skill(i) || r.Status != StatusUpdated || r.RequestID == "" {
			t.Errorf("results[%d] = %+v", i-1, r)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}

	// The second run writes no new version.
	sum, err = e.run(readEvent(t, "scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 3, 0, 3, 0)
	for i := 1; i <= 3; i++ {
		if n := e.versions(e.prefix + skill(i)); n != 2 {
			t.Errorf("skill %d has %d versions; want 2 (placeholder + first sync)", i, n)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("token requests after two runs = %d; want 1 (the access token is reused)", n)
	}

	// One changed credential writes exactly one version.
	e.fake.SetSkill(skill(2), "amzn1.application-oa2-client.skill-2", skillSecret(2, 2))
	sum, err = e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 3, 1, 2, 0)
	e.wantSkill(2, 2)
	for i, want := range map[int]int{1: 2, 2: 3, 3: 2} {
		if n := e.versions(e.prefix + skill(i)); n != want {
			t.Errorf("skill %d has %d versions; want %d", i, n, want)
		}
	}

	// One log line per skill per run, with the fields an operator needs.
	var perSkill int
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == "skill synced" {
			perSkill++
			for _, k := range []string{"skill_id", "status", "request_id", "attempts", "duration_ms"} {
				if _, ok := m[k]; !ok {
					t.Errorf("log line misses %s: %s", k, line)
				}
			}
		}
	}
	if perSkill != 9 {
		t.Errorf("%d per-skill log lines; want 9", perSkill)
	}
}

func TestFaultMix(t *testing.T) {
	e := newEnv(t, 1, 2, 3, 4, 5, 6)
	e.syncer.Concurrency = 1 // a fixed order makes the golden summary stable
	// Skills 4 and 5 hold good credentials from an earlier sync.
	for _, i := range []int{4, 5} {
		if _, err := e.syncer.Store.WriteSkill(context.Background(), e.prefix+skill(i), store.SkillSecret{
			SkillID: skill(i), ClientID: fmt.Sprintf("amzn1.application-oa2-client.skill-%d", i), ClientSecret: "good-old-secret-NEVER-PRINTED"}); err != nil {
			t.Fatal(err)
		}
	}
	good4, good5 := e.current(e.prefix+skill(4)), e.current(e.prefix+skill(5))

	e.fake.Script(skill(1), skillmessagingtest.Throttled("1"))
	e.fake.Script(skill(2), skillmessagingtest.ServerError(503))
	e.fake.RemoveSkill(skill(3))
	e.fake.Script(skill(4), smapitest.HTMLPage())
	e.fake.Script(skill(5), smapitest.EmptySecret())
	e.fake.Script(skill(6), smapitest.PartialJSON())

	sum, err := e.run(`{}`)
	wantCounts(t, sum, 6, 2, 0, 4)
	e.wantSkill(1, 1)
	e.wantSkill(2, 1)
	if got := e.current(e.prefix + skill(4)); got != good4 {
		t.Errorf("skill 4 (HTML answer) was overwritten: %s", got)
	}
	if got := e.current(e.prefix + skill(5)); got != good5 {
		t.Errorf("skill 5 (empty secret) was overwritten: %s", got)
	}
	if got := e.current(e.prefix + skill(6)); got != fmt.Sprintf(`{"skillId":%q}`, skill(6)) {
		t.Errorf("skill 6 (partial JSON) was overwritten: %s", got)
	}
	var runErr *RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 4 {
		t.Fatalf("err = %v; want a RunError naming 4 skills", err)
	}
	for _, i := range []int{3, 4, 5, 6} {
		if !strings.Contains(err.Error(), skill(i)) {
			t.Errorf("error does not name skill %d: %v", i, err)
		}
	}
	// Skill 1's Retry-After is its hold, counted from the 429's arrival.
	if w := *e.waits; len(w) != 2 || w[0] <= 900*time.Millisecond || w[0] > time.Second {
		t.Errorf("retry waits = %v; want Retry-After 1s then one backoff", w)
	}
	golden(t, "fault-mix-summary.golden.json", sum)
}

// fakeRequestID matches the request ids the fake SMAPI gives.
var fakeRequestID = regexp.MustCompile(`[0-9]{8}-fake-4000-8000-[0-9]{12}`)

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// Names of this test's secrets vary with the test name; the golden
	// file holds them as <prefix>.
	got = bytes.ReplaceAll(got, []byte("alexa/"+t.Name()+"/"), []byte("<prefix>"))
	// The fake numbers its request ids in the order requests arrive, and a
	// skill waiting out its own 429 lends its place to the next skill, so
	// which skill's retry comes first is up to the scheduler. The golden
	// file holds each id as <request id>; that every failed skill names one
	// is still checked, in requestId and in its error.
	got = fakeRequestID.ReplaceAll(got, []byte("<request id>"))
	path := filepath.Join("..", "..", "testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("summary differs from %s (run go test -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func readEvent(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInvalidGrantTouchesNothing(t *testing.T) {
	e := newEnv(t, 1, 2)
	e.fake.ScriptToken(smapitest.InvalidGrant())
	sum, err := e.run(`{}`)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "replace the refreshToken") || !strings.Contains(err.Error(), e.lwaID) {
		t.Fatalf("err = %v; want invalid_grant naming the LWA secret and telling to replace the refresh token", err)
	}
	wantCounts(t, sum, 0, 0, 0, 0)
	for _, i := range []int{1, 2} {
		if n := e.versions(e.prefix + skill(i)); n != 1 {
			t.Errorf("skill %d has %d versions; want 1 (untouched)", i, n)
		}
		if n := e.fake.SkillRequests(skill(i)); n != 0 {
			t.Errorf("skill %d: %d SMAPI requests; want 0", i, n)
		}
	}
	if !strings.Contains(e.logs.String(), `"SyncSucceeded":0`) {
		t.Errorf("summary line does not report SyncSucceeded 0:\n%s", e.logs.String())
	}
}

func TestLWASecretNotFilledIn(t *testing.T) {
	e := newEnv(t, 1)
	e.lwaID = "lwa/placeholder-" + t.Name()
	e.syncer.LWASecretID = e.lwaID
	e.create(e.lwaID, `{"clientId":"","clientSecret":"","refreshToken":"","_instructions":"fill in"}`)
	_, err := e.run(`{}`)
	if !errors.Is(err, store.ErrLWANotConfigured) || !strings.Contains(err.Error(), e.lwaID) {
		t.Fatalf("err = %v; want ErrLWANotConfigured naming the secret", err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d requests to Amazon; want 0", n)
	}
}

func TestDeployTimeSync(t *testing.T) {
	e := newEnv(t, 1)
	deploy := `{"source":"alexa-skill-credentials.deploy"}`
	sum, err := e.run(deploy)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 1, 1, 0, 0)

	// Before the operator fills the LWA secret, the deploy-time sync
	// succeeds with a message; any other event fails.
	e.syncer.LWASecretID = "lwa/placeholder-" + t.Name()
	e.create(e.syncer.LWASecretID, `{"clientId":"","clientSecret":"","refreshToken":"","_instructions":"fill in"}`)
	sum, err = e.run(deploy)
	if err != nil || !strings.Contains(sum.Message, "not filled in yet") || !strings.Contains(sum.Message, "make sync") {
		t.Fatalf("deploy sync with the placeholder = %+v, %v; want success with a message", sum, err)
	}
	if _, err := e.run(`{}`); !errors.Is(err, store.ErrLWANotConfigured) {
		t.Fatalf("scheduled sync with the placeholder = %v; want ErrLWANotConfigured", err)
	}
	// Other failures still fail the deploy-time sync.
	e.syncer.LWASecretID = e.lwaID
	e.fake.RemoveSkill(skill(1))
	if _, err := e.run(deploy); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("deploy sync with a failing skill = %v; want the skill's error", err)
	}
}

func TestRotatedRefreshTokenIsPersisted(t *testing.T) {
	e := newEnv(t, 1)
	e.fake.RotateRefreshToken("Atzr|rotated-NEVER-PRINTED")
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	var lwa map[string]string
	if err := json.Unmarshal([]byte(e.current(e.lwaID)), &lwa); err != nil {
		t.Fatal(err)
	}
	if lwa["refreshToken"] != "Atzr|rotated-NEVER-PRINTED" || lwa["owner"] != "team-a" || lwa["clientSecret"] != lwaClientSecret {
		t.Fatalf("LWA secret after rotation = %v; want the new token and every other key kept", lwa)
	}
	// The next run reads the new token and does not write again.
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	if n := e.versions(e.lwaID); n != 2 {
		t.Fatalf("LWA secret has %d versions; want 2", n)
	}
}

func TestSkillIDsEvent(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	sum, err := e.run(fmt.Sprintf(`{"skillIds": [%q, %q, %q]}`, skill(2), skill(2), skill(9)))
	wantCounts(t, sum, 2, 1, 0, 1)
	e.wantSkill(2, 1)
	for _, i := range []int{1, 3} {
		if n := e.fake.SkillRequests(skill(i)); n != 0 {
			t.Errorf("skill %d was fetched; want only the listed skills", i)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "no secret named "+e.prefix+skill(9)) {
		t.Fatalf("err = %v; want skill 9 reported as having no secret", err)
	}
	if e.fake.SkillRequests(skill(9)) != 0 {
		t.Error("skill 9 without a secret was sent to SMAPI")
	}
}

func TestInvalidSkillIDUnderPrefix(t *testing.T) {
	e := newEnv(t, 1)
	bad := "amzn1.ask.skill.not-a-uuid"
	e.create(e.prefix+bad, `{}`)
	sum, err := e.run(`{}`)
	wantCounts(t, sum, 2, 1, 0, 1)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "invalid skill id") {
		t.Fatalf("err = %v; want the invalid id reported", err)
	}
	for _, r := range e.fake.Requests() {
		if strings.Contains(r.Path, "not-a-uuid") {
			t.Fatalf("invalid skill id sent to SMAPI: %+v", r)
		}
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	e := newEnv(t, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	e.syncer.Concurrency = 3
	e.fake.SetLatency(20 * time.Millisecond)
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.MaxInFlight(); got > 3 || got < 2 {
		t.Fatalf("max SMAPI requests in flight = %d; want 2..3 with SYNC_CONCURRENCY 3", got)
	}
}

func TestDeadlineTooShortStartsNothing(t *testing.T) {
	e := newEnv(t, 1, 2)
	e.syncer.Reserve, e.syncer.MinFetch = 2*time.Second, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	sum, err := e.syncer.Handle(ctx, json.RawMessage(`{}`))
	wantCounts(t, sum, 2, 0, 0, 2)
	if err == nil || !strings.Contains(err.Error(), "not started") || !strings.Contains(err.Error(), skill(2)) {
		t.Fatalf("err = %v; want every skill reported as not started", err)
	}
	if n := e.fake.SkillRequests(skill(1)) + e.fake.SkillRequests(skill(2)); n != 0 {
		t.Fatalf("%d SMAPI requests; want 0", n)
	}
}

func TestSummaryLineIsEMF(t *testing.T) {
	e := newEnv(t, 1)
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	var m struct {
		Msg string `json:"msg"`
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
		FunctionName  string
		SyncSucceeded *int
		SkillsUpdated *int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Msg != "sync finished" || len(m.AWS.CloudWatchMetrics) != 1 || m.AWS.CloudWatchMetrics[0].Namespace != contract.MetricNamespace ||
		m.FunctionName != "test-function" || m.SyncSucceeded == nil || *m.SyncSucceeded != 1 || m.SkillsUpdated == nil || *m.SkillsUpdated != 1 {
		t.Fatalf("summary line = %s; want an EMF record with SyncSucceeded 1", lines[len(lines)-1])
	}
}

// summaryLine decodes the last "sync finished" line e logged, and checks
// that it is a well-formed EMF record: every metric it declares is a
// top-level number, and every metric-like key it has is declared.
func (e *env) summaryLine() map[string]any {
	e.t.Helper()
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			e.t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "sync finished" {
			line = m
		}
	}
	if line == nil {
		e.t.Fatalf("no summary line in:\n%s", e.logs.String())
	}
	aws, _ := line["_aws"].(map[string]any)
	cwm, _ := aws["CloudWatchMetrics"].([]any)
	if len(cwm) != 1 {
		e.t.Fatalf("summary line _aws = %s; want one CloudWatchMetrics directive", toJSON(line["_aws"]))
	}
	declared := map[string]bool{}
	for _, m := range cwm[0].(map[string]any)["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		declared[name] = true
		if _, ok := line[name].(float64); !ok {
			e.t.Errorf("metric %s declared but its value is %v", name, line[name])
		}
	}
	for _, name := range contract.Metrics {
		if _, present := line[name]; present != declared[name] {
			e.t.Errorf("%s: present %v, declared %v; want both or neither", name, present, declared[name])
		}
	}
	return line
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRunMetrics checks the metrics the stack's alarms and dashboard read:
// a run over every skill says whether it completed (FullRunFailed) and, if
// it did, how many skills failed (FullRunSkillsFailed); a {"skillIds"} run
// emits neither, so it can never clear an alarm about the full runs.
func TestRunMetrics(t *testing.T) {
	absent := -1
	tests := []struct {
		name  string
		setup func(e *env)
		event string
		want  map[string]any // metric or attribute -> value; absent means not in the line
	}{
		{"full run, every skill synced", nil, `{}`, map[string]any{
			"run": RunAll, contract.MetricSyncSucceeded: 1, contract.MetricSkillsUpdated: 2, contract.MetricSkillsUnchanged: 0, contract.MetricSkillsFailed: 0,
			contract.MetricSMAPIRetries: 0, contract.MetricSMAPIThrottled: 0, contract.MetricFullRunFailed: 0, contract.MetricFullRunSkillsFailed: 0}},
		{"scheduled event", nil, `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, map[string]any{
			"run": RunAll, contract.MetricFullRunFailed: 0, contract.MetricFullRunSkillsFailed: 0}},
		{"full run, one skill gone", func(e *env) { e.fake.RemoveSkill(skill(2)) }, `{}`, map[string]any{
			"run": RunAll, contract.MetricSyncSucceeded: 0, contract.MetricSkillsUpdated: 1, contract.MetricSkillsFailed: 1,
			contract.MetricFullRunFailed: 0, contract.MetricFullRunSkillsFailed: 1}},
		{"full run, throttled once", func(e *env) { e.fake.Script(skill(1), skillmessagingtest.Throttled("0")) }, `{}`, map[string]any{
			contract.MetricSyncSucceeded: 1, contract.MetricSMAPIRetries: 1, contract.MetricSMAPIThrottled: 1, contract.MetricFullRunFailed: 0, contract.MetricFullRunSkillsFailed: 0}},
		{"full run, LWA refused", func(e *env) { e.fake.ScriptToken(smapitest.InvalidGrant()) }, `{}`, map[string]any{
			"run": RunAll, contract.MetricSyncSucceeded: 0, contract.MetricFullRunFailed: 1, contract.MetricFullRunSkillsFailed: absent}},
		{"skillIds run", nil, `{"skillIds":["` + skill(1) + `"]}`, map[string]any{
			"run": RunSkills, contract.MetricSyncSucceeded: 1, contract.MetricSkillsUpdated: 1,
			contract.MetricFullRunFailed: absent, contract.MetricFullRunSkillsFailed: absent}},
		{"skillIds run, LWA refused", func(e *env) { e.fake.ScriptToken(smapitest.InvalidGrant()) }, `{"skillIds":["` + skill(1) + `"]}`, map[string]any{
			"run": RunSkills, contract.MetricSyncSucceeded: 0, contract.MetricFullRunFailed: absent, contract.MetricFullRunSkillsFailed: absent}},
		{"deploy run", nil, `{"source":"alexa-skill-credentials.deploy"}`, map[string]any{
			"run": RunDeploy, contract.MetricSyncSucceeded: 1, contract.MetricFullRunFailed: 0, contract.MetricFullRunSkillsFailed: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1, 2)
			if tt.setup != nil {
				tt.setup(e)
			}
			_, _ = e.run(tt.event)
			line := e.summaryLine()
			for k, w := range tt.want {
				got, present := line[k]
				if w == absent {
					if present {
						t.Errorf("%s = %v; want it absent", k, got)
					}
					continue
				}
				if n, ok := w.(int); ok {
					w = float64(n)
				}
				if got != w {
					t.Errorf("%s = %v; want %v", k, got, w)
				}
			}
		})
	}
}

// TestRunMetricsNotStarted checks that a full run that ran out of time
// before some skills counts as a run that could not complete.
func TestRunMetricsNotStarted(t *testing.T) {
	e := newEnv(t, 1)
	e.syncer.Reserve, e.syncer.MinFetch = 2*time.Second, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if _, err := e.syncer.Handle(ctx, json.RawMessage(`{}`)); err == nil {
		t.Fatal("err = nil; want the skill reported as not started")
	}
	line := e.summaryLine()
	if line[contract.MetricFullRunFailed] != float64(1) || line[contract.MetricFullRunSkillsFailed] != nil {
		t.Errorf("FullRunFailed %v FullRunSkillsFailed %v; want 1 and absent", line[contract.MetricFullRunFailed], line[contract.MetricFullRunSkillsFailed])
	}
}

// TestSummaryLineNamesFailedSkills checks that the summary line's error is
// the invocation's: each failed skill with its error and request id.
func TestSummaryLineNamesFailedSkills(t *testing.T) {
	e := newEnv(t, 1, 2)
	e.fake.RemoveSkill(skill(2))
	_, err := e.run(`{}`)
	if err == nil {
		t.Fatal("err = nil; want skill 2 failed")
	}
	line := e.summaryLine()
	if line["error"] != err.Error() || !strings.Contains(err.Error(), skill(2)) || !strings.Contains(err.Error(), "request id") {
		t.Errorf("summary error = %v; want the invocation's error %q naming the skill and its request id", line["error"], err)
	}
	if line["level"] != "ERROR" {
		t.Errorf("summary level = %v; want ERROR", line["level"])
	}
}

// TestReportConfigError checks that a misconfigured function fails every
// invocation with the reason and reports a failed full run, but writes no
// summary for a rotation step or a {"skillIds"} run's full-run metrics.
func TestReportConfigError(t *testing.T) {
	tests := []struct {
		event   string
		summary bool
		full    bool
	}{
		{`{}`, true, true},
		{`{"source":"alexa-skill-credentials.deploy"}`, true, true},
		{`{"skillIds":["` + skill(1) + `"]}`, true, false},
		{`{"Step":"createSecret","SecretId":"s","ClientRequestToken":"t"}`, false, false},
		{`not json`, false, false},
	}
	for _, tt := range tests {
		logs := &logbuf.Buffer{}
		h := ReportConfigError(slog.New(slog.NewJSONHandler(logs, nil)), "fn", errors.New("LWA_SECRET_ID is not set"))
		sum, err := h(context.Background(), json.RawMessage(tt.event))
		if sum != nil || err == nil || err.Error() != "configuration error: LWA_SECRET_ID is not set" {
			t.Errorf("handler(%s) = %v, %v; want nil and the configuration error", tt.event, sum, err)
		}
		out := logs.String()
		if got := strings.Contains(out, `"msg":"sync finished"`); got != tt.summary {
			t.Errorf("handler(%s) wrote a summary line: %v; want %v\n%s", tt.event, got, tt.summary, out)
		}
		if got := strings.Contains(out, `"FullRunFailed":1`); got != tt.full {
			t.Errorf("handler(%s) reported FullRunFailed 1: %v; want %v\n%s", tt.event, got, tt.full, out)
		}
	}
}

// TestCompletedRunEmitsEveryMetric checks that a completed run over every
// skill declares every metric of the contract, the names the stack's alarms
// and dashboard watch (infra reads them from internal/contract too), so an
// alarm cannot watch a metric nobody writes.
func TestCompletedRunEmitsEveryMetric(t *testing.T) {
	e := newEnv(t, 1)
	if _, err := e.run(`{}`); err != nil {
		t.Fatal(err)
	}
	line := e.summaryLine()
	for _, name := range contract.Metrics {
		if _, ok := line[name].(float64); !ok {
			t.Errorf("summary line of a completed full run: %s = %v; want a number", name, line[name])
		}
	}
}

// TestSecretsManagerCalls counts the Secrets Manager calls of a run of 45
// skills: the LWA secret, one BatchGetSecretValue per 20 skills and, on the
// first run only, one PutSecretValue per skill; nothing else.
func TestSecretsManagerCalls(t *testing.T) {
	const n = 45
	skills := make([]int, n)
	for i := range skills {
		skills[i] = i + 1
	}
	e := newEnv(t, skills...)
	e.syncer.Concurrency = 8
	batches := (n + 19) / 20

	sum, err := e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, n, n, 0, 0)
	want := map[string]int{"GetSecretValue": 1, "BatchGetSecretValue": batches, "PutSecretValue": n}
	if got := e.calls.counts(); !maps.Equal(got, want) {
		t.Fatalf("first run: Secrets Manager calls %v; want %v", got, want)
	}

	sum, err = e.run(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, n, 0, n, 0)
	// Exactly ceil(N/20)+1 calls, within the README's promise of at most
	// ceil(N/20)+3 for an unchanged run.
	want = map[string]int{"GetSecretValue": 1, "BatchGetSecretValue": batches}
	if got := e.calls.counts(); !maps.Equal(got, want) {
		t.Fatalf("unchanged run: Secrets Manager calls %v; want %v", got, want)
	}

	// An id list of 25 is read in chunks of 20.
	ids := make([]string, 0, 25)
	for i := 25; i >= 1; i-- {
		ids = append(ids, skill(i))
	}
	ev, _ := json.Marshal(map[string][]string{"skillIds": ids})
	sum, err = e.run(string(ev))
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, sum, 25, 0, 25, 0)
	want = map[string]int{"GetSecretValue": 1, "BatchGetSecretValue": 2}
	if got := e.calls.counts(); !maps.Equal(got, want) {
		t.Fatalf("skillIds run: Secrets Manager calls %v; want %v", got, want)
	}
	if sum.Results[0].SkillID != skill(25) || sum.Results[24].SkillID != skill(1) {
		t.Fatalf("results are not in the order of the event: %+v", sum.Results)
	}
}

// TestBatchReadErrorFailsOneSkill scripts what AWS answers when it cannot
// decrypt one secret of a batch (an entry of Errors, by ARN, instead of its
// value; moto never answers so): that skill fails, naming the secret and the
// error, and is not sent to SMAPI; the others sync.
func TestBatchReadErrorFailsOneSkill(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	broken := e.prefix + skill(2)
	e.calls.editBatch = func(out *secretsmanager.BatchGetSecretValueOutput) {
		out.SecretValues = slices.DeleteFunc(out.SecretValues, func(v types.SecretValueEntry) bool { return aws.ToString(v.Name) == broken })
		out.Errors = append(out.Errors, types.APIErrorType{
			SecretId:  aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:" + broken + "-AbCdEf"),
			ErrorCode: aws.String("DecryptionFailure"), Message: aws.String("Access to KMS is not allowed")})
	}
	sum, err := e.run(`{}`)
	wantCounts(t, sum, 3, 2, 0, 1)
	e.wantSkill(1, 1)
	e.wantSkill(3, 1)
	var runErr *RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 1 || runErr.Failed[0].SkillID != skill(2) {
		t.Fatalf("err = %v; want a RunError naming skill 2 only", err)
	}
	if msg := runErr.Failed[0].Error; !strings.Contains(msg, broken) || !strings.Contains(msg, "DecryptionFailure") {
		t.Errorf("skill 2 error = %q; want the secret and DecryptionFailure", msg)
	}
	if n := e.fake.SkillRequests(skill(2)); n != 0 {
		t.Errorf("skill 2 was sent to SMAPI %d times; want 0", n)
	}
}
