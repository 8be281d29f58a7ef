// Package config reads the function's settings from the environment.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
)

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
	// Discovery is SKILL_DISCOVERY: contract.DiscoveryOff (default) or
	// contract.DiscoveryVendor.
	Discovery string
	// VendorID is VENDOR_ID: with DiscoveryVendor, only this vendor's skills.
	VendorID string
	// KMSKeyID is SKILL_SECRET_KMS_KEY_ID: the key secrets the function
	// creates are encrypted with. Required with DiscoveryVendor or
	// SKILL_IDS_FILE.
	KMSKeyID string
	// RotationDays is SKILL_SECRET_ROTATION_DAYS: the rotation interval the
	// function gives the secrets it creates; 0 means no rotation schedule.
	RotationDays int
	// RotationLambdaARN is SKILL_SECRET_ROTATION_LAMBDA_ARN: the rotation
	// function of the secrets the function creates; empty means the
	// function itself (its ARN from the invocation).
	RotationLambdaARN string
	// DeclaredSkillIDs are the skills listed in the JSON file SKILL_IDS_FILE
	// names (the stack's skillIds beyond what it creates itself): the function
	// syncs them, creating their secrets.
	DeclaredSkillIDs []string
}

// kmsKeyPattern matches what Secrets Manager accepts as KmsKeyId: a key id, a
// multi-Region key id, an alias name, or a key or alias ARN.
var kmsKeyPattern = regexp.MustCompile(`^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]{1,250}))$`)

// lambdaARNPattern matches an unqualified or qualified Lambda function ARN.
var lambdaARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9$_-]+)?$`)

// FromEnv reads the configuration through getenv (os.Getenv in the
// function). Every error names the variable at fault.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		LWASecretID:       strings.TrimSpace(getenv(contract.EnvLWASecretID)),
		SkillSecretPrefix: getenv(contract.EnvSkillSecretPrefix),
		SMAPIEndpoint:     orDefault(getenv(contract.EnvSMAPIEndpoint), smapi.DefaultBaseURL),
		LWATokenURL:       orDefault(getenv(contract.EnvLWATokenURL), smapi.DefaultTokenURL),
		Concurrency:       contract.DefaultConcurrency,
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
	if v := strings.TrimSpace(getenv(contract.EnvSyncConcurrency)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < contract.MinConcurrency || n > contract.MaxConcurrency {
			return c, fmt.Errorf("SYNC_CONCURRENCY=%q: want a whole number from %d to %d", v, contract.MinConcurrency, contract.MaxConcurrency)
		}
		c.Concurrency = n
	}
	return c, c.readCreation(getenv)
}

// readCreation reads the settings of discovery and of the secrets the
// function creates.
func (c *Config) readCreation(getenv func(string) string) error {
	c.Discovery = orDefault(getenv(contract.EnvSkillDiscovery), contract.DiscoveryOff)
	if c.Discovery != contract.DiscoveryOff && c.Discovery != contract.DiscoveryVendor {
		return fmt.Errorf("SKILL_DISCOVERY=%q: want %q (default) or %q", c.Discovery, contract.DiscoveryOff, contract.DiscoveryVendor)
	}
	if c.VendorID = strings.TrimSpace(getenv(contract.EnvVendorID)); c.VendorID != "" {
		if c.Discovery != contract.DiscoveryVendor {
			return fmt.Errorf("VENDOR_ID is set but SKILL_DISCOVERY is %q: it limits vendor discovery, set SKILL_DISCOVERY=vendor or unset VENDOR_ID", c.Discovery)
		}
		if err := contract.ValidateVendorID(c.VendorID); err != nil {
			return fmt.Errorf("VENDOR_ID: %w", err)
		}
	}
	if file := strings.TrimSpace(getenv(contract.EnvSkillIDsFile)); file != "" {
		ids, err := readSkillIDs(file, getenv("LAMBDA_TASK_ROOT"))
		if err != nil {
			return fmt.Errorf("SKILL_IDS_FILE: %w", err)
		}
		c.DeclaredSkillIDs = ids
	}
	c.KMSKeyID = strings.TrimSpace(getenv(contract.EnvKMSKeyID))
	switch {
	case c.KMSKeyID != "" && !kmsKeyPattern.MatchString(c.KMSKeyID):
		return fmt.Errorf("SKILL_SECRET_KMS_KEY_ID=%q: want a KMS key id, key ARN, alias/<name> or alias ARN", c.KMSKeyID)
	case c.KMSKeyID == "" && c.Discovery == contract.DiscoveryVendor:
		return fmt.Errorf("SKILL_SECRET_KMS_KEY_ID is not set: with SKILL_DISCOVERY=vendor the function creates secrets, give the KMS key (id or ARN) to encrypt them with")
	case c.KMSKeyID == "" && c.DeclaredSkillIDs != nil:
		return fmt.Errorf("SKILL_SECRET_KMS_KEY_ID is not set: with SKILL_IDS_FILE the function creates secrets, give the KMS key (id or ARN) to encrypt them with")
	}
	if v := strings.TrimSpace(getenv(contract.EnvRotationDays)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < contract.MinRotationDays || n > contract.MaxRotationDays {
			return fmt.Errorf("SKILL_SECRET_ROTATION_DAYS=%q: want a whole number of days from %d to %d", v, contract.MinRotationDays, contract.MaxRotationDays)
		}
		c.RotationDays = n
	}
	if c.RotationLambdaARN = strings.TrimSpace(getenv(contract.EnvRotationLambdaARN)); c.RotationLambdaARN != "" && !lambdaARNPattern.MatchString(c.RotationLambdaARN) {
		return fmt.Errorf("SKILL_SECRET_ROTATION_LAMBDA_ARN=%q: want a Lambda function ARN", c.RotationLambdaARN)
	}
	return nil
}

// readSkillIDs reads a JSON list of skill ids; a relative path is read
// below taskRoot (LAMBDA_TASK_ROOT, where the function's code is).
func readSkillIDs(file, taskRoot string) ([]string, error) {
	if !strings.HasPrefix(file, "/") && taskRoot != "" {
		file = strings.TrimSuffix(taskRoot, "/") + "/" + file
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("%s is not a JSON list of skill ids: %v", file, err)
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if err := contract.ValidateSkillID(id); err != nil {
			return nil, fmt.Errorf("%s entry %d: %w", file, i, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("%s entry %d: %s is listed twice", file, i, id)
		}
		seen[id] = true
	}
	return ids, nil
}

func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}
