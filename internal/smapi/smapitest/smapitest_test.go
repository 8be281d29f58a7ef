package smapitest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

func postToken(t *testing.T, s *Server, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m, resp.Header
}

// TestOneFakeOneLog: LWA's two grants, SMAPI and the Skill Messaging API are
// one fake: one request log with one sequence of request ids, the skill's
// credentials known to SMAPI and to LWA's client_credentials grant alike,
// and ScriptToken's faults for either grant.
func TestOneFakeOneLog(t *testing.T) {
	s := New()
	defer s.Close()
	const skill = "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
	s.AddClient("lwa-client", "lwa-secret", "Atzr|rt")
	s.SetSkill(skill, "skill-client", "skill-secret-1")
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {"lwa-client"}, "client_secret": {"lwa-secret"}, "refresh_token": {"Atzr|rt"}}
	skillGrant := url.Values{"grant_type": {"client_credentials"}, "client_id": {"skill-client"}, "client_secret": {"skill-secret-1"}, "scope": {skillmessagingtest.MessagingScope}}

	status, body, _ := postToken(t, s, refresh)
	smapiToken, _ := body["access_token"].(string)
	if status != http.StatusOK || body["refresh_token"] != "Atzr|rt" || smapiToken == "" {
		t.Fatalf("refresh grant = %d %v; want a token", status, body)
	}
	status, body, _ = postToken(t, s, skillGrant)
	if tok, _ := body["access_token"].(string); status != http.StatusOK {
		t.Fatalf("client_credentials grant = %d %v; want a token", status, body)
	} else if got, ok := s.TokenSkill(tok); !ok || got != skill {
		t.Fatalf("TokenSkill = %q, %v; want %s", got, ok, skill)
	}
	req, _ := http.NewRequest(http.MethodGet, s.SMAPIURL()+"/v1/skills/"+skill+"/credentials", nil)
	req.Header.Set("Authorization", "Bearer "+smapiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.ScriptToken(InvalidGrant())
	if status, body, _ := postToken(t, s, refresh); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("scripted refresh grant = %d %v; want 400 invalid_grant", status, body)
	}
	s.RemoveSkill(skill)
	if status, body, _ := postToken(t, s, skillGrant); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("a removed skill's grant = %d %v; want 401 invalid_client", status, body)
	}

	log := s.Requests()
	want := []struct {
		path, grant, skill string
		status             int
	}{
		{TokenPath, "refresh_token", "", 200}, {TokenPath, "client_credentials", "", 200},
		{"/smapi/v1/skills/" + skill + "/credentials", "", skill, 200},
		{TokenPath, "refresh_token", "", 400}, {TokenPath, "client_credentials", "", 401},
	}
	ids := map[string]bool{}
	for i, r := range log {
		ids[r.RequestID] = true
		if i >= len(want) || r.Path != want[i].path || r.GrantType != want[i].grant || r.SkillID != want[i].skill || r.Status != want[i].status {
			t.Errorf("request %d = %+v; want %+v", i, r, want[min(i, len(want)-1)])
		}
	}
	if len(log) != len(want) || len(ids) != len(want) || s.TokenRequests() != 4 || s.SkillRequests(skill) != 1 {
		t.Fatalf("Requests() = %+v; want %d requests with distinct request ids", log, len(want))
	}
}

func TestErrorsCarryRequestIDs(t *testing.T) {
	s := New()
	defer s.Close()
	resp, err := http.Get(s.SMAPIURL() + "/v1/skills/x/credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(m["message"], "not authorized") || resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Fatalf("unauthenticated request = %d %v; want SMAPI's 401 with a request id", resp.StatusCode, m)
	}
}

// TestSkillListIsAsStrictAsSMAPI checks the fake refuses what SMAPI refuses:
// no vendorId, maxResults above 50, a nextToken it did not issue.
func TestSkillListIsAsStrictAsSMAPI(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddClient("c", "cs", "rt")
	status, body, _ := postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "client_id": {"c"}, "client_secret": {"cs"}, "refresh_token": {"rt"}})
	if status != http.StatusOK {
		t.Fatalf("token = %d %v", status, body)
	}
	token := body["access_token"].(string)
	s.AddVendor("M1VENDOR", "V")
	s.ListSkill("M1VENDOR", "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", "development", "live")
	s.SetListPageSize(1)
	get := func(query string) (int, string, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, s.SMAPIURL()+"/v1/skills?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, resp.Header.Get("Content-Type"), m
	}
	for _, q := range []string{"", "vendorId=M1VENDOR&maxResults=51", "vendorId=M1VENDOR&maxResults=0", "vendorId=M1VENDOR&nextToken=made-up"} {
		if st, _, m := get(q); st != http.StatusBadRequest || m["message"] == "" {
			t.Errorf("GET /v1/skills?%s = %d %v; want 400 with a message", q, st, m)
		}
	}
	st, ct, m := get("vendorId=M1VENDOR&maxResults=50")
	next, _ := m["nextToken"].(string)
	if st != http.StatusOK || ct != ListContentType || m["isTruncated"] != true || next == "" || len(m["skills"].([]any)) != 1 {
		t.Fatalf("first page = %d %q %v; want one entry, truncated, with a nextToken", st, ct, m)
	}
	st, _, m = get("vendorId=M1VENDOR&nextToken=" + url.QueryEscape(next))
	if _, has := m["nextToken"]; st != http.StatusOK || m["isTruncated"] != false || has {
		t.Fatalf("last page = %d %v; want not truncated and no nextToken", st, m)
	}
	if st, _, _ := get("vendorId=M9OTHER"); st != http.StatusUnauthorized {
		t.Errorf("another vendor's list = %d; want 401", st)
	}
}
