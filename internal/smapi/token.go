package smapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

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
// safe for concurrent use.
type TokenSource struct {
	tokenURL string
	client   *http.Client

	mu     sync.Mutex
	creds  RefreshCredentials // as last set
	latest secret.Value       // refresh token to keep: rotated by LWA or creds.RefreshToken
	src    oauth2.TokenSource
}

// NewTokenSource returns a TokenSource that posts to tokenURL with client.
func NewTokenSource(tokenURL string, client *http.Client) *TokenSource {
	return &TokenSource{tokenURL: tokenURL, client: client}
}

// SetCredentials makes the source use creds. When creds are those already in
// use (or carry the refresh token LWA rotated to), the cached access token is
// kept; otherwise the next Token call refreshes with the new credentials.
func (ts *TokenSource) SetCredentials(creds RefreshCredentials) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	same := ts.src != nil && creds.ClientID == ts.creds.ClientID && creds.ClientSecret == ts.creds.ClientSecret &&
		(creds.RefreshToken == ts.creds.RefreshToken || creds.RefreshToken == ts.latest)
	if same {
		return
	}
	conf := &oauth2.Config{
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret.Reveal(),
		// LWA takes the client credentials as form parameters; saying so
		// avoids the library's probing, which costs a failed request.
		Endpoint: oauth2.Endpoint{TokenURL: ts.tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	// The source keeps this context for every later refresh, so it is a
	// long-lived one; the client's timeout bounds each request.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, ts.client)
	ts.creds = creds
	ts.latest = creds.RefreshToken
	ts.src = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: creds.RefreshToken.Reveal()})
}

// ErrNoCredentials is returned by Token before SetCredentials was called.
var ErrNoCredentials = errors.New("LWA credentials not set")

// Token returns a valid access token, refreshing it when needed. A refusal
// by LWA is an *APIError with Service "LWA".
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	ts.mu.Lock()
	src := ts.src
	ts.mu.Unlock()
	if src == nil {
		return nil, ErrNoCredentials
	}
	tok, err := src.Token()
	if err != nil {
		return nil, fmt.Errorf("refresh LWA access token: %w", LWAError(err))
	}
	if tok.RefreshToken != "" {
		ts.mu.Lock()
		if ts.src == src {
			ts.latest = secret.Value(tok.RefreshToken)
		}
		ts.mu.Unlock()
	}
	return tok, nil
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
	return ClientCredentialsToken(ctx, client, tokenURL, MessagingScope, clientID, clientSecret.Reveal())
}
