package config

import (
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	base := map[string]string{"LWA_SECRET_ID": "alexa/lwa", "SKILL_SECRET_PREFIX": "alexa/skill-messaging/"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // the variable named in the error; "" means valid
	}{
		{"defaults", base, ""},
		{"no LWA secret", with("LWA_SECRET_ID", ""), "LWA_SECRET_ID"},
		{"no prefix", with("SKILL_SECRET_PREFIX", ""), "SKILL_SECRET_PREFIX"},
		{"prefix with space", with("SKILL_SECRET_PREFIX", "alexa/ "), "SKILL_SECRET_PREFIX"},
		{"http SMAPI", with("SMAPI_ENDPOINT", "http://api.amazonalexa.com"), "SMAPI_ENDPOINT"},
		{"loopback SMAPI", with("SMAPI_ENDPOINT", "http://127.0.0.1:9/smapi"), ""},
		{"bad token URL", with("LWA_TOKEN_URL", "api.amazon.com/auth/o2/token"), "LWA_TOKEN_URL"},
		{"concurrency", with("SYNC_CONCURRENCY", "16"), ""},
		{"concurrency zero", with("SYNC_CONCURRENCY", "0"), "SYNC_CONCURRENCY"},
		{"concurrency lowest", with("SYNC_CONCURRENCY", "1"), ""},
		{"concurrency highest", with("SYNC_CONCURRENCY", "64"), ""},
		{"concurrency one too high", with("SYNC_CONCURRENCY", "65"), "SYNC_CONCURRENCY"},
		{"concurrency text", with("SYNC_CONCURRENCY", "eight"), "SYNC_CONCURRENCY"},
		{"concurrency too high", with("SYNC_CONCURRENCY", "1000"), "SYNC_CONCURRENCY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("FromEnv = %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("FromEnv error = %v; want it to start with %s", err, tt.wantErr)
			}
		})
	}
	c, _ := FromEnv(func(k string) string { return base[k] })
	if c.SMAPIEndpoint != "https://api.amazonalexa.com" || c.LWATokenURL != "https://api.amazon.com/auth/o2/token" || c.Concurrency != 8 {
		t.Fatalf("defaults = %+v", c)
	}
}
