package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// Skill ids used by the tests: a current and a legacy one.
const (
	testSkillID       = "amzn1.ask.skill.0f9b5e8e-3a51-4d1e-9f0c-6c1d2b3a4e5f"
	testLegacySkillID = "amzn1.echo-sdk-ams.app.12345678-9abc-def0-1234-56789abcdef0"
)

// Reader roles used by the tests, in one account; the second has a path.
const (
	testReaderRole         = "arn:aws:iam::123456789012:role/skill-a"
	testReaderRoleWithPath = "arn:aws:iam::123456789012:role/service-role/skills/skill-b-exec"
)

// cdkJSONContext is the "context" of the repository's cdk.json, so that the
// tests synthesize with the same feature flags and defaults as `cdk synth`.
var cdkJSONContext = sync.OnceValues(func() (map[string]any, error) {
	data, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return doc.Context, nil
})

// newTestApp returns an app whose context is cdk.json's with overrides on top,
// as -c key=value does.
func newTestApp(t *testing.T, overrides map[string]any) awscdk.App {
	t.Helper()
	base, err := cdkJSONContext()
	if err != nil {
		t.Fatalf("read cdk.json: %v", err)
	}
	ctx := maps.Clone(base)
	maps.Copy(ctx, overrides)
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
}

// fakeCodeDir returns a directory holding a stand-in bootstrap with content.
func fakeCodeDir(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// synthesized is one stack's template, as the assertions library and as JSON.
type synthesized struct {
	stack    awscdk.Stack
	template assertions.Template
	json     map[string]any
}

// synth loads the configuration from context like the app does, builds the
// stack with cdk-nag applied, and synthesizes it.
func synth(t *testing.T, overrides map[string]any) *synthesized {
	t.Helper()
	app := newTestApp(t, overrides)
	cfg, err := LoadConfig(app.Node())
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	stack := NewApp(app, cfg, fakeCodeDir(t, "stand-in bootstrap for tests\n"))
	tmpl := templateOf(t, stack)
	return &synthesized{stack: stack, template: tmpl, json: *tmpl.ToJSON()}
}

// templateOf synthesizes stack. Synthesis fails on error annotations, such as
// unsuppressed cdk-nag errors (printed above the failure by the CDK).
func templateOf(t *testing.T, stack awscdk.Stack) (tmpl assertions.Template) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("synthesis failed: %v", r)
		}
	}()
	return assertions.Template_FromStack(stack, nil)
}

// resources returns the template's resources of type typ by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// only returns the logical id and properties of the single resource of typ.
func (s *synthesized) only(t *testing.T, typ string) (string, map[string]any) {
	t.Helper()
	rs := s.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s; want 1 (%v)", len(rs), typ, slices.Sorted(maps.Keys(rs)))
	}
	for id, r := range rs {
		props, _ := r["Properties"].(map[string]any)
		return id, props
	}
	panic("unreachable")
}

// named returns the logical id and properties of the single resource of typ
// whose logical id is prefix followed by the CDK's 8-character hash.
func (s *synthesized) named(t *testing.T, typ, prefix string) (string, map[string]any) {
	t.Helper()
	var ids []string
	for id := range s.resources(typ) {
		if len(id) == len(prefix)+8 && strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d resources of type %s named %s…; want 1 (%v)", len(ids), typ, prefix, slices.Sorted(maps.Keys(s.resources(typ))))
	}
	props, _ := s.resources(typ)[ids[0]]["Properties"].(map[string]any)
	return ids[0], props
}

// outputs returns the template's outputs by logical id.
func (s *synthesized) outputs() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, o := range s.json["Outputs"].(map[string]any) {
		out[id] = o.(map[string]any)
	}
	return out
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// asStrings returns a policy's Action or Resource as a sorted list.
func asStrings(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	default:
		return []any{v}
	}
}

// toJSON renders v for failure messages.
func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
