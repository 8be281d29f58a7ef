// Package skillmessagingtest is a fake of the Amazon services package
// skillmessaging talks to, on a net/http/httptest server, so that a skill
// developer can test their own code (a Lambda handler that sends messages)
// without Amazon:
//
//   - Login with Amazon's token endpoint, the client_credentials grant with
//     scope alexa:skill_messaging (or alexa::proactive_events) for the
//     credentials of the skills it knows (SetSkill);
//   - the Skill Messaging API, POST /v1/skillmessages/users/{userId}, for the
//     users it knows (AddUser);
//   - the Proactive Events API, POST /v1/proactiveEvents (live) and
//     /v1/proactiveEvents/stages/development.
//
// It answers with the status codes, headers (X-Amzn-RequestId, Retry-After)
// and JSON bodies of the real services, checks requests as strictly as they
// do, takes scripted faults (throttling, server errors, a slow answer, a
// dropped connection: see Fault), and keeps a log of the requests and of
// the messages it accepted. Handle adds the other Alexa APIs the code under
// test calls, served the same way. The shapes follow Amazon's documentation:
// https://developer.amazon.com/docs/smapi/skill-messaging-api-reference.html
// and https://developer.amazon.com/docs/smapi/configure-an-application-or-service-to-send-messages-to-your-skill.html
// (token request and answer).
//
// LWA is served under /lwa and the Alexa API under /alexa, so a client that
// drops a configured path fails against it. Point skillmessaging at it with
// skillmessaging.WithTokenURL(s.TokenURL()) and s.Endpoint() as the endpoint
// (plain http on a loopback host is allowed for that).
package skillmessagingtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths of the fake's endpoints below its URL.
const (
	TokenPath   = "/lwa/auth/o2/token"
	AlexaPrefix = "/alexa"
	// MessagesPath is the messaging endpoint below the fake's URL, up to the
	// user id.
	MessagesPath = AlexaPrefix + "/v1/skillmessages/users/"
)

// Scopes of the client_credentials grant.
const (
	MessagingScope       = "alexa:skill_messaging"
	ProactiveEventsScope = "alexa::proactive_events"
)

// TokenLifetime is how long the fake's access tokens last, as LWA's do
// (expires_in 3600).
const TokenLifetime = time.Hour

// Fault is one scripted answer for one request. Its zero fields keep the
// normal answer's, so the zero Fault changes nothing:
//
//   - Delay is waited before answering (or until the client gives up, and
//     then nothing is answered); Fault{Delay: d} answers normally after d.
//   - A Status replaces the whole answer and the request is not handled
//     (no token granted, no message or event accepted): the body is Body, or
//     the service's error body carrying Code and Message (LWA's
//     {"error", "error_description"}, the Skill Messaging API's
//     {"message"}, the Proactive Events API's {"code", "message"}).
//   - Without a Status the request is handled as usual, and Body,
//     ContentType and RetryAfter, when set, replace those of its answer.
//   - CutShort declares the full Content-Length of the answer but sends half
//     of its body and closes the connection.
type Fault struct {
	// Status is the HTTP status to answer; 0 keeps the normal answer.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Code is LWA's OAuth error code (invalid_client, …), for token faults.
	Code string
	// Message is the service's error message ({"message"}, or LWA's
	// error_description).
	Message string
	// ContentType and Body replace the answer's when set.
	ContentType string
	Body        string
	// Delay is waited before answering.
	Delay time.Duration
	// CutShort sends half of the body and closes the connection.
	CutShort bool
}

// Throttled is the API's 429 with a Retry-After header (seconds or HTTP
// date; empty for none).
func Throttled(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Message: "Rate exceeded."}
}

// ServerError is a 5xx with the API's error body.
func ServerError(status int) Fault {
	return Fault{Status: status, Message: http.StatusText(status)}
}

// Request is one request the fake answered. It holds no token or secret.
type Request struct {
	Method string
	// Path is the request path below the fake's URL; Query its query.
	Path  string
	Query url.Values
	// GrantType, ClientID and Scope are set for token requests.
	GrantType, ClientID, Scope string
	// SkillID is the skill the request is for: its access token's for the
	// fake's Alexa APIs, or as an endpoint added with Handle says.
	SkillID string
	// Authorized says whether an API request carried a valid access token.
	Authorized bool
	// UserAgent and Accept are the request's headers.
	UserAgent, Accept string
	Status            int
	RequestID         string
}

