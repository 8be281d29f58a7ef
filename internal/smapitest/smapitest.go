// Package smapitest is a fake of Login with Amazon, the SMAPI Skill
// Credentials API and SMAPI's vendor and skill lists (vendors.go) on an
// httptest server (LWA's client_credentials grant is
// skillmessaging/skillmessagingtest's, the public fake): the status codes,
// headers and JSON bodies of the real services, scripted faults, optional
// latency and a log of every request. Tests, the demo and the benchmarks
// share it.
//
// The fake mounts SMAPI under /smapi and LWA under /lwa, so a client that
// drops the configured path prefix fails against it.
package smapitest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

// Paths of the fake's endpoints below its URL.
const (
	SMAPIPrefix  = "/smapi"
	TokenPath    = "/lwa/auth/o2/token"
	tokenLife    = time.Hour
	credsPattern = SMAPIPrefix + "/v1/skills/{skillId}/credentials"
)

// Fault is one scripted answer that replaces the normal one. The zero fields
// keep the normal behaviour: a Fault with only Delay set answers normally
// after the delay.
type Fault struct {
	// Status is the HTTP status to answer; 0 keeps the normal answer.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// ContentType and Body replace the normal ones when set.
	ContentType string
	Body        string
	// Message is SMAPI's {"message"} (or LWA's error_description).
	Message string
	// Code is LWA's OAuth error code (invalid_grant, invalid_client, …).
	Code string
	// Delay is waited before answering (or until the client gives up).
	Delay time.Duration
	// CutShort declares the full Content-Length but sends half of the body
	// and closes the connection.
	CutShort bool
}

// Throttled is SMAPI's 429 with a Retry-After header (seconds or HTTP date).
func Throttled(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Message: "Rate exceeded."}
}

// ServerError is a 500 or 503 with SMAPI's error body.
func ServerError(status int) Fault {
	return Fault{Status: status, Message: http.StatusText(status)}
}

// HTMLPage is a 200 carrying an HTML error page, as a proxy in the way sends.
func HTMLPage() Fault {
	return Fault{Status: http.StatusOK, ContentType: "text/html; charset=utf-8",
		Body: "<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>"}
}

// PartialJSON is a 200 whose JSON body stops in the middle.
func PartialJSON() Fault {
	return Fault{Status: http.StatusOK, Body: `{"skillMessagingCredentials":{"clientId":"amzn1.application-oa2-client.partial","clie`}
}

// EmptySecret is a 200 whose clientSecret is empty.
func EmptySecret() Fault {
	return Fault{Status: http.StatusOK, Body: `{"skillMessagingCredentials":{"clientId":"amzn1.application-oa2-client.empty","clientSecret":""}}`}
}

// CutShort is a 200 whose connection drops halfway through the body.
func CutShort() Fault { return Fault{CutShort: true} }

// Slow answers normally after d.
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// InvalidGrant is LWA's answer to a revoked or expired refresh token.
func InvalidGrant() Fault {
	return Fault{Status: http.StatusBadRequest, Code: "invalid_grant",
		Message: "The request has an invalid grant parameter : refresh_token"}
}

// Request is one request the fake answered. It holds no token or secret.
type Request struct {
	Method string
	// Path is the request path, below the fake's URL.
	Path string
	// SkillID is set for SMAPI credentials requests.
	SkillID string
	// VendorID and NextToken are set for SMAPI skill list requests.
	VendorID  string
	NextToken string
	// GrantType and ClientID are set for LWA requests.
	GrantType string
	ClientID  string
	// Authorized says whether the request carried a valid access token.
	Authorized bool
	UserAgent  string
	Accept     string
	Status     int
	RequestID  string
}

// Credentials are a skill's messaging credentials as the fake hands them out.
type Credentials struct {
	ClientID     string
	ClientSecret string
}

// Server is the fake. Configure it with its methods, which are safe for
// concurrent use, also while requests are served.
type Server struct {
	// URL is the base URL of the fake (http://127.0.0.1:port).
	URL string

	srv *httptest.Server

	mu            sync.Mutex
	clients       map[string]string // LWA client id -> client secret
	refreshTokens map[string]string // refresh token -> client id
	accessTokens  map[string]time.Time
	rotateTo      string
	lwaFaults     []Fault
	skills        map[string]Credentials
	faults        map[string][]Fault
	latency       time.Duration
	limit         *bucket
	skillLimit    *bucket            // the per-skill limit's shape, see SetSkillRateLimit
	skillBuckets  map[string]*bucket // each skill's own bucket under it
	inFlight      int
	maxInFlight   int
	log           []Request
	seq           int
	// Vendor discovery, see vendors.go.
	vendors    []vendor
	listings   map[string][]listing
	listPage   int
	pageTokens map[string]pageToken
	// msg answers the client_credentials grants: the one fake of LWA's
	// Skill Messaging grant, public for skill developers.
	msg *skillmessagingtest.Server
}

