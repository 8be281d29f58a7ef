// Package smapitest is a fake of Login with Amazon and the SMAPI Skill
// Credentials API and SMAPI's vendor and skill lists (vendors.go), built on
// skillmessaging/skillmessagingtest, the public fake: its server, request
// log, request ids, skillmessagingtest.Fault and the way it answers are the ones here, and so
// are its client_credentials grant and its Alexa APIs. This package adds
// SMAPI's endpoints (with Handle), LWA's refresh_token grant, latency and
// SMAPI's rate limits. Tests, the demo and the benchmarks share it.
//
// The fake mounts SMAPI under /smapi and LWA under /lwa, so a client that
// drops the configured path prefix fails against it.
package smapitest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

// Paths of the fake's endpoints below its URL.
const (
	SMAPIPrefix  = "/smapi"
	TokenPath    = skillmessagingtest.TokenPath
	tokenLife    = time.Hour
	credsPattern = SMAPIPrefix + "/v1/skills/{skillId}/credentials"
)

// HTMLPage is a 200 carrying an HTML error page, as a proxy in the way sends.
func HTMLPage() skillmessagingtest.Fault {
	return skillmessagingtest.Fault{Status: http.StatusOK, ContentType: "text/html; charset=utf-8",
		Body: "<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>"}
}

// PartialJSON is a 200 whose JSON body stops in the middle.
func PartialJSON() skillmessagingtest.Fault {
	return skillmessagingtest.Fault{Status: http.StatusOK, Body: `{"skillMessagingCredentials":{"clientId":"amzn1.application-oa2-client.partial","clie`}
}

// EmptySecret is a 200 whose clientSecret is empty.
func EmptySecret() skillmessagingtest.Fault {
	return skillmessagingtest.Fault{Status: http.StatusOK, Body: `{"skillMessagingCredentials":{"clientId":"amzn1.application-oa2-client.empty","clientSecret":""}}`}
}

// InvalidGrant is LWA's answer to a revoked or expired refresh token.
func InvalidGrant() skillmessagingtest.Fault {
	return skillmessagingtest.Fault{Status: http.StatusBadRequest, Code: "invalid_grant",
		Message: "The request has an invalid grant parameter : refresh_token"}
}

// Credentials are a skill's messaging credentials as the fake hands them out.
type Credentials struct {
	ClientID     string
	ClientSecret string
}

// Server is the fake: the public fake (whose methods it has: Requests,
// TokenRequests, ScriptToken, ResetLog, MaxInFlight, Transport, TokenSkill,
// …) with SMAPI beside it. Configure it with its methods, which are safe for
// concurrent use, also while requests are served.
type Server struct {
	*skillmessagingtest.Server

	mu            sync.Mutex
	clients       map[string]string // LWA client id -> client secret
	refreshTokens map[string]string // refresh token -> client id
	accessTokens  map[string]time.Time
	rotateTo      string
	skills        map[string]Credentials
	faults        map[string][]skillmessagingtest.Fault
	latency       time.Duration
	limit         *bucket
	skillLimit    *bucket            // the per-skill limit's shape, see SetSkillRateLimit
	skillBuckets  map[string]*bucket // each skill's own bucket under it
	// Vendor discovery, see vendors.go.
	vendors    []vendor
	listings   map[string][]listing
	listPage   int
	pageTokens map[string]pageToken
	pageSeq    int
}

// New starts a fake on a loopback port. Close it when done.
func New() *Server {
	s := &Server{
		Server:        skillmessagingtest.NewServer(),
		clients:       map[string]string{},
		refreshTokens: map[string]string{},
		accessTokens:  map[string]time.Time{},
		skills:        map[string]Credentials{},
		faults:        map[string][]skillmessagingtest.Fault{},
	}
	s.Handle("POST "+TokenPath, s.refreshGrant)
	s.Handle("GET "+credsPattern, s.answerCredentials)
	s.Handle("GET "+vendorsPattern, s.answerVendors)
	s.Handle("GET "+skillListPattern, s.answerSkillList)
	return s
}

