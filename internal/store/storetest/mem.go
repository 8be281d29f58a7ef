// Package storetest is an in-memory implementation of store.API, for
// benchmarks that should measure the sync, not a Secrets Manager server,
// with Secrets Manager's request quotas enforced when asked (SetQuotas).
// Functional tests use moto's server instead.
package storetest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Mem keeps each secret's AWSCURRENT value and counts versions. It is safe
// for concurrent use.
type Mem struct {
	mu       sync.Mutex
	current  map[string]string
	version  map[string]int
	tags     map[string][]types.Tag
	rotation map[string]bool
	calls    map[string]int
	quota    *Quota
}

// NewMem returns an empty store.
func NewMem() *Mem {
	return &Mem{current: map[string]string{}, version: map[string]int{}, tags: map[string][]types.Tag{}, rotation: map[string]bool{}, calls: map[string]int{}}
}

// SetQuotas makes m refuse, as Secrets Manager does, the calls beyond q
// (see Quota and ThrottlingError). Call it before m is used.
func (m *Mem) SetQuotas(q store.Quotas) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quota = NewQuota(q)
}

// Throttled returns how many calls of each operation were refused for their
// quota.
func (m *Mem) Throttled() map[string]int {
	m.mu.Lock()
	q := m.quota
	m.mu.Unlock()
	if q == nil {
		return map[string]int{}
	}
	return q.Throttled()
}

// admitLocked counts a call of op and refuses it when its quota is used up.
func (m *Mem) admitLocked(op string) error {
	m.calls[op]++
	if m.quota != nil && !m.quota.Allow(op) {
		return ThrottlingError(op)
	}
	return nil
}

// Calls returns how many calls of each operation were made since the last
// Calls, and starts counting again.
func (m *Mem) Calls() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = map[string]int{}
	return c
}

// CreateSecret implements store.API: the value becomes the first version.
func (m *Mem) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("CreateSecret"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if _, ok := m.current[name]; ok {
		return nil, &types.ResourceExistsException{Message: aws.String("The operation failed because the secret " + name + " already exists.")}
	}
	m.current[name] = aws.ToString(in.SecretString)
	m.version[name] = 1
	m.tags[name] = in.Tags
	return &secretsmanager.CreateSecretOutput{Name: &name, VersionId: aws.String("v1")}, nil
}

// RotateSecret implements store.API by recording the schedule; it does not
// rotate.
func (m *Mem) RotateSecret(_ context.Context, in *secretsmanager.RotateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("RotateSecret"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.SecretId)
	if _, ok := m.current[name]; !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	m.rotation[name] = true
	return &secretsmanager.RotateSecretOutput{Name: &name}, nil
}

// Create adds a secret with its first version.
func (m *Mem) Create(name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current[name] = value
	m.version[name] = 1
}

// Versions returns how many versions name has.
func (m *Mem) Versions(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version[name]
}

// ListSecrets implements store.API with a name prefix filter and pages.
func (m *Mem) ListSecrets(_ context.Context, in *secretsmanager.ListSecretsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("ListSecrets"); err != nil {
		return nil, err
	}
	names, next := m.pageLocked(in.Filters, in.NextToken, in.MaxResults, 100)
	out := &secretsmanager.ListSecretsOutput{NextToken: next}
	for _, n := range names {
		out.SecretList = append(out.SecretList, types.SecretListEntry{Name: aws.String(n), Tags: m.tags[n], RotationEnabled: aws.Bool(m.rotation[n])})
	}
	return out, nil
}

// BatchGetSecretValue implements store.API: a name prefix filter with pages,
// or an id list (a missing secret is a per-secret error); every value is
// AWSCURRENT.
func (m *Mem) BatchGetSecretValue(_ context.Context, in *secretsmanager.BatchGetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("BatchGetSecretValue"); err != nil {
		return nil, err
	}
	out := &secretsmanager.BatchGetSecretValueOutput{}
	names := in.SecretIdList
	if len(names) == 0 {
		names, out.NextToken = m.pageLocked(in.Filters, in.NextToken, in.MaxResults, 20)
	}
	for _, n := range names {
		v, ok := m.current[n]
		if !ok {
			out.Errors = append(out.Errors, types.APIErrorType{SecretId: aws.String(n), ErrorCode: aws.String("ResourceNotFoundException"),
				Message: aws.String("Secrets Manager can't find the specified secret.")})
			continue
		}
		out.SecretValues = append(out.SecretValues, types.SecretValueEntry{Name: aws.String(n), SecretString: aws.String(v),
			VersionId: aws.String(fmt.Sprintf("v%d", m.version[n])), VersionStages: []string{"AWSCURRENT"}})
	}
	return out, nil
}

// pageLocked returns one page of the names matching the name filter
// (case-sensitive prefix), sorted, and the next page's token.
func (m *Mem) pageLocked(filters []types.Filter, token *string, maxResults *int32, defaultSize int) ([]string, *string) {
	prefix := ""
	for _, f := range filters {
		if f.Key == types.FilterNameStringTypeName && len(f.Values) > 0 {
			prefix = f.Values[0]
		}
	}
	var names []string
	for n := range m.current {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	start, _ := strconv.Atoi(aws.ToString(token))
	size := int(aws.ToInt32(maxResults))
	if size <= 0 {
		size = defaultSize
	}
	end := min(start+size, len(names))
	if end < len(names) {
		return names[start:end], aws.String(strconv.Itoa(end))
	}
	return names[min(start, end):end], nil
}

// GetSecretValue implements store.API for the AWSCURRENT stage.
func (m *Mem) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("GetSecretValue"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.SecretId)
	v, ok := m.current[name]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{Name: &name, SecretString: aws.String(v), VersionId: aws.String(fmt.Sprintf("v%d", m.version[name]))}, nil
}

// PutSecretValue implements store.API: the value becomes AWSCURRENT.
func (m *Mem) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("PutSecretValue"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.SecretId)
	if _, ok := m.current[name]; !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	m.current[name] = aws.ToString(in.SecretString)
	m.version[name]++
	return &secretsmanager.PutSecretValueOutput{Name: &name, VersionId: aws.String(fmt.Sprintf("v%d", m.version[name]))}, nil
}

// DescribeSecret implements store.API: the name and the AWSCURRENT version.
// The in-memory store has no rotation.
func (m *Mem) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked("DescribeSecret"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.SecretId)
	if _, ok := m.current[name]; !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.DescribeSecretOutput{Name: &name, VersionIdsToStages: map[string][]string{fmt.Sprintf("v%d", m.version[name]): {"AWSCURRENT"}}}, nil
}

// UpdateSecretVersionStage implements store.API by refusing: the in-memory
// store has no staged versions. Rotation is tested against moto.
func (m *Mem) UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return nil, fmt.Errorf("storetest.Mem: UpdateSecretVersionStage is not supported; use moto for rotation")
}