// New starts a fake on a loopback port. Close it when done.
func New() *Server {
	s := &Server{
		clients:       map[string]string{},
		refreshTokens: map[string]string{},
		accessTokens:  map[string]time.Time{},
		skills:        map[string]Credentials{},
		faults:        map[string][]Fault{},
		msg:           skillmessagingtest.NewServer(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc("GET "+credsPattern, s.serveCredentials)
	mux.HandleFunc("GET "+vendorsPattern, s.serveVendors)
	mux.HandleFunc("GET "+skillListPattern, s.serveSkillList)
	mux.HandleFunc("/", s.serveNotFound)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the fake down.
func (s *Server) Close() {
	s.srv.Close()
	s.msg.Close()
}

// SMAPIURL is the value for SMAPI_ENDPOINT.
func (s *Server) SMAPIURL() string { return s.URL + SMAPIPrefix }

// TokenURL is the value for LWA_TOKEN_URL.
func (s *Server) TokenURL() string { return s.URL + TokenPath }

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

// ScriptToken queues faults for the next LWA token requests, one each.
func (s *Server) ScriptToken(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lwaFaults = append(s.lwaFaults, faults...)
}

// SetSkill makes SMAPI know skillID with these credentials. Skills the fake
// does not know get SMAPI's 404.
func (s *Server) SetSkill(skillID, clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skills[skillID] = Credentials{ClientID: clientID, ClientSecret: clientSecret}
	s.msg.SetSkill(skillID, clientID, clientSecret)
}

// RemoveSkill makes SMAPI forget skillID: it answers 404 for it.
func (s *Server) RemoveSkill(skillID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.skills, skillID)
	s.msg.SetSkill(skillID, "", "") // no credentials: LWA grants nothing
}

// Script queues faults for the next requests for skillID, one each.
func (s *Server) Script(skillID string, faults ...Fault) {
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

// Transport returns a RoundTripper that serves every request in the
// caller's goroutine, without a connection: the fake's own handlers, as in
// the server. It lets a test run the fake inside a testing/synctest bubble,
// where the fake's latency and rate limit follow the bubble's clock.
func (s *Server) Transport() http.RoundTripper { return handlerTransport{s.srv.Config.Handler} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Requests returns the requests answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
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

// TokenRequests returns how many LWA token requests were made.
func (s *Server) TokenRequests() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == TokenPath {
			n++
		}
	}
	return n
}

// ResetLog forgets the requests answered so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// begin assigns a request id and records the request; finish sets the status.
func (s *Server) begin(r *http.Request, rec Request) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rec.Method, rec.Path = r.Method, r.URL.Path
	rec.UserAgent, rec.Accept = r.UserAgent(), r.Header.Get("Accept")
	rec.RequestID = fmt.Sprintf("%08x-fake-4000-8000-%012x", s.seq, s.seq)
	s.log = append(s.log, rec)
	return len(s.log) - 1, rec.RequestID
}

func (s *Server) finish(i, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log[i].Status = status
}

func nextFault(q map[string][]Fault, key string) (Fault, bool) {
	fs := q[key]
	f, ok := popFault(&fs)
	q[key] = fs
	return f, ok
}

// popFault takes the first scripted fault off q. The caller holds s.mu.
func popFault(q *[]Fault) (Fault, bool) {
	if len(*q) == 0 {
		return Fault{}, false
	}
	f := (*q)[0]
	*q = (*q)[1:]
	return f, true
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	i, reqID := s.begin(r, Request{GrantType: r.PostForm.Get("grant_type"), ClientID: r.PostForm.Get("client_id")})
	w.Header().Set("X-Amzn-RequestId", reqID)

	s.mu.Lock()
	fault, faulted := popFault(&s.lwaFaults)
	s.mu.Unlock()
	if !wait(r.Context(), fault.Delay) {
		return
	}
	if faulted && fault.Status != 0 {
		s.finish(i, s.writeFault(w, fault, true))
		return
	}

	status, body := s.grant(r.PostForm)
	s.finish(i, status)
	writeJSON(w, status, body)
}

// grant checks an LWA token request and returns the answer: the
// refresh_token grant for a registered security profile (AddClient), and the
// client_credentials grant with scope alexa:skill_messaging for a skill's
// current messaging credentials (SetSkill).
func (s *Server) grant(f url.Values) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, clientSecret := f.Get("client_id"), f.Get("client_secret")
	switch f.Get("grant_type") {
	case "refresh_token":
		if want, ok := s.clients[clientID]; !ok || want != clientSecret || clientSecret == "" {
			return http.StatusUnauthorized, lwaErr("invalid_client", "Client authentication failed")
		}
		rt := f.Get("refresh_token")
		if owner, ok := s.refreshTokens[rt]; !ok || owner != clientID {
			return http.StatusBadRequest, lwaErr("invalid_grant", "The request has an invalid grant parameter : refresh_token")
		}
		if s.rotateTo != "" {
			rt = s.rotateTo
			s.refreshTokens[rt] = clientID
			s.rotateTo = ""
		}
		at := s.issueLocked()
		return http.StatusOK, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "bearer", "expires_in": int(tokenLife / time.Second)}
	case "client_credentials":
		return s.msg.Grant(f)
	default:
		return http.StatusBadRequest, lwaErr("unsupported_grant_type", "The authorization grant type is not supported by the authorization server")
	}
}

