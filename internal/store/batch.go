package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/secret"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// BatchSize is how many secrets one BatchGetSecretValue call reads at most
// (the API's limit).
const BatchSize = 20

// SkillValue is a skill secret's AWSCURRENT version as ReadSkills found it,
// or the error that kept it from being read.
type SkillValue struct {
	SkillSecretRef
	// VersionID is the AWSCURRENT version's id.
	VersionID string
	// Value is the AWSCURRENT value; it holds the client secret.
	Value secret.Value
	// Err is why this one secret could not be read (a per-secret error of
	// the batch answer, or a failed re-read); the fields above but Name and
	// SkillID are empty then. IsNotFound tells a missing secret.
	Err error
}

// SecretError is a per-secret error of a BatchGetSecretValue answer.
type SecretError struct {
	// SecretID is the name or ARN the answer gave.
	SecretID string
	// Code is the service's error code (ResourceNotFoundException,
	// DecryptionFailure, AccessDeniedException, …).
	Code    string
	Message string
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("BatchGetSecretValue: %s: %s", e.Code, e.Message)
}

// ReadSkills reads the AWSCURRENT values of the skill secrets whose names
// start with prefix (exact, case-sensitive), or, when ids is not empty, of
// the secrets <prefix><id> for each of ids. It calls BatchGetSecretValue, 20
// secrets a call (paginated by a name filter, or by chunks of the id list),
// and hands each answer's secrets to fn as soon as that answer is read, so
// their work can start while later pages are read. fn is called from the
// calling goroutine, one page at a time; a page may be empty.
//
// A secret whose version stages in the answer lack AWSCURRENT is read again
// by stage (AWS answers a batch read with AWSCURRENT, moto with the newest
// version, which may be AWSPENDING during a rotation). Per-secret errors are
// handed to fn in SkillValue.Err; for ids, a secret that does not exist comes
// back that way (IsNotFound). The returned error is a failed call, which
// stops the reading: the pages handed to fn before it stay handed.
func (s *Store) ReadSkills(ctx context.Context, prefix string, ids []string, fn func([]SkillValue)) error {
	if prefix == "" {
		return errors.New("read skill secrets: empty prefix")
	}
	if len(ids) == 0 {
		// The service's name filter is a case-insensitive prefix match;
		// page() keeps only the exact, case-sensitive matches.
		p := secretsmanager.NewBatchGetSecretValuePaginator(s.api, &secretsmanager.BatchGetSecretValueInput{
			Filters:    []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}},
			MaxResults: aws.Int32(BatchSize),
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("read skill secrets under %q: %w", prefix, err)
			}
			fn(s.page(ctx, prefix, nil, out))
		}
		return nil
	}
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if n := prefix + id; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for chunk := range slices.Chunk(names, BatchSize) {
		out, err := s.api.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: chunk})
		if err != nil {
			return fmt.Errorf("read skill secrets %s: %w", strings.Join(chunk, ", "), err)
		}
		fn(s.page(ctx, prefix, chunk, out))
	}
	return nil
}

// page turns one answer into SkillValues: only names under prefix (and, for
// an id list, only the names asked for), each error reported for its secret.
func (s *Store) page(ctx context.Context, prefix string, asked []string, out *secretsmanager.BatchGetSecretValueOutput) []SkillValue {
	ref := func(name string) (SkillSecretRef, bool) {
		id, ok := strings.CutPrefix(name, prefix)
		if !ok || id == "" || (asked != nil && !slices.Contains(asked, name)) {
			return SkillSecretRef{}, false
		}
		return SkillSecretRef{Name: name, SkillID: id}, true
	}
	var vals []SkillValue
	for _, e := range out.SecretValues {
		r, ok := ref(aws.ToString(e.Name))
		if !ok {
			continue
		}
		v := SkillValue{SkillSecretRef: r, VersionID: aws.ToString(e.VersionId), Value: secret.Value(aws.ToString(e.SecretString))}
		if !slices.Contains(e.VersionStages, StageCurrent) {
			v = s.readCurrent(ctx, r)
		}
		vals = append(vals, v)
	}
	for _, e := range out.Errors {
		r, ok := ref(secretName(aws.ToString(e.SecretId)))
		if !ok {
			continue
		}
		err := &SecretError{SecretID: aws.ToString(e.SecretId), Code: aws.ToString(e.ErrorCode), Message: aws.ToString(e.Message)}
		vals = append(vals, SkillValue{SkillSecretRef: r, Err: fmt.Errorf("read skill secret %s: %w", r.Name, err)})
	}
	return vals
}

// readCurrent reads one secret's AWSCURRENT version by stage.
func (s *Store) readCurrent(ctx context.Context, r SkillSecretRef) SkillValue {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &r.Name, VersionStage: aws.String(StageCurrent)})
	if err != nil {
		return SkillValue{SkillSecretRef: r, Err: fmt.Errorf("read skill secret %s: %w", r.Name, err)}
	}
	return SkillValue{SkillSecretRef: r, VersionID: aws.ToString(out.VersionId), Value: secret.Value(aws.ToString(out.SecretString))}
}

// secretName returns the name in a secret's ARN
// (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>),
// or id itself when it is not an ARN.
func secretName(id string) string {
	if !strings.HasPrefix(id, "arn:") {
		return id
	}
	parts := strings.SplitN(id, ":", 7)
	if len(parts) != 7 || parts[5] != "secret" {
		return id
	}
	name := parts[6]
	// i > 0 is equivalent: a secret name is never empty, so its ARN's
	// -xxxxxx suffix never starts at byte 0.
	if i := strings.LastIndexByte(name, '-'); i >= 0 && len(name)-i == 7 {
		name = name[:i]
	}
	return name
}

// ReplaceSkill writes v as the new AWSCURRENT version of the secret cur was
// read from, unless cur's value equals it already. It reports whether a new
// version was written. The request token is derived from cur's version, as
// in WriteSkill.
func (s *Store) ReplaceSkill(ctx context.Context, cur SkillValue, v SkillSecret) (bool, error) {
	value := v.Value()
	if cur.Value.Reveal() == value {
		return false, nil
	}
	if err := s.put(ctx, cur.Name, cur.VersionID, value); err != nil {
		return false, fmt.Errorf("write skill secret %s: %w", cur.Name, err)
	}
	return true, nil
}
