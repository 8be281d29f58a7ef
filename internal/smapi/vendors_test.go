package smapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi/smapitest"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

const vendorA = "M1TESTVENDOR"

func listedSkill(i int) string {
	return fmt.Sprintf("amzn1.ask.skill.00000000-0000-4000-8000-%012d", i)
}

func TestListSkillsPaginatesAndMergesStages(t *testing.T) {
	c, fake, _ := newTestClient(t)
	fake.AddVendor(vendorA, "Vendor A")
	fake.ListSkill(vendorA, listedSkill(1), "development", "live")
	fake.ListSkill(vendorA, listedSkill(2))
	fake.ListSkill(vendorA, listedSkill(3), "development", "certified", "live")
	fake.ListSkill(vendorA, listedSkill(4))
	fake.SetListPageSize(2) // 7 entries: pages of 2, 2, 2, 1

	got, err := c.ListSkills(context.Background(), vendorA)
	if err != nil {
		t.Fatal(err)
	}
	want := []ListedSkill{
		{listedSkill(1), []string{"development", "live"}},
		{listedSkill(2), []string{"development"}},
		{listedSkill(3), []string{"development", "certified", "live"}},
		{listedSkill(4), []string{"development"}},
	}
	if !slices.EqualFunc(got.Skills, want, func(a, b ListedSkill) bool { return a.SkillID == b.SkillID && slices.Equal(a.Stages, b.Stages) }) {
		t.Errorf("Skills = %+v; want %+v", got.Skills, want)
	}
	if got.Pages != 4 || got.Attempts != 4 {
		t.Errorf("Pages, Attempts = %d, %d; want 4, 4", got.Pages, got.Attempts)
	}
	var tokens []string
	for _, r := range fake.Requests() {
		if r.Path == smapitest.TokenPath {
			continue
		}
		if r.Path != "/smapi/v1/skills" || r.Query.Get("vendorId") != vendorA || !r.Authorized || r.Status != http.StatusOK {
			t.Errorf("request %+v; want an authorized GET /smapi/v1/skills for %s", r, vendorA)
		}
		tokens = append(tokens, r.Query.Get("nextToken"))
	}
	if len(tokens) != 4 || tokens[0] != "" || tokens[1] == "" || tokens[2] == tokens[1] || tokens[3] == "" {
		t.Errorf("nextTokens sent = %q; want none on the first page, then each page's token", tokens)
	}
}

// TestListSkillsAsksForFullPages checks maxResults: the fake refuses more
// than 50, as SMAPI does, and a page of 50 takes one request.
func TestListSkillsAsksForFullPages(t *testing.T) {
	c, fake, _ := newTestClient(t)
	fake.AddVendor(vendorA, "Vendor A")
	for i := range MaxListPageSize {
		fake.ListSkill(vendorA, listedSkill(i))
	}
	got, err := c.ListSkills(context.Background(), vendorA)
	if err != nil || len(got.Skills) != MaxListPageSize || got.Pages != 1 {
		t.Fatalf("ListSkills = %+v, %v; want %d skills in one page", got, err, MaxListPageSize)
	}
}

func TestListSkillsRetriesAPage(t *testing.T) {
	c, fake, rec := newTestClient(t)
	fake.AddVendor(vendorA, "Vendor A")
	fake.ListSkill(vendorA, listedSkill(1))
	fake.ListSkill(vendorA, listedSkill(2))
	fake.SetListPageSize(1)
	// The first page answers at once; the second is throttled, then fails
	// once, then answers.
	fake.ScriptSkillList(vendorA, skillmessagingtest.Fault{}, skillmessagingtest.Throttled("2"), skillmessagingtest.ServerError(503))
	got, err := c.ListSkills(context.Background(), vendorA)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Skills) != 2 || got.Pages != 2 || got.Attempts != 4 {
		t.Errorf("ListSkills = %+v; want 2 skills, 2 pages, 4 attempts", got)
	}
	if !equalDurations(rec.waits, []time.Duration{2 * time.Second, 400 * time.Millisecond}) {
		t.Errorf("waits = %v; want Retry-After 2s, then the second backoff", rec.waits)
	}
}

