package smapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// The two SMAPI operations of vendor discovery, as Amazon's SMAPI
// specification defines them (alexa/ask-cli
// test/integration/fixtures/smapi_spec.json, operations getVendorListV1 and
// listSkillsForVendorV1; the same models are in alexa/alexa-apis-for-python,
// ask_smapi_model/v1/vendor_management/vendors.py and
// v1/skill/list_skill_response.py):
//
//	GET /v1/vendors
//	200 {"vendors": [{"id": "M1AB…", "name": "…", "roles": ["ROLE_ADMINISTRATOR"]}]}
//
//	GET /v1/skills?vendorId=…&maxResults=1..50&nextToken=…
//	200 {"_links": {…}, "skills": [{"skillId": "…", "stage": "development"|"certified"|"live",
//	     "apis": [...], "publicationStatus": "…", "lastUpdated": "…", "nameByLocale": {…}}, …],
//	     "isTruncated": true, "nextToken": "…"}
//
// A skill is listed once per stage it has (development, and certified and
// live once published): up to three entries with the same skillId. nextToken
// is opaque and expires after 24 hours; maxResults is at most 50 and a page
// may hold fewer entries than asked for. Errors are 400 (bad vendorId,
// maxResults or nextToken), 401, 429, 500 and 503, with SMAPI's
// {"message"} body.

// MaxListPageSize is the largest maxResults SMAPI accepts for GET /v1/skills.
const MaxListPageSize = 50

// Vendor is one Amazon developer vendor the LWA refresh token's account
// belongs to.
type Vendor struct {
	ID    string
	Name  string
	Roles []string
}

// ListVendors returns the vendors the access token's account can see
// (GET /v1/vendors), with the same auth, retries and pacing as
// GetSkillCredentials. Errors are *CallError.
func (c *Client) ListVendors(ctx context.Context) ([]Vendor, error) {
	const op = "list vendors"
	var vendors []Vendor
	_, attempts, err := c.get(ctx, "vendors", c.BaseURL.JoinPath("v1", "vendors").String(), func(contentType string, body []byte) string {
		var v struct {
			Vendors []vendorEntry `json:"vendors"`
		}
		if reason := decodeJSON(contentType, body, &v); reason != "" {
			return reason
		}
		// "vendors" is optional in the specification: absent, the account
		// has none.
		vendors = vendors[:0]
		for i, e := range v.Vendors {
			if err := contract.ValidateVendorID(e.ID); err != nil {
				return fmt.Sprintf("vendors[%d].id: %v", i, err)
			}
			vendors = append(vendors, Vendor{ID: e.ID, Name: clip(e.Name), Roles: e.Roles})
		}
		return ""
	})
	if err != nil {
		return nil, &CallError{Op: op, Attempts: attempts, Err: err}
	}
	return vendors, nil
}

// ListedSkill is one skill of a vendor's skill list. SMAPI lists a skill once
// per stage; ListSkills merges those entries.
type ListedSkill struct {
	SkillID string
	// Stages are the stages the skill was listed with, in listing order.
	Stages []string
}

// SkillList is what ListSkills read.
type SkillList struct {
	// Skills holds each skill once, in the order SMAPI first listed it.
	Skills []ListedSkill
	// Pages and Attempts count the pages read and the requests made.
	Pages    int
	Attempts int
}

// ErrBadPagination is wrapped by a ListSkills error when SMAPI's paging
// cannot be followed: a truncated page without a nextToken, or a nextToken
// that was already used (which would loop for ever).
var ErrBadPagination = errors.New("SMAPI skill list pagination cannot be followed")

// ListSkills returns every skill of vendorID (GET /v1/skills), reading page
// after page of MaxListPageSize entries with nextToken, each page with the
// same auth, retries and pacing as GetSkillCredentials. A skill listed for
// several stages appears once. On an error it returns the skills of the pages
// read so far with a *CallError.
func (c *Client) ListSkills(ctx context.Context, vendorID string) (*SkillList, error) {
	const op = "list skills"
	list := &SkillList{}
	if err := contract.ValidateVendorID(vendorID); err != nil {
		return list, &CallError{Op: op, VendorID: vendorID, Err: err}
	}
	index := map[string]int{}
	seenTokens := map[string]bool{}
	next := ""
	for {
		q := url.Values{"vendorId": {vendorID}, "maxResults": {strconv.Itoa(MaxListPageSize)}}
		if next != "" {
			q.Set("nextToken", next)
		}
		u := c.BaseURL.JoinPath("v1", "skills")
		u.RawQuery = q.Encode()
		var page skillPage
		reqID, attempts, err := c.get(ctx, "skills of vendor "+vendorID, u.String(), page.decode)
		list.Attempts += attempts
		if err != nil {
			return list, &CallError{Op: op, VendorID: vendorID, Attempts: list.Attempts, Err: err}
		}
		list.Pages++
		for _, e := range page.entries {
			i, ok := index[e.SkillID]
			if !ok {
				i = len(list.Skills)
				index[e.SkillID] = i
				list.Skills = append(list.Skills, ListedSkill{SkillID: e.SkillID})
			}
			list.Skills[i].Stages = append(list.Skills[i].Stages, e.Stage)
		}
		if !page.truncated {
			return list, nil
		}
		if page.next == "" || seenTokens[page.next] {
			err := fmt.Errorf("%w: page %d (request id %s) is truncated but its nextToken is empty or repeats an earlier one", ErrBadPagination, list.Pages, reqID)
			return list, &CallError{Op: op, VendorID: vendorID, Attempts: list.Attempts, Err: err}
		}
		seenTokens[page.next] = true
		next = page.next
	}
}

type vendorEntry struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

type skillEntry struct {
	SkillID string `json:"skillId"`
	Stage   string `json:"stage"`
}

// skillPage is one decoded page of GET /v1/skills.
type skillPage struct {
	entries   []skillEntry
	truncated bool
	next      string
}

func (p *skillPage) decode(contentType string, body []byte) string {
	var v struct {
		Skills      []skillEntry `json:"skills"`
		IsTruncated bool         `json:"isTruncated"`
		NextToken   string       `json:"nextToken"`
	}
	if reason := decodeJSON(contentType, body, &v); reason != "" {
		return reason
	}
	// The specification marks "skills" optional: a page without it lists
	// nothing. Nothing is ever deleted for a skill missing from the list, so
	// reading too little costs nothing but a later run.
	for i, e := range v.Skills {
		if e.SkillID == "" {
			return fmt.Sprintf("skills[%d].skillId is missing or empty", i)
		}
	}
	p.entries, p.truncated, p.next = v.Skills, v.IsTruncated, v.NextToken
	return ""
}
