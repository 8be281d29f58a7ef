package main

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// TestBuildFunction builds the real ./lambda as the stack does and checks
// that the result is a Linux arm64 executable and that building again gives
// the same bytes (so an unchanged tree keeps the same asset hash).
func TestBuildFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Lambda function")
	}
	ctx := context.Background()
	root, err := ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := BuildFunction(ctx, root, functionPackage, dir); err != nil {
			t.Fatal(err)
		}
	}
	binA, binB := readFile(t, filepath.Join(a, "bootstrap")), readFile(t, filepath.Join(b, "bootstrap"))
	if !bytes.Equal(binA, binB) {
		t.Error("two builds of an unchanged tree differ; the asset hash would change on every synth")
	}
	f, err := elf.NewFile(bytes.NewReader(binA))
	if err != nil {
		t.Fatalf("bootstrap is not ELF: %v", err)
	}
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v; want an EM_AARCH64 ET_EXEC", f.Machine, f.Type)
	}
	if fi, err := os.Stat(filepath.Join(a, "bootstrap")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bootstrap mode = %v, %v; want 0755", fi.Mode(), err)
	}
	entries, err := os.ReadDir(a)
	if err != nil || len(entries) != 1 {
		t.Errorf("code directory holds %d entries (%v); want only bootstrap", len(entries), err)
	}
}

// TestBuildFunctionTracksSources builds a small module whose main package
// imports another package and checks that the binary (and so the asset
// hash, see TestAssetHash) changes when only that package changes, and
// comes back when the change is undone: the build is a function of the
// sources, not of time, paths or the VCS state.
func TestBuildFunctionTracksSources(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	mod := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/fn\n\ngo 1.22\n")
	write("lambda/main.go", "package main\n\nimport \"example.com/fn/internal/greet\"\n\nfunc main() { println(greet.Hello()) }\n")
	write("internal/greet/greet.go", "package greet\n\nfunc Hello() string { return \"hello\" }\n")

	build := func() []byte {
		t.Helper()
		dir := t.TempDir()
		if err := BuildFunction(context.Background(), mod, functionPackage, dir); err != nil {
			t.Fatal(err)
		}
		return readFile(t, filepath.Join(dir, "bootstrap"))
	}
	v1 := build()
	write("internal/greet/greet.go", "package greet\n\nfunc Hello() string { return \"hello, world\" }\n")
	v2 := build()
	write("internal/greet/greet.go", "package greet\n\nfunc Hello() string { return \"hello\" }\n")
	v3 := build()
	if bytes.Equal(v1, v2) {
		t.Error("changing an imported package did not change the binary")
	}
	if !bytes.Equal(v1, v3) {
		t.Error("undoing the change did not restore the binary")
	}

	write("lambda/main.go", "package main\n\nfunc main() { undefined() }\n")
	if err := BuildFunction(context.Background(), mod, functionPackage, t.TempDir()); err == nil {
		t.Error("BuildFunction of a broken package = nil; want the compiler's error")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