// Message is one message the fake accepted with 202.
type Message struct {
	// SkillID is the skill the access token was issued for.
	SkillID string
	// UserID is the path's user id, unescaped.
	UserID string
	// Data is the "data" object exactly as received.
	Data json.RawMessage
	// ExpiresAfterSeconds is as received, or the default when absent.
	ExpiresAfterSeconds int
	// RequestID is the X-Amzn-RequestId the fake answered with.
	RequestID string
}

// Server is the fake. Its methods are safe for concurrent use, also while
// requests are served.
type Server struct {
	// URL is the base URL of the fake (http://127.0.0.1:port).
	URL string

	srv *httptest.Server
	mux *http.ServeMux

	mu          sync.Mutex
	skills      map[string]credentials // by skill id
	tokens      map[string]token       // by access token
	users       map[string]bool
	tokenFaults []Fault
	msgFaults   []Fault
	eventFaults []Fault
	otherGrants func(*http.Request) Answer
	log         []Request
	messages    []Message
	events      []Event
	seq         int
	inFlight    int
	maxInFlight int
}

type credentials struct{ clientID, clientSecret string }

type token struct {
	skillID, scope string
	expires        time.Time
}

// NewServer starts a fake on a loopback port. Close it when done.
func NewServer() *Server {
	s := &Server{skills: map[string]credentials{}, tokens: map[string]token{}, users: map[string]bool{}, mux: http.NewServeMux()}
	s.mux.Handle("POST "+TokenPath, s.serve(s.answerToken))
	s.mux.Handle("POST "+MessagesPath+"{userId}", s.serve(s.answerMessage))
	s.mux.Handle("POST "+EventsPath, s.serve(s.answerEvent("live")))
	s.mux.Handle("POST "+EventsPath+"/stages/development", s.serve(s.answerEvent("development")))
	s.mux.Handle("/", s.serve(func(*http.Request) Answer {
		return Answer{Status: http.StatusNotFound, Message: "The resource being requested was not found."}
	}))
	s.srv = httptest.NewServer(s.mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// Format implements fmt.Formatter: the fake prints its URL, never the
// credentials or tokens it holds, whatever the verb.
func (s *Server) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "skillmessagingtest.Server{URL: %s}", s.URL)
}

// TokenURL is LWA's token endpoint on the fake, for
// skillmessaging.WithTokenURL.
func (s *Server) TokenURL() string { return s.URL + TokenPath }

// Endpoint is the fake's Alexa API endpoint, in place of the skill request's
// apiEndpoint.
func (s *Server) Endpoint() string { return s.URL + AlexaPrefix }

// Transport returns a RoundTripper that serves every request in the
// caller's goroutine, without a connection, by the fake's own handlers. It
// lets a test run the fake inside a testing/synctest bubble (Go 1.25 and
// later), where a Fault's Delay follows the bubble's clock:
// skillmessaging.WithHTTPClient(&http.Client{Transport: fake.Transport()}).
func (s *Server) Transport() http.RoundTripper { return handlerTransport{s.mux} }

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

// SetSkill makes LWA grant tokens for skillID to these credentials. Setting
// new ones is a rotation at Amazon: the old ones are refused with
// invalid_client from then on.
func (s *Server) SetSkill(skillID, clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skills[skillID] = credentials{clientID, clientSecret}
}

// AddUser makes the messaging endpoint know these user ids. Messages to any
// other user get 404.
func (s *Server) AddUser(userIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range userIDs {
		s.users[id] = true
	}
}

// RemoveUser makes the messaging endpoint forget userID (the user disabled
// the skill): it answers 404.
func (s *Server) RemoveUser(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, userID)
}

// ScriptToken queues faults for the next token requests, one each.
func (s *Server) ScriptToken(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFaults = append(s.tokenFaults, faults...)
}

// ScriptMessages queues faults for the next messaging requests that carry a
// valid token, one each; Fault{Status: 403} refuses a valid token.
func (s *Server) ScriptMessages(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgFaults = append(s.msgFaults, faults...)
}

// ExpireTokens makes every access token issued so far expire now: the API
// answers 403 for them, and a client has to get a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for k, t := range s.tokens {
		t.expires = past
		s.tokens[k] = t
	}
}

