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

func TestClientCredentialsGrant(t *testing.T) {
	s := New()
	defer s.Close()
	const skill = "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
	s.SetSkill(skill, "skill-client", "skill-secret-1")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"skill-client"}, "client_secret": {"skill-secret-1"}, "scope": {skillmessagingtest.MessagingScope}}

	status, body, h := postToken(t, s, form)
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" || h.Get("X-Amzn-RequestId") == "" {
		t.Fatalf("grant = %d %v; want a token and a request id", status, body)
	}
	if got, ok := s.TokenSkill(tok); !ok || got != skill {
		t.Fatalf("TokenSkill = %q, %v; want %s", got, ok, skill)
	}

	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("scope", "alexa::ask:skills:readwrite")
	if status, body, _ := postToken(t, s, bad); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Fatalf("wrong scope = %d %v; want 400 invalid_scope", status, body)
	}

	// After a rotation at Amazon the old credentials are refused.
	s.SetSkill(skill, "skill-client", "skill-secret-2")
	if status, body, _ := postToken(t, s, form); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("rotated-away credentials = %d %v; want 401 invalid_client", status, body)
	}
	if _, ok := s.TokenSkill("Atc|unknown"); ok {
		t.Fatal("unknown token accepted")
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
