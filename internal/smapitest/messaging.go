package smapitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// The Skill Messaging API, POST /v1/skillmessages/users/{userId}, served
// under SMAPIPrefix like SMAPI: the fake's SMAPIURL is also its "Alexa API
// endpoint". A request needs a Skill Messaging token from the
// client_credentials grant (scope alexa:skill_messaging).
const (
	// MessagesPath is the path of the messaging endpoint below the fake's
	// URL, up to the user id.
	MessagesPath    = SMAPIPrefix + "/v1/skillmessages/users/"
	messagesPattern = SMAPIPrefix + "/v1/skillmessages/users/{userId}"

	// MaxMessageDataBytes is the largest "data" object the API accepts, in
	// bytes of JSON (6 KB).
	MaxMessageDataBytes = 6 << 10
	// Message expiry bounds and default, in seconds.
	MinExpiresAfterSeconds     = 60
	MaxExpiresAfterSeconds     = 86400
	DefaultExpiresAfterSeconds = 3600

	msgForbidden   = "The authentication token is invalid or doesn't have access to make this request"
	msgUnknownUser = "No user found for the given userId."
)

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

// AddUser makes the messaging endpoint know these user ids. Messages to any
// other user get 404.
func (s *Server) AddUser(userIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = map[string]bool{}
	}
	for _, id := range userIDs {
		s.users[id] = true
	}
}

// RemoveUser makes the messaging endpoint forget userID: it answers 404.
func (s *Server) RemoveUser(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, userID)
}

// ScriptMessages queues faults for the next messaging requests, one each,
// such as Throttled("3") or ServerError(500). A fault answers only requests
// that carry a valid token; Fault{Status: 403} scripts a refusal of a valid
// token.
func (s *Server) ScriptMessages(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgFaults = append(s.msgFaults, faults...)
}

// ExpireMessagingTokens makes every Skill Messaging token issued so far
// expire now: the messaging endpoint answers 403 for them, and a client has
// to get a new token.
func (s *Server) ExpireMessagingTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for k, t := range s.messagingTokens {
		t.expires = past
		s.messagingTokens[k] = t
	}
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// MessagingRequests returns how many requests reached the messaging
// endpoint, whatever their answer.
func (s *Server) MessagingRequests() int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, MessagesPath) {
			n++
		}
	}
	return n
}

// messagingSkill returns the skill of the request's Skill Messaging token.
func (s *Server) messagingSkill(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	return s.MessagingTokenSkill(tok)
}

func (s *Server) serveMessage(w http.ResponseWriter, r *http.Request) {
	userID := r.PathValue("userId")
	skillID, authorized := s.messagingSkill(r)
	i, reqID := s.begin(r, Request{Authorized: authorized})
	w.Header().Set("X-Amzn-RequestId", reqID)

	s.mu.Lock()
	fault, faulted := popFault(&s.msgFaults)
	latency := s.latency
	known := s.users[userID]
	s.mu.Unlock()

	if !wait(r.Context(), latency+fault.Delay) {
		return
	}
	if !authorized {
		s.finish(i, writeSMAPIError(w, http.StatusForbidden, msgForbidden))
		return
	}
	if faulted && (fault.Status != 0 || fault.Body != "" || fault.CutShort) {
		s.finish(i, s.writeFault(w, fault, false))
		return
	}
	data, expires, problem := decodeMessage(r)
	if problem != "" {
		s.finish(i, writeSMAPIError(w, http.StatusBadRequest, problem))
		return
	}
	if !known {
		s.finish(i, writeSMAPIError(w, http.StatusNotFound, msgUnknownUser))
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, Message{SkillID: skillID, UserID: userID, Data: data, ExpiresAfterSeconds: expires, RequestID: reqID})
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	s.finish(i, http.StatusAccepted)
}

// decodeMessage checks a message body as the API does and returns its data
// and expiry, or what is wrong with it.
func decodeMessage(r *http.Request) (json.RawMessage, int, string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, 0, "Content-Type must be application/json."
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nil, 0, "The request body could not be read."
	}
	var m struct {
		Data    json.RawMessage `json:"data"`
		Expires *int            `json:"expiresAfterSeconds"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, 0, "The request body is not valid JSON."
	}
	data := bytes.TrimSpace(m.Data)
	switch {
	case len(data) == 0 || data[0] != '{':
		return nil, 0, "data must be a JSON object."
	case len(data) > MaxMessageDataBytes:
		return nil, 0, "data must not exceed 6 KB."
	}
	expires := DefaultExpiresAfterSeconds
	if m.Expires != nil {
		expires = *m.Expires
	}
	if expires < MinExpiresAfterSeconds || expires > MaxExpiresAfterSeconds {
		return nil, 0, "expiresAfterSeconds must be between 60 and 86400."
	}
	return json.RawMessage(data), expires, ""
}
