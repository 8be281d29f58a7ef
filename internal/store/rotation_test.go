package store

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestRotationCalls walks the store's part of a rotation against moto:
// describe, read the staged version, put the pending value, promote it.
func TestRotationCalls(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	name := "rotation/" + t.Name()
	create(t, api, name, `{"skillId":"a","clientId":"c","clientSecret":"v1"}`)
	_, v1 := current(t, api, name)

	info, err := s.Describe(ctx, name)
	if err != nil || info.Name != name || !strings.HasPrefix(info.ARN, "arn:aws:secretsmanager:") || info.RotationEnabled {
		t.Fatalf("Describe = %+v, %v; want the name, the ARN, rotation off", info, err)
	}
	if got := info.VersionWithStage(StageCurrent); got != v1 {
		t.Fatalf("VersionWithStage(AWSCURRENT) = %q; want %q", got, v1)
	}
	if got := info.VersionWithStage(StagePending); got != "" {
		t.Fatalf("VersionWithStage(AWSPENDING) = %q; want none", got)
	}
	if _, err := s.Describe(ctx, "rotation/absent"); !IsNotFound(err) || !strings.Contains(err.Error(), "describe secret rotation/absent") {
		t.Fatalf("Describe(absent) = %v; want not found, naming the secret", err)
	}

	const token = "rotation-token-00000000000000000000000001"
	if v, found, err := s.ReadVersion(ctx, info.ARN, token, StagePending); err != nil || found || v != "" {
		t.Fatalf("ReadVersion before PutPending = %q, %v, %v; want not found", v, found, err)
	}
	if err := s.PutPending(ctx, info.ARN, token, `{"skillId":"a","clientId":"c","clientSecret":"v2"}`); err != nil {
		t.Fatal(err)
	}
	if v, found, err := s.ReadVersion(ctx, info.ARN, token, StagePending); err != nil || !found || !strings.Contains(v, `"v2"`) {
		t.Fatalf("ReadVersion(pending) = %q, %v, %v; want v2", v, found, err)
	}
	// Without a version id: the version carrying the stage.
	if v, found, err := s.ReadVersion(ctx, name, "", StageCurrent); err != nil || !found || !strings.Contains(v, `"v1"`) {
		t.Fatalf("ReadVersion(AWSCURRENT) = %q, %v, %v; want v1 while v2 is pending", v, found, err)
	}
	if err := s.PutPending(ctx, "rotation/absent", token, "x"); err == nil || !strings.Contains(err.Error(), "put pending version "+token+" of secret rotation/absent") {
		t.Fatalf("PutPending(absent) = %v; want an error naming the version and the secret", err)
	}

	if err := s.Promote(ctx, info.ARN, token, v1); err != nil {
		t.Fatal(err)
	}
	got, version := current(t, api, name)
	if version != token || !strings.Contains(got, `"v2"`) {
		t.Fatalf("AWSCURRENT after Promote = %s (%s); want v2 (%s)", got, version, token)
	}
	info, err = s.Describe(ctx, name)
	if err != nil || !slices.Contains(info.Stages[v1], "AWSPREVIOUS") {
		t.Fatalf("stages after Promote = %v, %v; want the old version AWSPREVIOUS", info.Stages, err)
	}
	if err := s.Promote(ctx, name, "no-such-version-000000000000000000000001", ""); err == nil || !strings.Contains(err.Error(), "move AWSCURRENT of secret "+name) {
		t.Fatalf("Promote(unknown version) = %v; want an error naming the secret", err)
	}
	// A failed read that is not "no such version" is an error.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, found, err := s.ReadVersion(canceled, name, "", StageCurrent); err == nil || found || !strings.Contains(err.Error(), "read AWSCURRENT version of secret "+name) {
		t.Fatalf("ReadVersion with a canceled context = %v, %v; want an error naming the stage and the secret", found, err)
	}
}

func TestParseSkillSecret(t *testing.T) {
	tests := []struct {
		value, wantErr string
	}{
		{`{"skillId":"a","clientId":"c","clientSecret":"s"}`, ""},
		{`{"skillId":"a"}`, "has no clientId, clientSecret"},
		{`{"skillId":"a","clientId":" ","clientSecret":"s"}`, "has no clientId"},
		{`{"clientId":"c","clientSecret":"s"}`, "has no skillId"},
		{`{"skillId":"a","clientId":"c","clientSecret":""}`, "has no clientSecret"},
		{`not json`, "not a JSON object"},
	}
	for _, tt := range tests {
		got, err := ParseSkillSecret(tt.value)
		if tt.wantErr == "" {
			if err != nil || got.SkillID != "a" || got.ClientID != "c" || got.ClientSecret.Reveal() != "s" {
				t.Errorf("ParseSkillSecret(%s) = %+v, %v", tt.value, got, err)
			}
			continue
		}
		if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
			t.Errorf("ParseSkillSecret(%s) = %v; want an error ending %q", tt.value, err, tt.wantErr)
		}
	}
}

// TestReadVersionOfStaleToken: the version asked for is read, not whichever
// carries the stage now. After a second rotation staged another version,
// the first token's read must not yield the newer pending value (moto
// refuses it with InvalidRequestException; AWS answers that the version has
// no such stage).
func TestReadVersionOfStaleToken(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	name := "rotation/" + t.Name()
	create(t, api, name, `{"v":1}`)
	stale, fresh := "rotation-token-00000000000000000000000001", "rotation-token-00000000000000000000000002"
	if err := s.PutPending(ctx, name, stale, `{"v":2}`); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPending(ctx, name, fresh, `{"v":3}`); err != nil {
		t.Fatal(err)
	}
	if v, found, _ := s.ReadVersion(ctx, name, stale, StagePending); found || v != "" {
		t.Fatalf("ReadVersion(stale token) = %q, found %v; want nothing", v, found)
	}
	if v, found, err := s.ReadVersion(ctx, name, fresh, StagePending); err != nil || !found || v != `{"v":3}` {
		t.Fatalf("ReadVersion(fresh token) = %q, %v, %v; want the pending value", v, found, err)
	}
}
