package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/internal/alexahttp"
	"golang.org/x/oauth2"
)

// DefaultTokenURL is Login with Amazon's token endpoint.
const DefaultTokenURL = "https://api.amazon.com/auth/o2/token"

// Scope is the OAuth scope of a Skill Messaging token.
const Scope = "alexa:skill_messaging"

// DefaultMaxAttempts bounds the requests for one token or one message,
// first one included.
const DefaultMaxAttempts = 5

// requestTimeout bounds one HTTP request of the default HTTP client.
const requestTimeout = 10 * time.Second

// expiryMargin is how long before its expiry a token is replaced.
const expiryMargin = time.Minute

// refusalMemory is how long credentials LWA refused (invalid_client, even
// after a reload) are refused again without asking LWA: a burst of sends
// after a rotation makes one secret read and one grant, not one each.
const refusalMemory = 30 * time.Second

// refusedTokenRecheck is how long after dropping a token an API refused (401
// or 403) another refusal keeps the token: a Proactive Events 403 often
// means the user has not allowed notifications, and a new token for every
// such send would be one LWA request each.
const refusedTokenRecheck = time.Minute

// TokenSource is an oauth2.TokenSource of Skill Messaging access tokens for
// one skill: LWA's client_credentials grant with scope alexa:skill_messaging,
// with the credentials from a CredentialsProvider. A token is reused until a
// minute before it expires (on the wall clock, which keeps counting while
// Lambda freezes the container). When LWA answers invalid_client, the
// credentials are read again (Reload), once, and the grant is retried if they
// changed; credentials refused even so are refused again without a request
// for 30 seconds. It is safe for concurrent use; concurrent callers share one
// grant.
type TokenSource struct {
	creds   CredentialsProvider
	skillID string
	scope   string
	set     settings
	sem     chan struct{} // one grant at a time

	mu      sync.Mutex
	tok     *oauth2.Token // Expiry on the wall clock
	refused *refusal
	dropped time.Time // when a token an API refused was last dropped
}

// refusal remembers credentials LWA refused.
type refusal struct {
	clientID     string
	clientSecret Secret
	err          error
	until        time.Time
}

// NewTokenSource returns a TokenSource for skillID whose credentials creds
// provides.
func NewTokenSource(creds CredentialsProvider, skillID string, opts ...Option) (*TokenSource, error) {
	return newTokenSource(creds, skillID, Scope, opts)
}

func newTokenSource(creds CredentialsProvider, skillID, scope string, opts []Option) (*TokenSource, error) {
	if creds == nil {
		return nil, errors.New("skillmessaging: nil CredentialsProvider")
	}
	if err := validateSkillID(skillID); err != nil {
		return nil, err
	}
	set, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	return &TokenSource{creds: creds, skillID: skillID, scope: scope, set: set, sem: make(chan struct{}, 1)}, nil
}

// Format implements fmt.Formatter: a TokenSource prints its skill, never
// the token or credentials it holds, whatever the verb.
func (ts *TokenSource) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "skillmessaging.TokenSource{skill: %s, scope: %s, tokenURL: %s}", ts.skillID, ts.scope, ts.set.tokenURL)
}

// Token implements oauth2.TokenSource. It reads the secret and calls LWA
// with a background context, each request bounded by the HTTP client's
// timeout; prefer TokenContext where a context is at hand.
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	return ts.TokenContext(context.Background())
}

// TokenContext returns a valid access token, getting a new one when needed,
// with retries of throttling and server errors within ctx. A refusal by LWA
// is an *Error with Service ServiceLWA; credentials LWA refuses even after a
// reload match ErrCredentialsRefused.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	var tok *oauth2.Token
	grants := 0
	_, err := ts.set.retrier.Do(ctx, func(ctx context.Context) error {
		var n int
		var err error
		tok, n, err = ts.token(ctx)
		grants += n
		return err
	})
	if err != nil {
		return nil, fail(fmt.Sprintf("get %s token for skill %s", ts.scope, ts.skillID), counts{lwa: grants}, err)
	}
	return tok, nil
}

