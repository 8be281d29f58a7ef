package skillmessaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// newestFirst answers a read that names neither a stage nor a version with
// the AWSPENDING version. Real Secrets Manager answers AWSCURRENT then, and
// so do moto and this package's memSM, so without this a cache that dropped
// its VersionStage would pass; it stands for the readers the README warns
// about (some moto versions and caches answer the newest version), which the
// cache must never depend on.
type newestFirst struct{ api SecretsManagerAPI }

func (n newestFirst) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if in.VersionStage == nil && in.VersionId == nil {
		c := *in
		c.VersionStage = aws.String("AWSPENDING")
		in = &c
	}
	return n.api.GetSecretValue(ctx, in, opts...)
}

// TestCacheReadsAWSCURRENT stages an AWSPENDING version with other
// credentials, as a rotation in progress does: the cache must serve
// AWSCURRENT. (internal/testsupport/skillmessagingmoto runs it against moto.)
func TestCacheReadsAWSCURRENT(t *testing.T) {
	skill := newSkillID()
	name := "pending/" + skill
	putSecret(t, name, skillValue(skill, "client-current", "secret-current-"+never))
	secrets.putPending(name, skillValue(skill, "client-pending", "secret-pending-"+never))
	c, err := NewCredentialsCache(newestFirst{secrets}, "pending/").Credentials(context.Background(), skill)
	if err != nil || c.ClientID != "client-current" {
		t.Fatalf("Credentials(%q) = %v, %v; want the AWSCURRENT client-current", skill, c, err)
	}
}

