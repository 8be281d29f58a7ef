// Package store is the Secrets Manager seam: it lists the skill secrets under
// a prefix, reads the LWA secret and a skill secret's AWSCURRENT version,
// writes new versions only when the value changed, idempotently, and creates
// the secrets of skills that have none (create.go).
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// API is the part of the Secrets Manager client the store uses.
// *secretsmanager.Client implements it.
type API interface {
	ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	BatchGetSecretValue(context.Context, *secretsmanager.BatchGetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	RotateSecret(context.Context, *secretsmanager.RotateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error)
}

// StageCurrent is the staging label of a secret's live version. Reads always
// name it: moto answers a read without a stage with the newest version, which
// may be AWSPENDING.
const StageCurrent = "AWSCURRENT"

// StagePending is the staging label of the version a rotation prepares.
const StagePending = "AWSPENDING"

// Store reads and writes the product's secrets. It is safe for concurrent use.
type Store struct {
	api API
}

// New returns a Store over api.
func New(api API) *Store { return &Store{api: api} }

// SkillSecretRef is a skill secret found under the prefix.
type SkillSecretRef struct {
	// Name is the secret's full name, <prefix><skillID>.
	Name string
	// SkillID is the name without the prefix. It is not validated here.
	SkillID string
	// RotationEnabled says whether the secret has a rotation schedule.
	RotationEnabled bool
	// Managed says whether the secret carries contract.ManagedTagKey=true (the
	// function created it).
	Managed bool
}

// ListSkillSecrets returns the secrets whose names start with prefix (exact,
// case-sensitive), sorted by name, reading every page.
func (s *Store) ListSkillSecrets(ctx context.Context, prefix string) ([]SkillSecretRef, error) {
	if prefix == "" {
		return nil, errors.New("list skill secrets: empty prefix")
	}
	p := secretsmanager.NewListSecretsPaginator(s.api, &secretsmanager.ListSecretsInput{
		// The service filter is a case-insensitive prefix match; the exact
		// check below is what counts.
		Filters:    []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}},
		MaxResults: aws.Int32(100),
	})
	var refs []SkillSecretRef
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list skill secrets under %q: %w", prefix, err)
		}
		for _, e := range page.SecretList {
			name := aws.ToString(e.Name)
			if id, ok := strings.CutPrefix(name, prefix); ok && id != "" {
				refs = append(refs, SkillSecretRef{Name: name, SkillID: id, RotationEnabled: aws.ToBool(e.RotationEnabled), Managed: managed(e.Tags)})
			}
		}
	}
	// <= is equivalent: secret names are unique, so the order is the same.
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
	return refs, nil
}

func managed(tags []types.Tag) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == contract.ManagedTagKey && aws.ToString(t.Value) == "true" {
			return true
		}
	}
	return false
}

// LWASecret is the LWA secret's current version.
type LWASecret struct {
	ID           string
	VersionID    string
	ClientID     string
	ClientSecret secret.Value
	RefreshToken secret.Value
	// ResumeAt is the ResumeKey of the secret: the skill the next run over
	// every skill starts with; "" when the key is absent or not a string.
	ResumeAt string
	// Warnings says what ReadLWA repaired or ignored in the value, by key,
	// never quoting a value.
	Warnings []LWAWarning
	// fields keeps every key, those an operator added included.
	fields map[string]json.RawMessage
}

// LWAWarning is a slip in the LWA secret that ReadLWA repaired or ignored.
type LWAWarning struct {
	// Key is the secret's key, such as clientSecret.
	Key string
	// Problem says what was wrong and what was done; it holds no value.
	Problem string
}

// ResumeKey is the key of the LWA secret where a run over every skill that
// ran out of time leaves the skill the next one starts with (see
// SaveResumeAt). The function reads it with the credentials, at no extra
// call.
const ResumeKey = "syncResumeAt"

// Format implements fmt.Formatter: an LWASecret prints its id, version and
// client id, and masks the rest, whatever the verb. (fmt would print the
// raw JSON of every key, secrets included, as bytes.)
func (l LWASecret) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "store.LWASecret{ID: %s, VersionID: %s, ClientID: %s, ClientSecret: %s, RefreshToken: %s}",
		l.ID, l.VersionID, l.ClientID, secret.Mask, secret.Mask)
}

// LogValue implements slog.LogValuer with what Format prints.
func (l LWASecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", l.ID), slog.String("versionId", l.VersionID), slog.String("clientId", l.ClientID),
		slog.String("clientSecret", secret.Mask), slog.String("refreshToken", secret.Mask))
}

// ErrLWANotConfigured says the LWA secret does not hold usable credentials
// yet (for example the placeholder the stack creates).
var ErrLWANotConfigured = errors.New("LWA secret is not filled in")