// token returns the cached token or gets a new one, once (no retries), and
// how many grant requests it made. LWA's refusals are
// *alexahttp.APIError, for the retrier.
func (ts *TokenSource) token(ctx context.Context) (*oauth2.Token, int, error) {
	if tok := ts.cached(); tok != nil {
		return tok, 0, nil
	}
	select {
	case ts.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	defer func() { <-ts.sem }()
	if tok := ts.cached(); tok != nil { // got by the caller before us
		return tok, 0, nil
	}
	creds, err := ts.creds.Credentials(ctx, ts.skillID)
	if err != nil {
		return nil, 0, err
	}
	if err := ts.refusedBefore(creds); err != nil {
		return nil, 0, err
	}
	grants := 1
	tok, err := ts.grant(ctx, creds)
	if invalidClient(err) {
		// Rotated since they were cached: read them again, once.
		fresh, rerr := ts.reload(ctx)
		if rerr != nil {
			return nil, grants, fmt.Errorf("%w; reading the credentials again failed: %w", err, rerr)
		}
		if fresh.differs(creds) {
			creds = fresh
			grants++
			tok, err = ts.grant(ctx, fresh)
		}
		if h, ok := ts.creds.(healer); ok && h.healing() && invalidClient(err) {
			// Still refused: ask for a fresh copy (WithRotateOnRefusal).
			healed, herr := h.heal(ctx, ts.skillID, creds)
			switch {
			case herr != nil:
				err = fmt.Errorf("%w; %w", err, herr)
			case healed.differs(creds):
				creds = healed
				grants++
				tok, err = ts.grant(ctx, healed)
			default:
				err = fmt.Errorf("%w; a fresh copy of skill %s's secret holds the same credentials: check the skill's messaging permission in the developer console, and the sync's alarms", err, ts.skillID)
			}
		}
		if invalidClient(err) {
			ts.remember(creds, err)
		}
	}
	if err != nil {
		return nil, grants, err
	}
	// Expiry on the wall clock (oauth2 sets it from time.Now, with a
	// monotonic reading that stops while the container is frozen).
	tok.Expiry = tok.Expiry.Round(0)
	ts.mu.Lock()
	ts.tok = tok
	ts.refused = nil
	ts.mu.Unlock()
	return copyToken(tok), grants, nil
}

func (ts *TokenSource) reload(ctx context.Context) (Credentials, error) {
	if r, ok := ts.creds.(interface {
		Reload(context.Context, string) (Credentials, error)
	}); ok {
		return r.Reload(ctx, ts.skillID)
	}
	return ts.creds.Credentials(ctx, ts.skillID)
}

// refusedBefore returns the remembered refusal of creds, if it is recent.
func (ts *TokenSource) refusedBefore(creds Credentials) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	r := ts.refused
	if r == nil || r.clientID != creds.ClientID || r.clientSecret != creds.ClientSecret || !ts.set.now().Round(0).Before(r.until) {
		return nil
	}
	return r.err
}

func (ts *TokenSource) remember(creds Credentials, err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.refused = &refusal{clientID: creds.ClientID, clientSecret: creds.ClientSecret, err: err, until: ts.set.now().Round(0).Add(refusalMemory)}
}

func invalidClient(err error) bool {
	var api *alexahttp.APIError
	return errors.As(err, &api) && api.Service == ServiceLWA && api.Code == "invalid_client"
}

// grant asks LWA for a token with creds.
func (ts *TokenSource) grant(ctx context.Context, creds Credentials) (*oauth2.Token, error) {
	tok, err := alexahttp.ClientCredentialsToken(ctx, ts.set.client, ts.set.tokenURL, ts.scope, creds.ClientID, creds.ClientSecret.Reveal())
	if err != nil {
		return nil, fmt.Errorf("LWA client_credentials grant (scope %s): %w", ts.scope, err)
	}
	return tok, nil
}

// cached returns a copy of the cached token if it is still good for at
// least expiryMargin.
func (ts *TokenSource) cached() *oauth2.Token {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.tok
	if t == nil || t.AccessToken == "" {
		return nil
	}
	if !t.Expiry.IsZero() && !ts.set.now().Round(0).Add(expiryMargin).Before(t.Expiry) {
		return nil
	}
	return copyToken(t)
}

// dropRefused drops the cached token if it is accessToken (refused by an
// API), so that the next call gets a new one, and reports whether the caller
// should try again with a new token: at most once per refusedTokenRecheck.
func (ts *TokenSource) dropRefused(accessToken string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.set.now().Round(0)
	if !ts.dropped.IsZero() && now.Sub(ts.dropped) < refusedTokenRecheck {
		return false
	}
	ts.dropped = now
	if ts.tok != nil && ts.tok.AccessToken == accessToken {
		ts.tok = nil
	}
	return true
}

func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}