func TestListSkillsErrors(t *testing.T) {
	tests := []struct {
		name       string
		vendor     string
		faults     []skillmessagingtest.Fault
		wantErr    string
		wantStatus int
		wantSkills int
		wantIs     error
	}{
		{name: "vendor the account cannot see", vendor: "M9OTHERVENDOR", wantErr: "SMAPI answered HTTP 401", wantStatus: 401},
		{name: "HTML page", vendor: vendorA, faults: []skillmessagingtest.Fault{smapitest.HTMLPage()}, wantErr: `content type "text/html`, wantStatus: 200},
		{name: "second page keeps failing", vendor: vendorA, faults: append([]skillmessagingtest.Fault{{}}, repeat(skillmessagingtest.ServerError(500), 5)...),
			wantErr: "SMAPI answered HTTP 500", wantStatus: 500, wantSkills: 1},
		{name: "entry without skillId", vendor: vendorA, faults: []skillmessagingtest.Fault{{Status: 200, ContentType: smapitest.ListContentType, Body: `{"skills":[{"stage":"live"}],"isTruncated":false}`}},
			wantErr: "skills[0].skillId is missing", wantStatus: 200},
		{name: "truncated without nextToken", vendor: vendorA, faults: []skillmessagingtest.Fault{{Status: 200, ContentType: smapitest.ListContentType, Body: `{"skills":[],"isTruncated":true}`}},
			wantErr: "truncated but its nextToken is empty", wantIs: ErrBadPagination},
		{name: "nextToken repeats", vendor: vendorA, faults: []skillmessagingtest.Fault{
			{Status: 200, ContentType: smapitest.ListContentType, Body: `{"skills":[{"skillId":"` + listedSkill(1) + `"}],"isTruncated":true,"nextToken":"t1"}`},
			{Status: 200, ContentType: smapitest.ListContentType, Body: `{"skills":[{"skillId":"` + listedSkill(2) + `"}],"isTruncated":true,"nextToken":"t1"}`}},
			wantErr: "repeats an earlier one", wantIs: ErrBadPagination, wantSkills: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake, _ := newTestClient(t)
			fake.AddVendor(vendorA, "Vendor A")
			fake.ListSkill(vendorA, listedSkill(1))
			fake.ListSkill(vendorA, listedSkill(2))
			fake.SetListPageSize(1)
			fake.ScriptSkillList(tt.vendor, tt.faults...)
			got, err := c.ListSkills(context.Background(), tt.vendor)
			if err == nil {
				t.Fatalf("ListSkills = %+v; want error %q", got, tt.wantErr)
			}
			msg := err.Error()
			assertNoSecret(t, "error", msg)
			if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, "list skills of vendor "+tt.vendor) {
				t.Errorf("error = %q; want it to name the operation, the vendor and %q", msg, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v; want it to wrap %v", err, tt.wantIs)
			}
			if len(got.Skills) != tt.wantSkills {
				t.Errorf("skills read before the error = %d; want %d", len(got.Skills), tt.wantSkills)
			}
			var sc interface{ HTTPStatusCode() int }
			if tt.wantStatus != 0 && (!errors.As(err, &sc) || sc.HTTPStatusCode() != tt.wantStatus || RequestID(err) == "") {
				t.Errorf("error %v: want HTTP status %d and a request id", err, tt.wantStatus)
			}
		})
	}
}

