package smapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/amazon"
)

// DefaultTokenURL is LWA's token endpoint.
var DefaultTokenURL = amazon.Endpoint.TokenURL

// RefreshCredentials are the LWA security profile's client id and secret and
// a refresh token with the alexa::ask:skills:readwrite scope.
type RefreshCredentials struct {
	ClientID     string
	ClientSecret secret.Value
	RefreshToken secret.Value
}

// TokenSource is an oauth2.TokenSource for LWA's refresh-token grant. It
// reuses an access token until it nears expiry, so a sync refreshes at most
// once, and remembers a new refresh token when LWA sends one. Build it once
// per process and give it the current credentials with SetCredentials. It is
// safe for concurrent use: callers that need a refresh at the same time share
// one LWA request.
//
// Expiry is judged by the wall clock: Lambda freezes a container between
// invocations and the monotonic clock Go's time comparisons prefer does not
// count the frozen time, so a token issued before a long freeze would
// otherwise look fresh after it (golang.org/x/oauth2 compares with Round(0)
// for the same reason).
type TokenSource struct {
	tokenURL string
	client   *http.Client
	// now is the clock; tests replace it.
	now func() time.Time
	// refreshing holds a value while a refresh is under way: the other
	// callers wait for it, each until its own context is done.
	refreshing chan struct{}

	mu     sync.Mutex
	creds  RefreshCredentials // as last set
	set    bool
	latest secret.Value  // refresh token to keep: rotated by LWA or creds.RefreshToken
	tok    *oauth2.Token // cached access token, nil until the first refresh
	gen    int           // counts credential changes, so a refresh for old credentials is not cached
}

// expiryDelta is how long before its expiry an access token is replaced.
const expiryDelta = 10 * time.Second

// NewTokenSource returns a TokenSource that posts to tokenURL with client.
func NewTokenSource(tokenURL string, client *http.Client) *TokenSource {
	return &TokenSource{tokenURL: tokenURL, client: client, now: time.Now, refreshing: make(chan struct{}, 1)}
}

// Format implements fmt.Formatter: a TokenSource prints its token URL and
// client id, never a secret or a token, whatever the verb.
func (ts *TokenSource) Format(f fmt.State, verb rune) {
	ts.mu.Lock()
	id := ts.creds.ClientID
	ts.mu.Unlock()
	fmt.Fprintf(f, "smapi.TokenSource{tokenURL: %s, clientID: %s}", ts.tokenURL, id)
}

// LogValue implements slog.LogValuer with what Format prints.
func (ts *TokenSource) LogValue() slog.Value { return slog.StringValue(fmt.Sprint(ts)) }

// SetCredentials makes the source use creds. When creds are those already in
// use (or carry the refresh token LWA rotated to), the cached access token is
// kept; otherwise the next Token call refreshes with the new credentials.
func (ts *TokenSource) SetCredentials(creds RefreshCredentials) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	same := ts.set && creds.ClientID == ts.creds.ClientID && creds.ClientSecret == ts.creds.ClientSecret &&
		(creds.RefreshToken == ts.creds.RefreshToken || creds.RefreshToken == ts.latest)
	if same {
		return
	}
	ts.creds, ts.set = creds, true
	ts.latest = creds.RefreshToken
	ts.tok = nil
	ts.gen++ // gen-- is equivalent: any change tells a refresh for old credentials apart
}

// ErrNoCredentials is returned by Token before SetCredentials was called.
var ErrNoCredentials = errors.New("LWA credentials not set")

// ErrLWATimeout is wrapped by the error of an LWA request that got no answer
// before its context's deadline or the HTTP client's timeout.
var ErrLWATimeout = errors.New("LWA did not answer in time")

// Token returns a valid access token, refreshing it when needed, within the
// HTTP client's timeout. It implements oauth2.TokenSource; prefer
// TokenContext, which also ends with a context.
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	return ts.TokenContext(context.Background())
}

