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
// do, takes scripted faults (throttling, server errors, a dropped
// connection), and keeps a log of the requests and of the messages it
// accepted. The shapes follow Amazon's documentation:
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
	"encoding/json"
	"fmt"
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

// Fault is one scripted answer that replaces the normal one.
type Fault struct {
	// Status is the HTTP status to answer; 0 means 200.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Code is LWA's OAuth error code (invalid_client, …), for token faults.
	Code string
	// Message is the service's message ({"message"}, or LWA's
	// error_description).
	Message string
	// ContentType and Body replace the normal ones when set.
	ContentType string
	Body        string
	// CutShort declares the full Content-Length but sends half of the body
	// and closes the connection.
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
	// Path is the request path below the fake's URL.
	Path string
	// GrantType, ClientID and Scope are set for token requests.
	GrantType, ClientID, Scope string
	// SkillID is the skill of the request's access token, for API requests.
	SkillID string
	// Authorized says whether an API request carried a valid access token.
	Authorized bool
	Status     int
	RequestID  string
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

	mu          sync.Mutex
	skills      map[string]credentials // by skill id
	tokens      map[string]token       // by access token
	users       map[string]bool
	tokenFaults []Fault
	msgFaults   []Fault
	eventFaults []Fault
	log         []Request
	messages    []Message
	events      []Event
	seq         int
}

type credentials struct{ clientID, clientSecret string }

type token struct {
	skillID, scope string
	expires        time.Time
}

// NewServer starts a fake on a loopback port. Close it when done.
func NewServer() *Server {
	s := &Server{skills: map[string]credentials{}, tokens: map[string]token{}, users: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc("POST "+MessagesPath+"{userId}", s.serveMessage)
	mux.HandleFunc("POST "+EventsPath, s.serveEvent("live"))
	mux.HandleFunc("POST "+EventsPath+"/stages/development", s.serveEvent("development"))
	mux.HandleFunc("/", s.serveNotFound)
	s.srv = httptest.NewServer(mux)
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

// Requests returns the requests answered so far, in order.
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

// ResetLog forgets the requests answered so far (not the messages).
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
	rec.RequestID = fmt.Sprintf("%08x-fake-4000-8000-%012x", s.seq, s.seq)
	s.log = append(s.log, rec)
	return len(s.log) - 1, rec.RequestID
}

func (s *Server) finish(i, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log[i].Status = status
}

func pop(q *[]Fault) (Fault, bool) {
	if len(*q) == 0 {
		return Fault{}, false
	}
	f := (*q)[0]
	*q = (*q)[1:]
	return f, true
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	i, reqID := s.begin(r, Request{GrantType: f.Get("grant_type"), ClientID: f.Get("client_id"), Scope: f.Get("scope")})
	w.Header().Set("X-Amzn-RequestId", reqID)
	s.mu.Lock()
	fault, faulted := pop(&s.tokenFaults)
	s.mu.Unlock()
	if faulted {
		s.finish(i, writeFault(w, fault, bodyLWA))
		return
	}
	status, body := s.Grant(f)
	s.finish(i, status)
	writeJSON(w, status, body)
}

// Grant answers an LWA token request's form as LWA does for the
// client_credentials grant: 200 with a token for the current credentials of
// a skill (SetSkill) and scope alexa:skill_messaging or
// alexa::proactive_events; 401 invalid_client for unknown or rotated-away
// credentials; 400 invalid_scope, invalid_request or unsupported_grant_type
// otherwise. A fake of LWA's other grants (refresh_token) may hand it the
// client_credentials requests it receives.
func (s *Server) Grant(f url.Values) (int, any) {
	if f.Get("grant_type") != "client_credentials" {
		return http.StatusBadRequest, lwaErr("unsupported_grant_type", "The authorization grant type is not supported by the authorization server")
	}
	clientID, clientSecret := f.Get("client_id"), f.Get("client_secret")
	if clientID == "" || clientSecret == "" {
		return http.StatusBadRequest, lwaErr("invalid_request", "The request is missing a required parameter : client_id or client_secret")
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
		return http.StatusUnauthorized, lwaErr("invalid_client", "Client authentication failed")
	}
	scope := f.Get("scope")
	if scope != MessagingScope && scope != ProactiveEventsScope {
		return http.StatusBadRequest, lwaErr("invalid_scope", "The request has an invalid parameter : scope")
	}
	at := fmt.Sprintf("Atc|fake-%d-%s", len(s.tokens)+1, strings.ReplaceAll(scope, ":", "-"))
	s.tokens[at] = token{skillID: skillID, scope: scope, expires: time.Now().Add(TokenLifetime)}
	return http.StatusOK, map[string]any{"access_token": at, "scope": scope, "token_type": "bearer", "expires_in": int(TokenLifetime / time.Second)}
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

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	i, reqID := s.begin(r, Request{})
	w.Header().Set("X-Amzn-RequestId", reqID)
	s.finish(i, writeError(w, http.StatusNotFound, "The resource being requested was not found."))
}

func lwaErr(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
}

// Serve answers w with f as an Alexa API answers an error ({"message"}) and
// returns the status sent; for fakes of other Alexa APIs built beside this one.
func (f Fault) Serve(w http.ResponseWriter) int { return writeFault(w, f, bodyAlexa) }

// ServeLWA answers w with f as LWA answers a refused grant ({"error",
// "error_description"}) and returns the status sent.
func (f Fault) ServeLWA(w http.ResponseWriter) int { return writeFault(w, f, bodyLWA) }

// The error bodies of the services: LWA's OAuth error, the Skill Messaging
// API's {"message"}, and the Proactive Events API's {"code", "message"}
// (an integer code, in Amazon's model).
const (
	bodyAlexa = iota
	bodyLWA
	bodyEvents
)

// writeFault answers with f and returns the status sent.
func writeFault(w http.ResponseWriter, f Fault, style int) int {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	body := f.Body
	if body == "" {
		var b []byte
		switch style {
		case bodyLWA:
			b, _ = json.Marshal(lwaErr(f.Code, f.Message))
		case bodyEvents:
			b, _ = json.Marshal(map[string]any{"code": status, "message": f.Message})
		default:
			b, _ = json.Marshal(map[string]string{"message": f.Message})
		}
		body = string(b)
	}
	ct := f.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	if f.CutShort {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body[:len(body)/2]))
		return status
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return status
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	writeJSON(w, status, map[string]string{"message": msg})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