// MessagingScope is the scope of a Skill Messaging token.
const MessagingScope = skillmessagingtest.MessagingScope

// MessagingTokenSkill returns the skill a valid client_credentials access
// token was issued for.
func (s *Server) MessagingTokenSkill(token string) (string, bool) { return s.msg.TokenSkill(token) }

func (s *Server) issueLocked() string {
	at := fmt.Sprintf("Atza|fake-access-token-%d", len(s.accessTokens)+1)
	s.accessTokens[at] = time.Now().Add(tokenLife)
	return at
}

func lwaErr(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
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

// MaxInFlight returns the most SMAPI requests served at the same time.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func (s *Server) serveCredentials(w http.ResponseWriter, r *http.Request) {
	defer s.enter()()
	skillID := r.PathValue("skillId")
	authorized := s.authorized(r)
	i, reqID := s.begin(r, Request{SkillID: skillID, Authorized: authorized})
	w.Header().Set("X-Amzn-RequestId", reqID)

	s.mu.Lock()
	fault, faulted := nextFault(s.faults, skillID)
	latency := s.latency
	creds, known := s.skills[skillID]
	now := time.Now()
	limited := s.skillLimited(skillID, now) || s.limit != nil && !s.limit.take(now)
	s.mu.Unlock()

	if !s.admit(w, r, i, latency+fault.Delay, limited, authorized) {
		return
	}
	if faulted && (fault.Status != 0 || fault.Body != "" || fault.CutShort) {
		if fault.CutShort && fault.Body == "" && known {
			fault.Body = credentialsBody(creds)
		}
		s.finish(i, s.writeFault(w, fault, false))
		return
	}
	if !known {
		s.finish(i, writeSMAPIError(w, http.StatusNotFound, "The resource being requested was not found."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(credentialsBody(creds)))
	s.finish(i, http.StatusOK)
}

func credentialsBody(c Credentials) string {
	b, _ := json.Marshal(map[string]any{"skillMessagingCredentials": map[string]string{
		"clientId": c.ClientID, "clientSecret": c.ClientSecret}})
	return string(b)
}

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	i, reqID := s.begin(r, Request{})
	w.Header().Set("X-Amzn-RequestId", reqID)
	s.finish(i, writeSMAPIError(w, http.StatusNotFound, "The resource being requested was not found."))
}

// admit waits the answer's latency, then answers as SMAPI does a request
// over the shared or the skill's rate limit (429, Retry-After: 1) or without a valid token
// (401); it reports whether the request goes on to its own answer.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, i int, delay time.Duration, limited, authorized bool) bool {
	if !wait(r.Context(), delay) {
		return false
	}
	if limited {
		s.finish(i, s.writeFault(w, Throttled("1"), false))
		return false
	}
	if !authorized {
		s.finish(i, writeSMAPIError(w, http.StatusUnauthorized, "Request is not authorized."))
		return false
	}
	return true
}

// writeFault answers with f (the public fake's answer, one shape for every
// fake) and returns the status sent.
func (s *Server) writeFault(w http.ResponseWriter, f Fault, lwa bool) int {
	pf := skillmessagingtest.Fault{Status: f.Status, RetryAfter: f.RetryAfter, Code: f.Code, Message: f.Message, ContentType: f.ContentType, Body: f.Body, CutShort: f.CutShort}
	if lwa {
		return pf.ServeLWA(w)
	}
	return pf.Serve(w)
}

func writeSMAPIError(w http.ResponseWriter, status int, msg string) int {
	writeJSON(w, status, map[string]string{"message": msg})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// wait waits d or until the client has gone; it reports whether to answer.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