// TokenContext returns a valid access token, refreshing it when needed. The
// refresh ends when ctx does: LWA that does not answer before ctx's deadline
// is an error wrapping ErrLWATimeout. A refusal by LWA is an *APIError with
// Service "LWA". The token returned carries no refresh token.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if tok, err := ts.cached(); tok != nil || err != nil {
		return tok, err
	}
	select {
	case ts.refreshing <- struct{}{}:
		defer func() { <-ts.refreshing }()
	case <-ctx.Done():
		return nil, refreshError(ctx, ctx.Err())
	}
	// Another caller may have refreshed while this one waited.
	if tok, err := ts.cached(); tok != nil || err != nil {
		return tok, err
	}
	ts.mu.Lock()
	creds, refresh, gen := ts.creds, ts.latest, ts.gen
	ts.mu.Unlock()
	conf := &oauth2.Config{
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret.Reveal(),
		// LWA takes the client credentials as form parameters; saying so
		// avoids the library's probing, which costs a failed request.
		Endpoint: oauth2.Endpoint{TokenURL: ts.tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	tok, err := conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, ts.client), &oauth2.Token{RefreshToken: refresh.Reveal()}).Token()
	if err != nil {
		return nil, refreshError(ctx, err)
	}
	access := &oauth2.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: tok.Expiry}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.gen == gen {
		ts.tok = access
		if tok.RefreshToken != "" {
			ts.latest = secret.Value(tok.RefreshToken)
		}
	}
	return access, nil
}

// cached returns the cached access token while it is valid, nil when a
// refresh is needed, or ErrNoCredentials.
func (ts *TokenSource) cached() (*oauth2.Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !ts.set {
		return nil, ErrNoCredentials
	}
	if ts.tok == nil {
		return nil, nil
	}
	// Round(0) drops the monotonic clock reading from both sides, so the
	// comparison is by the wall clock (see TokenSource). A token without
	// an expiry does not expire, as in golang.org/x/oauth2.
	if !ts.tok.Expiry.IsZero() && !ts.now().Round(0).Before(ts.tok.Expiry.Round(0).Add(-expiryDelta)) {
		return nil, nil
	}
	return ts.tok, nil
}

// refreshError describes a failed refresh: LWA's refusal as an *APIError,
// a deadline or timeout as ErrLWATimeout.
func refreshError(ctx context.Context, err error) error {
	return fmt.Errorf("refresh LWA access token: %w", lwaCallError(ctx, err))
}

// lwaCallError converts the error of a request to LWA: an *APIError for an
// answer (see LWAError), ErrLWATimeout wrapped around a deadline or a
// timeout.
func lwaCallError(ctx context.Context, err error) error {
	err = LWAError(err)
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %w", ErrLWATimeout, err)
	}
	return err
}

// RefreshToken returns the refresh token to keep: the one LWA last sent, or
// the one given to SetCredentials. Compare it with the stored one to detect
// a rotation.
func (ts *TokenSource) RefreshToken() secret.Value {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.latest
}

// MessagingScope is the scope of a Skill Messaging API token.
const MessagingScope = "alexa:skill_messaging"

// CheckMessagingCredentials proves that a skill's messaging credentials work:
// LWA must grant a client_credentials token with scope alexa:skill_messaging
// at the source's token URL. The token itself is discarded. A refusal is an
// *APIError with Service "LWA".
func (ts *TokenSource) CheckMessagingCredentials(ctx context.Context, clientID string, clientSecret secret.Value) error {
	_, err := MessagingToken(ctx, ts.client, ts.tokenURL, clientID, clientSecret)
	return err
}

// MessagingToken gets a Skill Messaging access token from LWA at tokenURL:
// ClientCredentialsToken with scope alexa:skill_messaging.
func MessagingToken(ctx context.Context, client *http.Client, tokenURL, clientID string, clientSecret secret.Value) (*oauth2.Token, error) {
	tok, err := ClientCredentialsToken(ctx, client, tokenURL, MessagingScope, clientID, clientSecret.Reveal())
	if err != nil {
		return nil, lwaCallError(ctx, err)
	}
	return tok, nil
}
