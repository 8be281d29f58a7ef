package smapitest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

// Vendor discovery: GET /v1/vendors and GET /v1/skills?vendorId=…, shaped
// after Amazon's SMAPI specification (alexa/ask-cli
// test/integration/fixtures/smapi_spec.json: getVendorListV1 answers
// v1.vendorManagement.Vendors, listSkillsForVendorV1 answers
// v1.skill.ListSkillResponse; the same models are in
// alexa/alexa-apis-for-python ask-smapi-model, vendor_management/vendors.py
// and skill/list_skill_response.py). What the fake holds to, as SMAPI does:
//   - vendorId is required; maxResults must be 1..50 ("should not exceed the
//     upper limit" of 50); an unknown nextToken is a 400 with SMAPI's
//     {"message"}.
//   - a page may hold fewer entries than maxResults ("The response might
//     contain fewer results than maxResults"): SetListPageSize makes pages
//     smaller, so tests cross several pages with a few skills.
//   - a skill is listed once per stage: ListSkill with several stages adds
//     one entry per stage, all with the same skillId.
//   - isTruncated is true and nextToken set exactly when more entries follow.
//   - a vendor the account does not belong to gets 401, whose specified
//     meaning includes "doesn't have access to the resource".
//   - the list's Content-Type is the specification's "application/json+hal".
//   - SetRateLimit's bucket is shared with the credentials requests: one
//     developer account's limit.
const (
	vendorsPattern   = SMAPIPrefix + "/v1/vendors"
	skillListPattern = SMAPIPrefix + "/v1/skills"
	// ListContentType is the Content-Type of the fake's skill list.
	ListContentType = "application/json+hal"
	maxListPage     = 50
	vendorsFaultKey = "GET /v1/vendors"
)

type vendor struct {
	id, name string
}

type listing struct {
	skillID, stage string
}

type pageToken struct {
	vendorID string
	offset   int
}

func skillListFaultKey(vendorID string) string { return "GET /v1/skills?vendorId=" + vendorID }

// AddVendor makes GET /v1/vendors list a vendor with the administrator role.
func (s *Server) AddVendor(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vendors = append(s.vendors, vendor{id: id, name: name})
}

