package skillmessagingtest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
)

// Limits the messaging endpoint checks, from Amazon's Skill Messaging API
// reference (https://developer.amazon.com/docs/smapi/skill-messaging-api-reference.html):
// "data" is an object of string keys and string values of at most "6 KB",
// taken here as 6,000 bytes (the stricter reading, as skillmessaging does);
// expiresAfterSeconds is 60 to 86400, 3600 when absent.
const (
	MaxMessageDataBytes        = 6000
	MinExpiresAfterSeconds     = 60
	MaxExpiresAfterSeconds     = 86400
	DefaultExpiresAfterSeconds = 3600

	msgForbidden   = "The authentication token is invalid or doesn't have access to make this request"
	msgUnknownUser = "No user found for the given userId."
)

func (s *Server) answerMessage(r *http.Request) Answer {
	userID := r.PathValue("userId")
	skillID, authorized := s.authorized(r, MessagingScope)
	if !authorized {
		return Answer{Status: http.StatusForbidden, Message: msgForbidden}
	}
	s.mu.Lock()
	fault := pop(&s.msgFaults)
	known := s.users[userID]
	s.mu.Unlock()
	a := Answer{Fault: fault, SkillID: skillID, Authorized: true}
	if fault.Status != 0 {
		return a
	}
	data, expires, problem := decodeMessage(r)
	switch {
	case problem != "":
		a.Status, a.Message = http.StatusBadRequest, problem
	case !known:
		a.Status, a.Message = http.StatusNotFound, msgUnknownUser
	default:
		a.Status = http.StatusAccepted
		s.mu.Lock()
		s.messages = append(s.messages, Message{SkillID: skillID, UserID: userID, Data: data, ExpiresAfterSeconds: expires, RequestID: requestID(r)})
		s.mu.Unlock()
	}
	return a
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
	var kv map[string]string
	switch {
	case len(data) == 0 || data[0] != '{':
		return nil, 0, "data must be a JSON object."
	case json.Unmarshal(data, &kv) != nil:
		return nil, 0, "data must hold string keys and string values."
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
