// Package config reads the function's settings from the environment.
package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
)

// MaxConcurrency bounds SYNC_CONCURRENCY (SMAPI allows 25 requests per second
// per skill; the limit here keeps one account's run polite).
const MaxConcurrency = 64

// Config is the function's configuration.
type Config struct {
	// LWASecretID is LWA_SECRET_ID: name or ARN of the LWA secret.
	LWASecretID string
	// SkillSecretPrefix is SKILL_SECRET_PREFIX.
	SkillSecretPrefix string
	// SMAPIEndpoint is SMAPI_ENDPOINT (default https://api.amazonalexa.com).
	SMAPIEndpoint string
	// LWATokenURL is LWA_TOKEN_URL (default https://api.amazon.com/auth/o2/token).
	LWATokenURL string
	// Concurrency is SYNC_CONCURRENCY (default 8).
	Concurrency int
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME, set by Lambda.
	FunctionName string
}

// FromEnv reads the configuration through getenv (os.Getenv in the
// function). Every error names the variable at fault.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		LWASecretID:       strings.TrimSpace(getenv("LWA_SECRET_ID")),
		SkillSecretPrefix: getenv("SKILL_SECRET_PREFIX"),
		SMAPIEndpoint:     orDefault(getenv("SMAPI_ENDPOINT"), smapi.DefaultBaseURL),
		LWATokenURL:       orDefault(getenv("LWA_TOKEN_URL"), smapi.DefaultTokenURL),
		Concurrency:       8,
		FunctionName:      getenv("AWS_LAMBDA_FUNCTION_NAME"),
	}
	if c.LWASecretID == "" {
		return c, fmt.Errorf("LWA_SECRET_ID is not set: give the name or ARN of the LWA secret")
	}
	if strings.TrimSpace(c.SkillSecretPrefix) == "" {
		return c, fmt.Errorf("SKILL_SECRET_PREFIX is not set: give the name prefix of the skill secrets, e.g. alexa/skill-messaging/")
	}
	if strings.TrimSpace(c.SkillSecretPrefix) != c.SkillSecretPrefix {
		return c, fmt.Errorf("SKILL_SECRET_PREFIX %q has leading or trailing spaces", c.SkillSecretPrefix)
	}
	if _, err := smapi.ParseEndpoint(c.SMAPIEndpoint); err != nil {
		return c, fmt.Errorf("SMAPI_ENDPOINT: %w", err)
	}
	if _, err := smapi.ParseEndpoint(c.LWATokenURL); err != nil {
		return c, fmt.Errorf("LWA_TOKEN_URL: %w", err)
	}
	if v := strings.TrimSpace(getenv("SYNC_CONCURRENCY")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxConcurrency {
			return c, fmt.Errorf("SYNC_CONCURRENCY=%q: want a whole number from 1 to %d", v, MaxConcurrency)
		}
		c.Concurrency = n
	}
	return c, nil
}

func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}