// ReadLWA reads the AWSCURRENT version of the LWA secret id (name or ARN).
func (s *Store) ReadLWA(ctx context.Context, id string) (*LWASecret, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id, VersionStage: aws.String(StageCurrent)})
	if err != nil {
		return nil, fmt.Errorf("read LWA secret %s: %w", id, err)
	}
	l := &LWASecret{ID: id, VersionID: aws.ToString(out.VersionId)}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &l.fields); err != nil || l.fields == nil {
		return nil, fmt.Errorf("read LWA secret %s: %w: the value is not a JSON object with clientId, clientSecret and refreshToken", id, ErrLWANotConfigured)
	}
	var missing []string
	// A pasted newline or space around a value is a common slip: LWA would
	// refuse the value with it, so it is removed, and named.
	get := func(key string) string {
		var v string
		if json.Unmarshal(l.fields[key], &v) != nil || strings.TrimSpace(v) == "" {
			missing = append(missing, key)
		}
		if t := strings.TrimSpace(v); t != v && t != "" {
			l.Warnings = append(l.Warnings, LWAWarning{Key: key, Problem: "whitespace around the value removed before use; remove it from the secret"})
			v = t
		}
		return v
	}
	l.ClientID = get("clientId")
	l.ClientSecret = secret.Value(get("clientSecret"))
	l.RefreshToken = secret.Value(get("refreshToken"))
	if len(missing) > 0 {
		return nil, fmt.Errorf("read LWA secret %s: %w: %s empty or missing; put the LWA client id, client secret and a refresh token with the alexa::ask:skills:readwrite scope in it (make fill-lwa-secret, docs/deploy.md#fill-the-lwa-secret)",
			id, ErrLWANotConfigured, strings.Join(missing, ", "))
	}
	if raw, ok := l.fields[ResumeKey]; ok && json.Unmarshal(raw, &l.ResumeAt) != nil {
		l.Warnings = append(l.Warnings, LWAWarning{Key: ResumeKey, Problem: "not a string; ignored"})
	}
	return l, nil
}

// SaveRefreshToken writes a new version of the LWA secret with refreshToken
// replaced and every other key kept.
func (s *Store) SaveRefreshToken(ctx context.Context, l *LWASecret, refreshToken secret.Value) error {
	fields := make(map[string]json.RawMessage, len(l.fields))
	for k, v := range l.fields {
		fields[k] = v
	}
	raw, err := json.Marshal(refreshToken.Reveal())
	if err != nil {
		return err
	}
	fields["refreshToken"] = raw
	value, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	if err := s.put(ctx, l.ID, l.VersionID, string(value)); err != nil {
		return fmt.Errorf("save rotated refresh token to LWA secret %s: %w", l.ID, err)
	}
	return nil
}

// SaveResumeAt sets the ResumeKey of the LWA secret id to skillID, or removes
// the key when skillID is "", keeping every other key. It reads the secret's
// AWSCURRENT version again first, so that a change made since the run read
// it (by the operator, or a rotated refresh token saved by another
// invocation) is kept, and writes a new version only when the key changes.
// It reports whether it wrote one. A value that is not a JSON object is left
// as it is.
func (s *Store) SaveResumeAt(ctx context.Context, id, skillID string) (bool, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id, VersionStage: aws.String(StageCurrent)})
	if err != nil {
		return false, fmt.Errorf("save %s to LWA secret %s: %w", ResumeKey, id, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &fields); err != nil || fields == nil {
		return false, fmt.Errorf("save %s to LWA secret %s: the value is no longer a JSON object; left as it is", ResumeKey, id)
	}
	raw, had := fields[ResumeKey]
	var cur string
	if had && json.Unmarshal(raw, &cur) == nil && cur == skillID && skillID != "" {
		return false, nil
	}
	if !had && skillID == "" {
		return false, nil
	}
	delete(fields, ResumeKey)
	if skillID != "" {
		fields[ResumeKey], _ = json.Marshal(skillID)
	}
	value, err := json.Marshal(fields)
	if err != nil {
		return false, err
	}
	if err := s.put(ctx, id, aws.ToString(out.VersionId), string(value)); err != nil {
		return false, fmt.Errorf("save %s to LWA secret %s: %w", ResumeKey, id, err)
	}
	return true, nil
}

// SkillSecret is the value of a skill secret.
type SkillSecret struct {
	SkillID      string
	ClientID     string
	ClientSecret secret.Value
}

// Value returns the secret's value: exactly the three keys of the contract,
// in a fixed order, so equal credentials give an identical value.
func (v SkillSecret) Value() string {
	b, _ := json.Marshal(struct {
		SkillID      string `json:"skillId"`
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}{v.SkillID, v.ClientID, v.ClientSecret.Reveal()})
	return string(b)
}

// WriteSkill stores v in the secret name unless its AWSCURRENT version holds
// the same value already. It reports whether a new version was written.
func (s *Store) WriteSkill(ctx context.Context, name string, v SkillSecret) (bool, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: aws.String(StageCurrent)})
	if err != nil {
		return false, fmt.Errorf("read skill secret %s: %w", name, err)
	}
	value := v.Value()
	if aws.ToString(out.SecretString) == value {
		return false, nil
	}
	if err := s.put(ctx, name, aws.ToString(out.VersionId), value); err != nil {
		return false, fmt.Errorf("write skill secret %s: %w", name, err)
	}
	return true, nil
}

// put writes value as the new AWSCURRENT version of id. The request token is
// derived from the value and the version it replaces, so a retried write is
// idempotent while a return to an earlier value still makes a new version.
func (s *Store) put(ctx context.Context, id, currentVersion, value string) error {
	_, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           &id,
		SecretString:       &value,
		ClientRequestToken: aws.String(RequestToken(currentVersion, value)),
	})
	return err
}

// RequestToken derives a PutSecretValue ClientRequestToken (64 hex digits)
// from the version being replaced and the new value. It is a one-way hash.
func RequestToken(currentVersion, value string) string {
	h := sha256.New()
	h.Write([]byte(currentVersion))
	h.Write([]byte{0})
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil))
}

// IsNotFound reports whether err is Secrets Manager's ResourceNotFoundException.
// A per-secret error of a batch read with that code counts too.
func IsNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	var se *SecretError
	return errors.As(err, &nf) || (errors.As(err, &se) && se.Code == "ResourceNotFoundException")
}