// SMAPIURL is the value for SMAPI_ENDPOINT.
func (s *Server) SMAPIURL() string { return s.URL + SMAPIPrefix }

// AddClient registers an LWA security profile and a refresh token for it.
func (s *Server) AddClient(clientID, clientSecret, refreshToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = clientSecret
	s.refreshTokens[refreshToken] = clientID
}

// RotateRefreshToken makes the next successful refresh answer with newToken
// as the refresh token (the old one keeps working, as LWA's does).
func (s *Server) RotateRefreshToken(newToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotateTo = newToken
}

// SetSkill makes SMAPI know skillID with these credentials, and LWA grant
// Skill Messaging tokens for them. Skills the fake does not know get SMAPI's
// 404.
func (s *Server) SetSkill(skillID, clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skills[skillID] = Credentials{ClientID: clientID, ClientSecret: clientSecret}
	s.Server.SetSkill(skillID, clientID, clientSecret)
}

// RemoveSkill makes SMAPI forget skillID: it answers 404 for it.
func (s *Server) RemoveSkill(skillID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.skills, skillID)
	s.Server.SetSkill(skillID, "", "") // no credentials: LWA grants nothing
}

// Script queues faults for the next requests for skillID, one each.
func (s *Server) Script(skillID string, faults ...skillmessagingtest.Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[skillID] = append(s.faults[skillID], faults...)
}

// SetLatency delays every SMAPI answer by d (as a real network would).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimit makes SMAPI's credentials and list endpoints allow perSecond
// requests a second with bursts of burst, for all skills together: a token bucket that
// starts full; a request that finds it empty gets 429 with Retry-After: 1,
// as a throttled SMAPI answers. A rate of 0 removes the limit.
//
// Amazon publishes no firm limit for SMAPI (an older page says 25 requests a
// second per skill) and the limit is shared with the developer account's
// other tools. Amazon's APIs on api.amazonalexa.com answer a request over
// their limit with 429 and the client is to wait and retry
// (https://developer.amazon.com/en-US/docs/alexa/alexa-smart-properties/handle-api-throttling.html);
// the bucket's shape is our model of such a limit.
func (s *Server) SetRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = nil
	if perSecond > 0 {
		s.limit = &bucket{rate: perSecond, burst: float64(max(burst, 1)), tokens: float64(max(burst, 1)), at: time.Now()}
	}
}

// SkillRateLimit is the Skill Credentials API's documented limit: "429 Too
// many requests: Returned when the client has made more calls than the
// allowed limit. Limit is 25 tps per skill."
// (https://developer.amazon.com/en-US/docs/alexa/smapi/skill-credentials-api.html;
// ../shared/docs/seed-skill-credentials-api.txt).
const SkillRateLimit = 25

// SetSkillRateLimit makes SMAPI's credentials endpoint allow perSecond
// requests a second with bursts of burst for each skill on its own (a token
// bucket per skill, starting full), beside the shared limit of SetRateLimit:
// a request over its skill's limit gets 429 with Retry-After: 1.
// SetSkillRateLimit(SkillRateLimit, SkillRateLimit) models the documented
// limit. A rate of 0 removes it.
func (s *Server) SetSkillRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skillLimit, s.skillBuckets = nil, nil
	if perSecond > 0 {
		s.skillLimit = &bucket{rate: perSecond, burst: float64(max(burst, 1))}
		s.skillBuckets = map[string]*bucket{}
	}
}

// skillLimited takes a token of skillID's own bucket and reports whether
// there was none. The caller holds s.mu.
func (s *Server) skillLimited(skillID string, now time.Time) bool {
	if s.skillLimit == nil {
		return false
	}
	b := s.skillBuckets[skillID]
	if b == nil {
		b = &bucket{rate: s.skillLimit.rate, burst: s.skillLimit.burst, tokens: s.skillLimit.burst, at: now}
		s.skillBuckets[skillID] = b
	}
	return !b.take(now)
}

// bucket is a token bucket; the caller holds Server.mu.
type bucket struct {
	rate, burst, tokens float64
	at                  time.Time
}