func TestCacheStaleOnError(t *testing.T) {
	serverFault := error(&smithy.GenericAPIError{Code: "InternalServiceError", Message: "try again", Fault: smithy.FaultServer})
	throttled := error(&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient})
	network := errors.New("dial tcp: connection refused")
	denied := error(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized", Fault: smithy.FaultClient})
	notFound := error(&types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")})
	tests := []struct {
		name      string
		fail      error
		maxStale  *time.Duration // nil: the default
		after     time.Duration  // since the read, past the TTL
		wantStale bool
	}{
		{name: "server fault", fail: serverFault, after: time.Second, wantStale: true},
		{name: "throttled", fail: throttled, after: time.Second, wantStale: true},
		{name: "network", fail: network, after: DefaultMaxStale - time.Second, wantStale: true},
		{name: "network past max stale", fail: network, after: DefaultMaxStale},
		{name: "custom max stale", fail: network, maxStale: ptr(time.Minute), after: time.Minute},
		{name: "stale off", fail: serverFault, maxStale: ptr(time.Duration(0)), after: time.Second},
		{name: "access denied is not transient", fail: denied, after: time.Second},
		{name: "deleted secret", fail: notFound, after: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			skill := newSkillID()
			putSecret(t, "stale/"+skill, skillValue(skill, "client-1", "secret-"+never))
			sm := &countingSM{api: secrets}
			var opts []CacheOption
			if tc.maxStale != nil {
				opts = append(opts, WithMaxStale(*tc.maxStale))
			}
			clk := newClock()
			r := NewCredentialsCache(sm, "stale/", opts...)
			r.now = clk.Now
			ctx := context.Background()
			if _, err := r.Credentials(ctx, skill); err != nil {
				t.Fatal(err)
			}
			sm.fail.Store(&tc.fail)
			clk.Advance(DefaultTTL + tc.after)
			c, err := r.Credentials(ctx, skill)
			if tc.wantStale {
				if err != nil || c.ClientID != "client-1" {
					t.Fatalf("Credentials(%q) while Secrets Manager fails = %v, %v; want the last credentials", skill, c, err)
				}
				if _, err := r.Reload(ctx, skill); !errors.Is(err, tc.fail) {
					t.Fatalf("Reload(%q) = %v; want Secrets Manager's error (a reload serves nothing stale)", skill, err)
				}
				return
			}
			var se *SecretError
			if !errors.Is(err, tc.fail) || !errors.As(err, &se) || se.SecretID != "stale/"+skill {
				t.Fatalf("Credentials(%q) = %v, %v; want a *SecretError holding %v", skill, c, err, tc.fail)
			}
			if tc.fail == notFound {
				// Forgotten: nothing of the deleted secret is served later.
				sm.fail.Store(&serverFault)
				if _, err := r.Credentials(ctx, skill); !errors.Is(err, serverFault) {
					t.Fatalf("after the secret was deleted, Credentials(%q) = %v; want an error", skill, err)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestWallClock holds the frozen-container rule: Lambda stops the monotonic
// clock while a container is frozen, so every expiry this package keeps is
// on the wall clock (no monotonic reading, "m=" in its String), as
// golang.org/x/oauth2 does with Round(0).
func TestWallClock(t *testing.T) {
	e := newEnv(t)
	if _, err := e.sender.TokenSource().Token(); err != nil {
		t.Fatal(err)
	}
	e.sender.tokens.mu.Lock()
	expiry := e.sender.tokens.tok.Expiry
	e.sender.tokens.mu.Unlock()
	e.cache.mu.Lock()
	read := e.cache.cache[e.prefix+e.skillID].read
	e.cache.mu.Unlock()
	for what, tm := range map[string]time.Time{"token expiry": expiry, "credentials read": read} {
		if tm.IsZero() || strings.Contains(tm.String(), "m=") {
			t.Errorf("%s = %s; want a wall-clock time without a monotonic reading", what, tm)
		}
	}
	// A refusal is remembered on the wall clock too.
	e.rotate(t, 2, false)
	e.clock.Advance(2 * time.Hour)
	if _, err := e.sender.TokenSource().Token(); !errors.Is(err, ErrCredentialsRefused) {
		t.Fatalf("Token() after an unsynced rotation = %v; want %v", err, ErrCredentialsRefused)
	}
	if until := e.sender.tokens.refused.until; strings.Contains(until.String(), "m=") {
		t.Errorf("refusal remembered until %s; want a wall-clock time", until)
	}
}

// TestRefusalRemembered sends a burst after a rotation that the sync has
// not stored yet: one secret reload and one grant for the burst, not one
// each; after refusalMemory LWA is asked again.
func TestRefusalRemembered(t *testing.T) {
	e := newEnv(t)
	send(t, e)
	e.rotate(t, 2, false)
	e.clock.Advance(2 * time.Hour) // the token expired
	e.fake.ResetLog()
	reads := e.sm.calls.Load()
	for i := range 10 {
		_, err := e.sender.Send(context.Background(), e.fake.Endpoint(), e.user, Message{})
		if !errors.Is(err, ErrCredentialsRefused) {
			t.Fatalf("send %d = %v; want %v", i, err, ErrCredentialsRefused)
		}
		// The first send asked LWA once; the others, refused from memory,
		// made no request and count none.
		var api *Error
		if want := max(0, 1-i); !errors.As(err, &api) || api.Attempts != want || strings.Contains(err.Error(), "(attempts:") != (want > 0) {
			t.Errorf("send %d = %v; want %d LWA attempts counted", i, err, want)
		}
		assertClean(t, err.Error())
	}
	if got := e.fake.TokenRequests(); got != 1 {
		t.Errorf("a burst of 10 sends made %d token requests; want 1", got)
	}
	if got := e.sm.calls.Load() - reads; got != 1 {
		t.Errorf("a burst of 10 sends read the secret %d times; want 1", got)
	}
	e.clock.Advance(refusalMemory - time.Second)
	_, _ = e.sender.Send(context.Background(), e.fake.Endpoint(), e.user, Message{})
	if got := e.fake.TokenRequests(); got != 1 {
		t.Errorf("within %s of the refusal: %d token requests; want 1", refusalMemory, got)
	}
	// Once the sync stores the new credentials and the memory has passed,
	// sending works again.
	e.rotate(t, 2, true)
	e.clock.Advance(time.Second)
	if _, err := e.sender.Send(context.Background(), e.fake.Endpoint(), e.user, Message{}); err != nil {
		t.Fatalf("after the sync stored the new credentials: Send = %v; want 202", err)
	}
}

func TestStaticCredentials(t *testing.T) {
	e := newEnv(t)
	other := newSkillID()
	tests := []struct {
		name  string
		creds Credentials
		skill string
		want  error
	}{
		{name: "pair", creds: Credentials{ClientID: "amzn1.application-oa2-client.test", ClientSecret: Secret(e.secret)}, skill: e.skillID},
		{name: "with its skill", creds: Credentials{SkillID: e.skillID, ClientID: "amzn1.application-oa2-client.test", ClientSecret: Secret(e.secret)}, skill: e.skillID},
		{name: "another skill's", creds: Credentials{SkillID: other, ClientID: "c", ClientSecret: "s"}, skill: e.skillID, want: ErrMalformedSecret},
		{name: "empty", creds: Credentials{ClientID: "c"}, skill: e.skillID, want: ErrNotSynced},
	}
	// Credentials without a skill are given the one asked for.
	if c, err := StaticCredentials(tests[0].creds).Credentials(context.Background(), e.skillID); err != nil || c.SkillID != e.skillID {
		t.Errorf("StaticCredentials(pair).Credentials(%s) = %+v, %v; want the skill filled in", e.skillID, c, err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSender(StaticCredentials(tc.creds), tc.skill, WithTokenURL(e.fake.TokenURL()))
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(context.Background(), e.fake.Endpoint(), e.user, Message{Data: map[string]string{"k": "v"}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Send with %s = %v; want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestAllowedHosts(t *testing.T) {
	e := newEnv(t)
	proxy := strings.TrimPrefix(e.fake.URL, "http://") // a loopback host stands for the proxy
	tests := []struct {
		endpoint string
		allowed  []string
		want     error
	}{
		{"https://alexa-proxy.example.com", nil, ErrInvalidEndpoint},
		{"https://alexa-proxy.example.com", []string{"alexa-proxy.example.com"}, nil},
		{"https://alexa-proxy.example.com", []string{"ALEXA-PROXY.example.com"}, nil},
		{"https://alexa-proxy.example.com:8443", []string{"alexa-proxy.example.com"}, ErrInvalidEndpoint},
		{"https://alexa-proxy.example.com:8443", []string{"alexa-proxy.example.com:8443"}, nil},
		{"http://alexa-proxy.example.com", []string{"alexa-proxy.example.com"}, ErrInvalidEndpoint},
		{"https://other.example.com", []string{"alexa-proxy.example.com"}, ErrInvalidEndpoint},
		{"http://" + proxy, nil, nil},
		{"https://localhost:9", nil, nil},
	}
	for _, tc := range tests {
		_, err := messageURL(tc.endpoint, e.user, newSettingsT(t, WithAllowedHosts(tc.allowed...)).extraHosts)
		if !errors.Is(err, tc.want) {
			t.Errorf("messageURL(%q) with %v allowed = %v; want %v", tc.endpoint, tc.allowed, err, tc.want)
		}
	}
}

func newSettingsT(t *testing.T, opts ...Option) settings {
	t.Helper()
	s, err := newSettings(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNothingPrintsASecret prints every type of this package that holds or
// reaches a client secret or an access token with every fmt verb and both
// slog handlers.
func TestNothingPrintsASecret(t *testing.T) {
	e := newEnv(t)
	send(t, e) // the cache holds the credentials, the token source a token
	creds, err := e.cache.Credentials(context.Background(), e.skillID)
	if err != nil {
		t.Fatal(err)
	}
	static := StaticCredentials(creds)
	_, refusal := NewSender(StaticCredentials(Credentials{ClientID: "c", ClientSecret: Secret("s-" + never)}), e.skillID, WithTokenURL(e.fake.TokenURL()))
	apiErr := &Error{Service: ServiceLWA, StatusCode: 401, Code: "invalid_client", Message: "Client authentication failed"}
	secErr := &SecretError{SecretID: "x", Kind: ErrMalformedSecret, Reason: "not valid JSON"}
	values := map[string]any{
		"Secret": creds.ClientSecret, "Credentials": creds, "*Credentials": &creds, "static": static,
		"CredentialsCache": e.cache, "TokenSource": e.sender.TokenSource(), "Sender": e.sender,
		"Error": apiErr, "SecretError": secErr, "refusal": refusal,
	}
	var texts []string
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			texts = append(texts, name+" "+verb+": "+fmt.Sprintf(verb, v))
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("value", "v", v)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("value", "v", v)
		texts = append(texts, name+" slog: "+logs.String())
	}
	assertClean(t, texts...)
	if strings.Contains(strings.Join(texts, "\n"), string(creds.ClientSecret)) {
		t.Fatal("a client secret was printed")
	}
}

// TestConcurrentCallersShareOneGrant is in concurrent_test.go (a synctest
// bubble, Go 1.25).
var _ = http.StatusOK