func TestListSkillsRefusesAnInvalidVendorID(t *testing.T) {
	c, fake, _ := newTestClient(t)
	for _, id := range []string{"", "M1&maxResults=500", strings.Repeat("A", 256), "M1 VENDOR"} {
		if _, err := c.ListSkills(context.Background(), id); err == nil || !strings.Contains(err.Error(), "invalid vendor id") {
			t.Errorf("ListSkills(%q) error = %v; want invalid vendor id", id, err)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("requests = %d; want none", n)
	}
}

func TestListVendors(t *testing.T) {
	c, fake, _ := newTestClient(t)
	fake.AddVendor(vendorA, "Vendor A")
	fake.AddVendor("M2TESTVENDOR", "Vendor B")
	fake.ScriptVendors(skillmessagingtest.Throttled(""))
	got, err := c.ListVendors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != vendorA || got[1].Name != "Vendor B" || !slices.Equal(got[0].Roles, []string{"ROLE_ADMINISTRATOR"}) {
		t.Errorf("ListVendors = %+v; want both vendors with their roles", got)
	}
	if v, _ := fake.ListRequests(); v != 2 {
		t.Errorf("vendor requests = %d; want 2 (a throttled one retried)", v)
	}

	fake.ScriptVendors(skillmessagingtest.Fault{Status: 200, Body: `{"vendors":[{"id":"M1&x=y","name":"bad"}]}`})
	if _, err := c.ListVendors(context.Background()); err == nil || !strings.Contains(err.Error(), "list vendors: unusable SMAPI response") {
		t.Errorf("ListVendors with an invalid id = %v; want an unusable response error", err)
	}
}

// TestRecordedListAnswers replays the real-shape answers of the two list
// operations in testdata/smapi through the fake.
func TestRecordedListAnswers(t *testing.T) {
	c, fake, _ := newTestClient(t)
	fake.ScriptVendors(skillmessagingtest.Fault{Status: 200, Body: string(readFixture(t, "vendors-ok.json"))})
	vendors, err := c.ListVendors(context.Background())
	if err != nil || len(vendors) != 2 || vendors[0].ID != "M1FIXTUREVENDOR" || vendors[1].Roles[0] != "ROLE_DEVELOPER" {
		t.Fatalf("ListVendors = %+v, %v; want the fixture's two vendors", vendors, err)
	}
	// The fixture page is truncated; the fake's own (empty) second page ends
	// the list only if the token is one it issued, so the second page is
	// scripted too.
	fake.ScriptSkillList("M1FIXTUREVENDOR",
		skillmessagingtest.Fault{Status: 200, ContentType: smapitest.ListContentType, Body: string(readFixture(t, "skills-page.json"))},
		skillmessagingtest.Fault{Status: 200, ContentType: smapitest.ListContentType, Body: `{"skills":[],"isTruncated":false}`})
	list, err := c.ListSkills(context.Background(), "M1FIXTUREVENDOR")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Skills) != 1 || list.Skills[0].SkillID != skillA || !slices.Equal(list.Skills[0].Stages, []string{"development", "live"}) || list.Pages != 2 {
		t.Errorf("ListSkills = %+v; want the fixture's one skill with two stages, over two pages", list)
	}
	if last := fake.Requests()[len(fake.Requests())-1]; last.Query.Get("nextToken") != "fixture-next-token" {
		t.Errorf("second page asked with nextToken %q; want the fixture's", last.Query.Get("nextToken"))
	}
}

// FuzzDecodeSkillPage checks a skill list page decodes only with every entry
// naming a skill, a truncated page is never taken for the last one, and a
// reason never quotes the body. Run: go test -fuzz FuzzDecodeSkillPage ./internal/smapi
func FuzzDecodeSkillPage(f *testing.F) {
	f.Add(smapitest.ListContentType, readFixture(f, "skills-page.json"))
	f.Add("application/json", readFixture(f, "vendors-ok.json"))
	f.Add("application/json", []byte(`{"skills":[{"skillId":""}],"isTruncated":false}`))
	f.Add("text/html", []byte("<html>"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		var p skillPage
		reason := p.decode(contentType, body)
		if reason != "" {
			// The content type is quoted; a body that is part of it is not
			// a leak.
			if len(body) > 8 && strings.Contains(reason, string(body)) && !strings.Contains(contentType, string(body)) {
				t.Fatalf("reason %q quotes the body", reason)
			}
			return
		}
		for i, e := range p.entries {
			if e.SkillID == "" {
				t.Fatalf("decode(%q) succeeded with entry %d without a skillId", body, i)
			}
		}
		var v struct {
			IsTruncated bool `json:"isTruncated"`
		}
		if json.Unmarshal(body, &v) == nil && v.IsTruncated != p.truncated {
			t.Fatalf("decode(%q): truncated = %v; the body says %v", body, p.truncated, v.IsTruncated)
		}
	})
}