func (b *bucket) take(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Throttled returns how many SMAPI requests (credentials and lists) were
// answered 429.
func (s *Server) Throttled() int {
	n := 0
	for _, r := range s.Requests() {
		if (r.SkillID != "" || r.Path == vendorsPattern || r.Path == skillListPattern) && r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// SkillRequests returns how many SMAPI requests were made for skillID.
func (s *Server) SkillRequests(skillID string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.SkillID == skillID {
			n++
		}
	}
	return n
}

func nextFault(q map[string][]skillmessagingtest.Fault, key string) skillmessagingtest.Fault {
	fs := q[key]
	if len(fs) == 0 {
		return skillmessagingtest.Fault{}
	}
	q[key] = fs[1:]
	return fs[0]
}

// refreshGrant answers LWA's refresh_token grant for a registered security
// profile (AddClient); the public fake answers the client_credentials grant
// and ScriptToken's faults.
func (s *Server) refreshGrant(r *http.Request) skillmessagingtest.Answer {
	f := r.PostForm
	if f.Get("grant_type") != "refresh_token" {
		return skillmessagingtest.Answer{Status: http.StatusBadRequest, Code: "unsupported_grant_type", Message: "The authorization grant type is not supported by the authorization server"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, clientSecret := f.Get("client_id"), f.Get("client_secret")
	if want, ok := s.clients[clientID]; !ok || want != clientSecret || clientSecret == "" {
		return skillmessagingtest.Answer{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "Client authentication failed"}
	}
	rt := f.Get("refresh_token")
	if owner, ok := s.refreshTokens[rt]; !ok || owner != clientID {
		return skillmessagingtest.Answer{Status: http.StatusBadRequest, Code: "invalid_grant", Message: "The request has an invalid grant parameter : refresh_token"}
	}
	if s.rotateTo != "" {
		rt = s.rotateTo
		s.refreshTokens[rt] = clientID
		s.rotateTo = ""
	}
	at := fmt.Sprintf("Atza|fake-access-token-%d", len(s.accessTokens)+1)
	s.accessTokens[at] = time.Now().Add(tokenLife)
	return skillmessagingtest.Answer{Status: http.StatusOK, Body: map[string]any{"access_token": at, "refresh_token": rt, "token_type": "bearer", "expires_in": int(tokenLife / time.Second)}}
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.accessTokens[tok]
	return ok && time.Now().Before(exp)
}

func (s *Server) answerCredentials(r *http.Request) skillmessagingtest.Answer {
	skillID := r.PathValue("skillId")
	s.mu.Lock()
	fault := nextFault(s.faults, skillID)
	creds, known := s.skills[skillID]
	now := time.Now()
	limited := s.skillLimited(skillID, now) || s.limit != nil && !s.limit.take(now)
	s.mu.Unlock()

	a, ok := s.admit(r, fault, limited)
	a.SkillID = skillID
	if !ok {
		return a
	}
	if !known {
		a.Status, a.Message = http.StatusNotFound, "The resource being requested was not found."
		return a
	}
	a.Status, a.Body = http.StatusOK, map[string]any{"skillMessagingCredentials": map[string]string{
		"clientId": creds.ClientID, "clientSecret": creds.ClientSecret}}
	return a
}

// admit starts the answer of a SMAPI request that arrives with fault
// scripted for it: after the latency (and the fault's Delay), SMAPI's 429
// with Retry-After: 1 for a request over the shared or the skill's rate
// limit, or 401 without a valid token. It reports whether the request goes
// on to its own answer, with the fault applied.
func (s *Server) admit(r *http.Request, fault skillmessagingtest.Fault, limited bool) (skillmessagingtest.Answer, bool) {
	s.mu.Lock()
	delay := s.latency + fault.Delay
	s.mu.Unlock()
	a := skillmessagingtest.Answer{Authorized: s.authorized(r)}
	switch {
	case limited:
		a.Fault = skillmessagingtest.Throttled("1")
	case !a.Authorized:
		a.Status, a.Message = http.StatusUnauthorized, "Request is not authorized."
	default:
		a.Fault = fault
	}
	a.Fault.Delay = delay
	return a, !limited && a.Authorized && fault.Status == 0
}
