package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/permcheck"
)

// TestReaderRefresh checks the context key readerRefresh: off (the default)
// no reader policy names RotateSecret or Lambda; on, each reader policy
// gains exactly RotateSecret on the secrets it reads and
// lambda:InvokeFunction on the sync function (the rotation function), and
// nothing else in the stack's IAM changes. permcheck.CheckReader then proves
// the least privilege of the synthesized readers.
func TestReaderRefresh(t *testing.T) {
	plain := policyFileOf(t, policyFileContext)
	ctx := maps.Clone(policyFileContext)
	ctx[ctxReaderRefresh] = true
	refresh := policyFileOf(t, ctx)

	if doc := toJSON(plain.Readers); strings.Contains(doc, "RotateSecret") || strings.Contains(doc, "lambda:") {
		t.Errorf("default reader policies name RotateSecret or Lambda: %s", doc)
	}
	a, b := plain, refresh
	a.Readers, b.Readers = nil, nil
	if x, y := toJSON(a), toJSON(b); x != y {
		t.Errorf("readerRefresh changes more than the reader policies:\n%s", firstDifference([]byte(x), []byte(y)))
	}
	if len(refresh.Readers) != len(plain.Readers) || len(plain.Readers) == 0 {
		t.Fatalf("%d readers with readerRefresh, %d without; want the same, more than 0", len(refresh.Readers), len(plain.Readers))
	}
	for i, r := range refresh.Readers {
		got := statements(t, r.Policies)
		want := statements(t, plain.Readers[i].Policies)
		var read any
		for _, st := range want {
			if st["Sid"] == "ReadSkillSecrets" {
				read = st["Resource"]
			}
		}
		want = append(want,
			map[string]any{"Sid": "RotateSkillSecrets", "Effect": "Allow", "Action": "secretsmanager:RotateSecret", "Resource": read},
			map[string]any{"Sid": "InvokeRotationFunction", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": refresh.Function.FunctionARN})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("reader %s statements = %s; want %s", r.RoleARN, toJSON(got), toJSON(want))
		}
	}

	// The least-privilege check of internal/testsupport/permcheck on the synthesized
	// readers, with and without the key.
	for name, f := range map[string]stackPolicies{"default": plain, "readerRefresh": refresh} {
		// The reader check does not look at the discovery function, which
		// permcheck.Load requires: the plain function stands in.
		f.DiscoveryFunction = f.Function
		path := filepath.Join(t.TempDir(), "policies.json")
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := permcheck.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Readers {
			if problems := s.CheckReader(p); len(problems) > 0 {
				t.Errorf("%s: reader %s:\n%s", name, p.RoleARN, strings.Join(problems, "\n"))
			}
		}
	}
}

// statements returns the statements of a reader's policies.
func statements(t *testing.T, policies []namedPolicy) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range policies {
		var doc struct {
			Statement []map[string]any
		}
		if err := json.Unmarshal([]byte(toJSON(p.Document)), &doc); err != nil {
			t.Fatal(err)
		}
		out = append(out, doc.Statement...)
	}
	return out
}
