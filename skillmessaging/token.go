package skillmessaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
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

// Options configure a TokenSource or a Sender. The zero value (or nil) means
// the defaults.
type Options struct {
	// TokenURL is LWA's token endpoint; empty means DefaultTokenURL. It must
	// be https, or http to a loopback host (tests).
	TokenURL string
	// HTTPClient sends the requests to LWA and the Skill Messaging API; nil
	// means a client with a 10 s timeout per request that follows no
	// redirects.
	HTTPClient *http.Client
	// MaxAttempts bounds the requests for one token or message; zero means
	// DefaultMaxAttempts.
	MaxAttempts int
	// Now returns the current time, for token expiry; nil means time.Now.
	Now func() time.Time
	// Sleep waits d before a retry, or until ctx is done, and returns ctx's
	// error then; nil means a timer. Tests replace it and never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

type settings struct {
	tokenURL string
	client   *http.Client
	retrier  smapi.Retrier
	now      func() time.Time
}

func (o *Options) settings() (settings, error) {
	if o == nil {
		o = &Options{}
	}
	s := settings{tokenURL: o.TokenURL, client: o.HTTPClient, retrier: smapi.DefaultRetrier(), now: o.Now}
	if s.tokenURL == "" {
		s.tokenURL = DefaultTokenURL
	}
	if _, err := smapi.ParseEndpoint(s.tokenURL); err != nil {
		return settings{}, fmt.Errorf("%w: token URL: %w", ErrInvalidEndpoint, err)
	}
	if s.client == nil {
		s.client = smapi.NewHTTPClient(requestTimeout)
	}
	s.retrier.MaxAttempts = DefaultMaxAttempts
	if o.MaxAttempts > 0 {
		s.retrier.MaxAttempts = o.MaxAttempts
	}
	s.retrier.Sleep = o.Sleep
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// TokenSource is an oauth2.TokenSource of Skill Messaging access tokens for
// one skill: LWA's client_credentials grant with scope alexa:skill_messaging,
// with the credentials from a Reader. A token is reused until a minute
// before it expires. When LWA answers invalid_client, the credentials are
// read again bypassing the Reader's cache, once, and the grant is retried if
// they changed. It is safe for concurrent use; concurrent callers share one
// grant.
type TokenSource struct {
	reader  *Reader
	skillID string
	set     settings
	sem     chan struct{} // one grant at a time

	mu  sync.Mutex
	tok *oauth2.Token
}

// NewTokenSource returns a TokenSource for skillID whose credentials reader
// reads. opts may be nil.
func NewTokenSource(reader *Reader, skillID string, opts *Options) (*TokenSource, error) {
	if reader == nil {
		return nil, errors.New("skillmessaging: nil Reader")
	}
	if err := validateSkillID(skillID); err != nil {
		return nil, err
	}
	set, err := opts.settings()
	if err != nil {
		return nil, err
	}
	return &TokenSource{reader: reader, skillID: skillID, set: set, sem: make(chan struct{}, 1)}, nil
}

// Format implements fmt.Formatter: a TokenSource prints its skill, never
// the token or credentials it holds, whatever the verb.
func (ts *TokenSource) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "skillmessaging.TokenSource{skill: %s, tokenURL: %s}", ts.skillID, ts.set.tokenURL)
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
	attempts, err := ts.set.retrier.Do(ctx, func(ctx context.Context) error {
		var err error
		tok, err = ts.token(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get skill messaging token for skill %s (attempts: %d): %w", ts.skillID, attempts, err)
	}
	return tok, nil
}

// token returns the cached token or gets a new one, once (no retries).
func (ts *TokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	if tok := ts.cached(); tok != nil {
		return tok, nil
	}
	select {
	case ts.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-ts.sem }()
	if tok := ts.cached(); tok != nil { // got by the caller before us
		return tok, nil
	}
	creds, err := ts.reader.Credentials(ctx, ts.skillID)
	if err != nil {
		return nil, err
	}
	tok, err := ts.grant(ctx, creds)
	if errors.Is(err, ErrCredentialsRefused) {
		// Rotated since they were cached: read the secret again, once.
		fresh, rerr := ts.reader.Reload(ctx, ts.skillID)
		if rerr != nil {
			return nil, fmt.Errorf("%w; reading the secret again failed: %w", err, rerr)
		}
		if fresh.ClientID != creds.ClientID || fresh.ClientSecret != creds.ClientSecret {
			tok, err = ts.grant(ctx, fresh)
		}
	}
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	ts.tok = tok
	ts.mu.Unlock()
	return copyToken(tok), nil
}

// grant asks LWA for a token with creds.
func (ts *TokenSource) grant(ctx context.Context, creds Credentials) (*oauth2.Token, error) {
	tok, err := smapi.MessagingToken(ctx, ts.set.client, ts.set.tokenURL, creds.ClientID, secret.Value(creds.ClientSecret.Reveal()))
	if err != nil {
		err = publicError(ServiceLWA, err)
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fmt.Errorf("request LWA token: %w", err)
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
	if !t.Expiry.IsZero() && !ts.set.now().Add(expiryMargin).Before(t.Expiry) {
		return nil
	}
	return copyToken(t)
}

// invalidate drops the cached token if it is accessToken (refused by the
// API), so the next call gets a new one. A newer token is kept.
func (ts *TokenSource) invalidate(accessToken string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && ts.tok.AccessToken == accessToken {
		ts.tok = nil
	}
}

func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}