// TokenSkill returns the skill a valid access token was issued for.
func (s *Server) TokenSkill(accessToken string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[accessToken]
	if !ok || !time.Now().Before(t.expires) {
		return "", false
	}
	return t.skillID, true
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests returns the requests answered so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// TokenRequests returns how many token requests were made.
func (s *Server) TokenRequests() int {
	return s.count(func(r Request) bool { return r.Path == TokenPath })
}

// MessageRequests returns how many requests reached the messaging endpoint,
// whatever their answer.
func (s *Server) MessageRequests() int {
	return s.count(func(r Request) bool { return strings.HasPrefix(r.Path, MessagesPath) })
}

func (s *Server) count(f func(Request) bool) int {
	n := 0
	for _, r := range s.Requests() {
		if f(r) {
			n++
		}
	}
	return n
}

// MaxInFlight returns the most API requests (all but token requests) the
// fake was answering at the same time, a Fault's Delay included: whether
// the code under test keeps to the concurrency it promises.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// ResetLog forgets the requests answered so far (not the messages).
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// An Answer is how an endpoint added with Handle answers one request; the
// fake sends it with the request's X-Amzn-RequestId.
type Answer struct {
	// Status is the HTTP status. Body is sent as JSON (encoding/json), or
	// as it is when it is a []byte, with ContentType ("application/json"
	// when empty). With an error status and no Body, the API's error body
	// carries Code and Message, as a Fault's does.
	Status      int
	ContentType string
	Body        any
	Code        string
	Message     string
	// Fault is the fault scripted for the request, if any: it changes the
	// answer as it changes the fake's own (see Fault).
	Fault Fault
	// SkillID and Authorized go in the request's log entry (see Request).
	SkillID    string
	Authorized bool
}

// Handle adds an endpoint for an API the fake does not serve itself, so
// that a test of code that also calls it needs no second server: another
// Alexa API (the Reminders or the Customer Profile API, say) under
// AlexaPrefix, with pattern an http.ServeMux pattern below the fake's URL
// ("GET /alexa/v2/accounts/~current/settings/Profile.email"). With pattern
// "POST " + TokenPath, h answers the token requests of LWA's other grants
// (refresh_token, say), while the fake keeps the client_credentials grant
// and ScriptToken's faults.
//
// The fake treats the endpoint's requests as its own: each gets an
// X-Amzn-RequestId and an entry in Requests, h's Answer is sent after its
// Fault's Delay, and MaxInFlight counts it. h runs once per request, when
// it arrives, and may run for several requests at once; when its Fault has
// a Status, h should leave the request unhandled, as the fake does.
func (s *Server) Handle(pattern string, h func(*http.Request) Answer) {
	if pattern == "POST "+TokenPath {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.otherGrants = h
		return
	}
	s.mux.Handle(pattern, s.serve(h))
}

// serve answers every request of the fake: it gives the request an id and a
// log entry, asks h for the answer, waits its Fault's Delay and sends it.
func (s *Server) serve(h func(*http.Request) Answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Method: r.Method, Path: r.URL.Path, UserAgent: r.UserAgent(), Accept: r.Header.Get("Accept")}
		if r.URL.RawQuery != "" {
			rec.Query = r.URL.Query()
		}
		api := r.URL.Path != TokenPath
		if !api {
			_ = r.ParseForm()
			rec.GrantType, rec.ClientID, rec.Scope = r.PostForm.Get("grant_type"), r.PostForm.Get("client_id"), r.PostForm.Get("scope")
		}
		s.mu.Lock()
		s.seq++
		rec.RequestID = fmt.Sprintf("%08x-fake-4000-8000-%012x", s.seq, s.seq)
		i := len(s.log)
		s.log = append(s.log, rec)
		if api {
			s.inFlight++
			s.maxInFlight = max(s.maxInFlight, s.inFlight)
		}
		s.mu.Unlock()
		if api {
			defer func() {
				s.mu.Lock()
				s.inFlight--
				s.mu.Unlock()
			}()
		}

		w.Header().Set("X-Amzn-RequestId", rec.RequestID)
		a := h(r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rec.RequestID)))
		s.mu.Lock()
		if i < len(s.log) && s.log[i].RequestID == rec.RequestID { // not forgotten by ResetLog meanwhile
			s.log[i].SkillID, s.log[i].Authorized = a.SkillID, a.Authorized
		}
		s.mu.Unlock()
		if !wait(r.Context(), a.Fault.Delay) {
			return
		}
		status := a.send(w, r.URL.Path)
		s.mu.Lock()
		defer s.mu.Unlock()
		if i < len(s.log) && s.log[i].RequestID == rec.RequestID {
			s.log[i].Status = status
		}
	})
}

