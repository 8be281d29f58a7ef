package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

func TestFromEnv(t *testing.T) {
	base := map[string]string{"LWA_SECRET_ID": "alexa/lwa", "SKILL_SECRET_PREFIX": "alexa/skill-messaging/"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const skill = "amzn1.ask.skill.0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	good := write("skills.json", `["`+skill+`"]`)
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
		{"discovery vendor", with("SKILL_DISCOVERY", "vendor", "SKILL_SECRET_KMS_KEY_ID", key), ""},
		{"discovery vendor without key", with("SKILL_DISCOVERY", "vendor"), "SKILL_SECRET_KMS_KEY_ID"},
		{"discovery unknown", with("SKILL_DISCOVERY", "Vendor"), "SKILL_DISCOVERY"},
		{"vendor id", with("SKILL_DISCOVERY", "vendor", "VENDOR_ID", "M1ABCDEFGHIJKL", "SKILL_SECRET_KMS_KEY_ID", "alias/skills"), ""},
		{"vendor id without discovery", with("VENDOR_ID", "M1ABCDEFGHIJKL"), "VENDOR_ID"},
		{"vendor id malformed", with("SKILL_DISCOVERY", "vendor", "VENDOR_ID", "M1&x=y", "SKILL_SECRET_KMS_KEY_ID", key), "VENDOR_ID"},
		{"key malformed", with("SKILL_DISCOVERY", "vendor", "SKILL_SECRET_KMS_KEY_ID", "my key"), "SKILL_SECRET_KMS_KEY_ID"},
		{"key id", with("SKILL_DISCOVERY", "vendor", "SKILL_SECRET_KMS_KEY_ID", "1234abcd-12ab-34cd-56ef-1234567890ab"), ""},
		{"rotation days", with("SKILL_SECRET_ROTATION_DAYS", "30"), ""},
		{"rotation days out of range", with("SKILL_SECRET_ROTATION_DAYS", "1001"), "SKILL_SECRET_ROTATION_DAYS"},
		{"rotation days smallest", with("SKILL_SECRET_ROTATION_DAYS", "1"), ""},
		{"rotation days largest", with("SKILL_SECRET_ROTATION_DAYS", "1000"), ""},
		{"rotation days zero", with("SKILL_SECRET_ROTATION_DAYS", "0"), "SKILL_SECRET_ROTATION_DAYS"},
		{"rotation function", with("SKILL_SECRET_ROTATION_LAMBDA_ARN", "arn:aws:lambda:us-east-1:123456789012:function:sync"), ""},
		{"rotation function malformed", with("SKILL_SECRET_ROTATION_LAMBDA_ARN", "sync"), "SKILL_SECRET_ROTATION_LAMBDA_ARN"},
		{"skill ids file", with("SKILL_IDS_FILE", good, "SKILL_SECRET_KMS_KEY_ID", key), ""},
		{"skill ids file relative to the task root", with("SKILL_IDS_FILE", "skills.json", "LAMBDA_TASK_ROOT", dir, "SKILL_SECRET_KMS_KEY_ID", key), ""},
		{"skill ids file without key", with("SKILL_IDS_FILE", good), "SKILL_SECRET_KMS_KEY_ID"},
		{"skill ids file missing", with("SKILL_IDS_FILE", filepath.Join(dir, "none.json"), "SKILL_SECRET_KMS_KEY_ID", key), "SKILL_IDS_FILE"},
		{"skill ids file not JSON", with("SKILL_IDS_FILE", write("bad.json", "amzn1.ask.skill.x"), "SKILL_SECRET_KMS_KEY_ID", key), "SKILL_IDS_FILE"},
		{"skill ids file invalid id", with("SKILL_IDS_FILE", write("invalid.json", `["amzn1.ask.skill.x"]`), "SKILL_SECRET_KMS_KEY_ID", key), "SKILL_IDS_FILE"},
		{"skill ids file repeats", with("SKILL_IDS_FILE", write("twice.json", `["`+skill+`","`+skill+`"]`), "SKILL_SECRET_KMS_KEY_ID", key), "SKILL_IDS_FILE"},
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
	if c.SMAPIEndpoint != "https://api.amazonalexa.com" || c.LWATokenURL != "https://api.amazon.com/auth/o2/token" || c.Concurrency != 8 ||
		c.Discovery != contract.DiscoveryOff || c.KMSKeyID != "" || c.RotationDays != 0 || c.DeclaredSkillIDs != nil {
		t.Fatalf("defaults = %+v", c)
	}
	env := with("SKILL_DISCOVERY", "vendor", "VENDOR_ID", "M1ABCDEFGHIJKL", "SKILL_SECRET_KMS_KEY_ID", key, "SKILL_IDS_FILE", good, "SKILL_SECRET_ROTATION_DAYS", "7")
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil || c.Discovery != contract.DiscoveryVendor || c.VendorID != "M1ABCDEFGHIJKL" || c.KMSKeyID != key || c.RotationDays != 7 || !slices.Equal(c.DeclaredSkillIDs, []string{skill}) {
		t.Fatalf("FromEnv = %+v, %v; want every setting read", c, err)
	}
}
