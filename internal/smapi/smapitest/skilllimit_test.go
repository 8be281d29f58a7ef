package smapitest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSkillRateLimit: with the documented 25 requests a second per skill,
// the 26th request for one skill within a second is answered 429 with
// Retry-After, another skill is not affected, and a second later the skill
// is answered again. The bubble's clock drives the buckets.
func TestSkillRateLimit(t *testing.T) {
	s := New() // its listener stays outside the bubble
	defer s.Close()
	synctest.Test(t, func(t *testing.T) {
		const a, b = "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", "amzn1.ask.skill.1f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
		s.AddClient("client", "secret", "Atzr|rt")
		s.SetSkill(a, "client-a", "secret-a")
		s.SetSkill(b, "client-b", "secret-b")
		s.SetSkillRateLimit(SkillRateLimit, SkillRateLimit)
		hc := &http.Client{Transport: s.Transport()}
		resp, err := hc.PostForm(s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "client_id": {"client"}, "client_secret": {"secret"}, "refresh_token": {"Atzr|rt"}})
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		get := func(skill string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, s.SMAPIURL()+"/v1/skills/"+skill+"/credentials", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("Retry-After")
		}
		for i := range SkillRateLimit {
			if status, _ := get(a); status != http.StatusOK {
				t.Fatalf("request %d for skill a = %d; want 200 within 25 a second", i+1, status)
			}
		}
		if status, ra := get(a); status != http.StatusTooManyRequests || strings.TrimSpace(ra) != "1" {
			t.Fatalf("26th request for skill a within a second = %d, Retry-After %q; want 429, 1", status, ra)
		}
		if status, _ := get(b); status != http.StatusOK {
			t.Fatalf("skill b = %d; want 200: the limit is per skill", status)
		}
		time.Sleep(time.Second)
		if status, _ := get(a); status != http.StatusOK {
			t.Fatalf("skill a a second later = %d; want 200", status)
		}
		if s.Throttled() != 1 {
			t.Fatalf("Throttled() = %d; want 1", s.Throttled())
		}
	})
}