// ListSkill adds skillID to vendorID's skill list, one entry per stage
// ("development" when none is given), as SMAPI lists a skill once per stage.
// Whether SMAPI has credentials for it is SetSkill's business: a listed skill
// without SetSkill gets 404 from the credentials operation.
func (s *Server) ListSkill(vendorID, skillID string, stages ...string) {
	if len(stages) == 0 {
		stages = []string{"development"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listings == nil {
		s.listings = map[string][]listing{}
	}
	for _, st := range stages {
		s.listings[vendorID] = append(s.listings[vendorID], listing{skillID: skillID, stage: st})
	}
}

// SetListPageSize makes every skill list page hold at most n entries, fewer
// than the maxResults asked for, as SMAPI may.
func (s *Server) SetListPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listPage = n
}

// ScriptVendors queues faults for the next GET /v1/vendors requests.
func (s *Server) ScriptVendors(faults ...skillmessagingtest.Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[vendorsFaultKey] = append(s.faults[vendorsFaultKey], faults...)
}

// ScriptSkillList queues faults for the next GET /v1/skills requests of
// vendorID, one page request each.
func (s *Server) ScriptSkillList(vendorID string, faults ...skillmessagingtest.Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := skillListFaultKey(vendorID)
	s.faults[k] = append(s.faults[k], faults...)
}

// ListRequests returns how many GET /v1/vendors and GET /v1/skills requests
// were made.
func (s *Server) ListRequests() (vendors, skillPages int) {
	for _, r := range s.Requests() {
		switch r.Path {
		case vendorsPattern:
			vendors++
		case skillListPattern:
			skillPages++
		}
	}
	return vendors, skillPages
}

func (s *Server) answerVendors(r *http.Request) skillmessagingtest.Answer {
	s.mu.Lock()
	fault := nextFault(s.faults, vendorsFaultKey)
	limited := s.limit != nil && !s.limit.take(time.Now())
	list := make([]map[string]any, 0, len(s.vendors))
	for _, v := range s.vendors {
		list = append(list, map[string]any{"id": v.id, "name": v.name, "roles": []string{"ROLE_ADMINISTRATOR"}})
	}
	s.mu.Unlock()

	a, ok := s.admit(r, fault, limited)
	if ok {
		a.Status, a.Body = http.StatusOK, map[string]any{"vendors": list}
	}
	return a
}

func (s *Server) answerSkillList(r *http.Request) skillmessagingtest.Answer {
	q := r.URL.Query()
	vendorID := q.Get("vendorId")
	s.mu.Lock()
	fault := nextFault(s.faults, skillListFaultKey(vendorID))
	limited := s.limit != nil && !s.limit.take(time.Now())
	s.mu.Unlock()

	a, ok := s.admit(r, fault, limited)
	if !ok {
		return a
	}
	status, body := s.skillPage(vendorID, q.Get("maxResults"), q.Has("maxResults"), q.Get("nextToken"))
	if status != http.StatusOK {
		a.Status, a.Message = status, body.(string)
		return a
	}
	a.Status, a.ContentType, a.Body = http.StatusOK, ListContentType, body
	return a
}

// skillPage computes one page of vendorID's list, or an error status and
// SMAPI's message.
func (s *Server) skillPage(vendorID, maxResults string, hasMax bool, token string) (int, any) {
	if vendorID == "" {
		return http.StatusBadRequest, "vendorId is required."
	}
	size := maxListPage
	if hasMax {
		n, err := strconv.Atoi(maxResults)
		if err != nil || n < 1 || n > maxListPage {
			return http.StatusBadRequest, fmt.Sprintf("maxResults must be between 1 and %d.", maxListPage)
		}
		size = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, v := range s.vendors {
		known = known || v.id == vendorID
	}
	if !known {
		return http.StatusUnauthorized, "The auth token is invalid/expired or doesn't have access to the resource."
	}
	offset := 0
	if token != "" {
		pt, ok := s.pageTokens[token]
		if !ok || pt.vendorID != vendorID {
			return http.StatusBadRequest, "Invalid nextToken."
		}
		offset = pt.offset
	}
	if s.listPage > 0 {
		size = min(size, s.listPage)
	}
	all := s.listings[vendorID]
	end := min(offset+size, len(all))
	entries := make([]map[string]any, 0, end-offset)
	for _, l := range all[offset:end] {
		status := "DEVELOPMENT"
		if l.stage == "live" {
			status = "PUBLISHED"
		} else if l.stage == "certified" {
			status = "CERTIFIED"
		}
		entries = append(entries, map[string]any{
			"skillId": l.skillID, "stage": l.stage, "apis": []string{"custom"}, "publicationStatus": status,
			"lastUpdated":  time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
			"nameByLocale": map[string]string{"en-US": "Fake skill"},
			"_links":       map[string]any{"self": map[string]string{"href": "/v1/skills/" + l.skillID + "/stages/" + l.stage + "/manifest"}},
		})
	}
	self := "/v1/skills?" + url.Values{"vendorId": {vendorID}}.Encode()
	page := map[string]any{"_links": map[string]any{"self": map[string]string{"href": self}}, "skills": entries, "isTruncated": end < len(all)}
	if end < len(all) {
		if s.pageTokens == nil {
			s.pageTokens = map[string]pageToken{}
		}
		s.pageSeq++
		next := fmt.Sprintf("fake-next-token-%d", s.pageSeq)
		s.pageTokens[next] = pageToken{vendorID: vendorID, offset: end}
		page["nextToken"] = next
		page["_links"].(map[string]any)["next"] = map[string]string{"href": self + "&nextToken=" + url.QueryEscape(next)}
	}
	return http.StatusOK, page
}