type requestIDKey struct{}

// requestID is the X-Amzn-RequestId the fake answers r with.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// send writes the answer with its fault applied (see Fault) and returns the
// status sent.
func (a Answer) send(w http.ResponseWriter, path string) int {
	f := a.Fault
	status, ct, body := a.Status, a.ContentType, ""
	switch b := a.Body; {
	case f.Status != 0:
		status, ct, body = f.Status, "", errorBody(path, f.Status, f.Code, f.Message)
	case b == nil && status >= 400:
		body = errorBody(path, status, a.Code, a.Message)
	case b == nil:
	default:
		if raw, ok := b.([]byte); ok {
			body = string(raw)
		} else {
			j, _ := json.Marshal(b)
			body = string(j)
		}
	}
	if f.Body != "" {
		body = f.Body
	}
	if f.ContentType != "" {
		ct = f.ContentType
	}
	if ct == "" && body != "" {
		ct = "application/json"
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.CutShort {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		body = body[:len(body)/2]
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return status
}

// errorBody is the error body of the service at path: LWA's OAuth error,
// the Proactive Events API's {"code" (an integer, in Amazon's model),
// "message"}, or the other Alexa APIs' {"message"}.
func errorBody(path string, status int, code, msg string) string {
	var v any = map[string]string{"message": msg}
	switch {
	case path == TokenPath:
		v = map[string]string{"error": code, "error_description": msg}
	case strings.HasPrefix(path, EventsPath):
		v = map[string]any{"code": status, "message": msg}
	}
	b, _ := json.Marshal(v)
	return string(b)
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

func pop(q *[]Fault) Fault {
	if len(*q) == 0 {
		return Fault{}
	}
	f := (*q)[0]
	*q = (*q)[1:]
	return f
}

// answerToken answers LWA's token endpoint: the client_credentials grant
// with scope alexa:skill_messaging or alexa::proactive_events for the
// current credentials of a skill (SetSkill), other grants by Handle's
// endpoint.
func (s *Server) answerToken(r *http.Request) Answer {
	f := r.PostForm
	s.mu.Lock()
	fault, other := pop(&s.tokenFaults), s.otherGrants
	s.mu.Unlock()
	if fault.Status != 0 {
		return Answer{Fault: fault}
	}
	var a Answer
	switch {
	case f.Get("grant_type") == "client_credentials":
		a = s.grant(f)
	case other != nil:
		a = other(r)
	default:
		a = Answer{Status: http.StatusBadRequest, Code: "unsupported_grant_type", Message: "The authorization grant type is not supported by the authorization server"}
	}
	a.Fault = fault
	return a
}

// grant answers a client_credentials grant as LWA does: 200 with a token;
// 401 invalid_client for unknown or rotated-away credentials; 400
// invalid_scope or invalid_request otherwise.
func (s *Server) grant(f url.Values) Answer {
	clientID, clientSecret := f.Get("client_id"), f.Get("client_secret")
	if clientID == "" || clientSecret == "" {
		return Answer{Status: http.StatusBadRequest, Code: "invalid_request", Message: "The request is missing a required parameter : client_id or client_secret"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	skillID := ""
	for id, c := range s.skills {
		if c.clientID == clientID && c.clientSecret == clientSecret {
			skillID = id
		}
	}
	if skillID == "" {
		return Answer{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "Client authentication failed"}
	}
	scope := f.Get("scope")
	if scope != MessagingScope && scope != ProactiveEventsScope {
		return Answer{Status: http.StatusBadRequest, Code: "invalid_scope", Message: "The request has an invalid parameter : scope"}
	}
	at := fmt.Sprintf("Atc|fake-%d-%s", len(s.tokens)+1, strings.ReplaceAll(scope, ":", "-"))
	s.tokens[at] = token{skillID: skillID, scope: scope, expires: time.Now().Add(TokenLifetime)}
	return Answer{Status: http.StatusOK, Body: map[string]any{"access_token": at, "scope": scope, "token_type": "bearer", "expires_in": int(TokenLifetime / time.Second)}}
}

// authorized returns the skill of the request's valid token of scope.
func (s *Server) authorized(r *http.Request, scope string) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok || t.scope != scope || !time.Now().Before(t.expires) {
		return "", false
	}
	return t.skillID, true
}
