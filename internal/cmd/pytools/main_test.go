package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRequirements(t *testing.T) {
	tests := []struct {
		name, in string
		want     []pin
		wantErr  string
	}{
		{"pins, extras, comments", "# tools\nmoto[server]==5.2.1\n\nboto3==1.43.11  # the SDK\ncfn-lint==1.51.0\n",
			[]pin{{"moto", []string{"server"}, "5.2.1"}, {"boto3", nil, "1.43.11"}, {"cfn-lint", nil, "1.51.0"}}, ""},
		{"two extras", "moto[server, all]==5.2.1", []pin{{"moto", []string{"server", "all"}, "5.2.1"}}, ""},
		{"a range", "moto>=5", nil, `line 1: "moto>=5" is not name==version`},
		{"an option", "--index-url https://example.com/simple\nmoto==5.2.1", nil, `line 1: "--index-url https://example.com/simple" is not name==version`},
		{"no version", "boto3", nil, `line 1: "boto3" is not name==version`},
		{"empty", "# nothing\n", nil, "no pins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequirements(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseRequirements(%q) error = %v; want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseRequirements(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestRepositoryPins reads the repository's requirements-dev.txt: the
// versions the README names.
func TestRepositoryPins(t *testing.T) {
	f, err := os.Open("../../../requirements-dev.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseRequirements(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []pin{{"moto", []string{"server"}, "5.2.1"}, {"boto3", nil, "1.43.11"}, {"cfn-lint", nil, "1.51.0"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requirements-dev.txt pins %v; want %v", got, want)
	}
}

// TestThisMachine surveys the real tools, as make does (the repository's
// .venv/bin first on PATH), in dry-run mode: make test has just made them
// available, so they must be found at the pinned versions. This proves the
// checks read real installations of moto, boto3 and cfn-lint right.
func TestThisMachine(t *testing.T) {
	venv, _ := filepath.Abs("../../../.venv")
	var out strings.Builder
	tl := &tools{requirements: "../../../requirements-dev.txt", venv: venv, dryRun: true, out: &out,
		path: filepath.Join(venv, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")}
	if err := tl.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "python tools: the versions of ../../../requirements-dev.txt, from PATH:\n") {
		t.Fatalf("the pinned tools are not found on this machine (run make python-tools):\n%s", out.String())
	}
}

// pinned is the requirements file of the stand-in tests.
const pinned = "moto[server]==5.2.1\nboto3==1.43.11\ncfn-lint==1.51.0\n"

// fakePython writes a stand-in python3 into dir that answers the metadata
// script with dir/metadata.json, creates a virtual environment (a copy of
// itself in <venv>/bin) for -m venv, and for -m pip install writes the
// pinned tools beside itself, or fails when work/pip-fails exists. Every
// call is appended to work/calls.
func fakePython(t *testing.T, work, dir string) {
	t.Helper()
	script := `#!/bin/sh
here=$(dirname "$0")
echo "$0 $1 $2" >> "` + work + `/calls"
case "$1 $2" in
  "-c "*) cat "$here/metadata.json" 2>/dev/null || echo '{"moto": null, "boto3": null, "cfn-lint": null}' ;;
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python3" ;;
  "-m pip")
    if [ -e "` + work + `/pip-fails" ]; then echo "ERROR: Could not find a version that satisfies the requirement moto==5.2.1" >&2; exit 1; fi
    echo '{"moto": "5.2.1", "boto3": "1.43.11", "cfn-lint": "1.51.0"}' > "$here/metadata.json"
    printf '#!/bin/sh\nexit 0\n' > "$here/moto_server"
    printf '#!/bin/sh\necho cfn-lint 1.51.0\n' > "$here/cfn-lint"
    chmod +x "$here/moto_server" "$here/cfn-lint" ;;
  *) echo "unexpected: python3 $*" >&2; exit 2 ;;
esac
`
	writeExec(t, filepath.Join(dir, "python3"), script)
}

func writeExec(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// system describes the tools of the stand-in machine: "" leaves a program
// out; moto_server works unless motoBroken.
type system struct {
	moto, boto3, cfnLint string
	motoServer           bool
	motoBroken           bool
	cfnLintPrints        string
}

func (s system) install(t *testing.T, work, dir string) {
	fakePython(t, work, dir)
	meta := map[string]any{"moto": nil, "boto3": nil, "cfn-lint": nil}
	for k, v := range map[string]string{"moto": s.moto, "boto3": s.boto3, "cfn-lint": s.cfnLint} {
		if v != "" {
			meta[k] = v
		}
	}
	b, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if s.motoServer {
		code := "0"
		if s.motoBroken {
			code = "1"
		}
		writeExec(t, filepath.Join(dir, "moto_server"), "#!/bin/sh\n[ "+code+" = 0 ] || echo \"ModuleNotFoundError: No module named 'flask'\" >&2\nexit "+code+"\n")
	}
	if s.cfnLintPrints != "" {
		writeExec(t, filepath.Join(dir, "cfn-lint"), "#!/bin/sh\necho "+s.cfnLintPrints+"\n")
	}
}

var pinnedSystem = system{moto: "5.2.1", boto3: "1.43.11", cfnLint: "1.51.0", motoServer: true, cfnLintPrints: "cfn-lint 1.51.0"}

func TestEnsure(t *testing.T) {
	tests := []struct {
		name    string
		sys     system
		venv    string // "", "ours-stale" or "foreign"
		pipFail bool
		dryRun  bool
		want    []string // lines of the output, in order
		wantErr []string
		// wantVenv: the virtual environment exists afterwards, with the
		// pinned tools.
		wantVenv bool
	}{
		{name: "pinned tools on PATH", sys: pinnedSystem,
			want: []string{"python tools: the versions of requirements-dev.txt, from PATH:", "  moto[server]==5.2.1    ok (SYS/moto_server)",
				"  boto3==1.43.11         ok (SYS/python3)", "  cfn-lint==1.51.0       ok (SYS/cfn-lint)"}},
		{name: "another moto", sys: func() system { s := pinnedSystem; s.moto = "5.1.0"; return s }(),
			want: []string{"python tools: PATH does not have the versions of requirements-dev.txt:", "  moto[server]==5.2.1    version 5.1.0 for python3 (SYS/python3)",
				"python tools: installing requirements-dev.txt into VENV (pip, from PyPI)", "  moto[server]==5.2.1    ok (VENV/bin/moto_server)", "python tools: installed in VENV"},
			wantVenv: true},
		{name: "nothing installed", sys: system{},
			want: []string{"  moto[server]==5.2.1    not installed for python3 (SYS/python3); moto_server not found on PATH", "  boto3==1.43.11         not installed for python3 (SYS/python3)",
				"  cfn-lint==1.51.0       not installed for python3 (SYS/python3); cfn-lint not found on PATH", "python tools: installed in VENV"},
			wantVenv: true},
		{name: "moto without its server extra", sys: func() system { s := pinnedSystem; s.motoBroken = true; return s }(),
			want:     []string{"  moto[server]==5.2.1    moto_server -h: exit status 1 ModuleNotFoundError: No module named 'flask'", "python tools: installed in VENV"},
			wantVenv: true},
		{name: "cfn-lint of another Python", sys: func() system { s := pinnedSystem; s.cfnLintPrints = "cfn-lint 0.87.1"; return s }(),
			want:     []string{`  cfn-lint==1.51.0       cfn-lint --version printed "cfn-lint 0.87.1"`, "python tools: installed in VENV"},
			wantVenv: true},
		{name: "PyPI unreachable", sys: system{}, pipFail: true,
			want:    []string{"ERROR: Could not find a version that satisfies the requirement moto==5.2.1"},
			wantErr: []string{"VENV/bin/python3 -m pip install --disable-pip-version-check --no-input -r requirements-dev.txt: exit status 1", "pip needs PyPI (or a mirror: PIP_INDEX_URL", "python3 -m pip install -r requirements-dev.txt"}},
		{name: "dry run", sys: system{}, dryRun: true,
			want: []string{"python tools: would create VENV with python3 -m venv and install requirements-dev.txt into it with pip"}},
		{name: "our venv out of date, PATH has them", sys: pinnedSystem, venv: "ours-stale",
			want: []string{"  moto[server]==5.2.1    version 5.1.0 for python3 (VENV/bin/python3)", "python tools: removing VENV (created by pytools, out of date)",
				"python tools: the versions of requirements-dev.txt, from PATH without VENV:", "  moto[server]==5.2.1    ok (SYS/moto_server)"}},
		{name: "our venv out of date, PATH lacks them", sys: system{}, venv: "ours-stale",
			want:     []string{"python tools: removing VENV (created by pytools, out of date)", "python tools: installing requirements-dev.txt into VENV (pip, from PyPI)", "python tools: installed in VENV"},
			wantVenv: true},
		{name: "someone else's venv", sys: pinnedSystem, venv: "foreign",
			wantErr: []string{"VENV exists but pytools did not create it, and it does not hold the versions of requirements-dev.txt: remove it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			sys, venv := filepath.Join(work, "sys"), filepath.Join(work, "repo", ".venv")
			tt.sys.install(t, work, sys)
			if tt.venv != "" {
				stale := system{moto: "5.1.0", boto3: "1.43.11", cfnLint: "1.51.0", motoServer: true, cfnLintPrints: "cfn-lint 1.51.0"}
				stale.install(t, work, filepath.Join(venv, "bin"))
				if tt.venv == "ours-stale" {
					writeExec(t, filepath.Join(venv, marker), "")
				}
			}
			if tt.pipFail {
				writeExec(t, filepath.Join(work, "pip-fails"), "")
			}
			reqs := filepath.Join(work, "repo", "requirements-dev.txt")
			if err := os.MkdirAll(filepath.Dir(reqs), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(reqs, []byte(pinned), 0o644); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			tl := &tools{requirements: "requirements-dev.txt", venv: venv, dryRun: tt.dryRun, out: &out,
				path: filepath.Join(venv, "bin") + string(os.PathListSeparator) + sys + string(os.PathListSeparator) + "/usr/bin:/bin"}
			t.Chdir(filepath.Join(work, "repo"))
			err := tl.ensure(context.Background())
			norm := func(s string) string {
				return strings.NewReplacer(venv, "VENV", sys, "SYS").Replace(s)
			}
			got := norm(out.String())
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("ensure: %v\n%s", err, got)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(norm(err.Error()), w) {
					t.Errorf("ensure error = %v; want it to contain %q\noutput:\n%s", err, w, got)
				}
			}
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w+"\n")
				if i < 0 {
					t.Fatalf("output:\n%s\nwant the line %q (after the ones before it)", got, w)
				}
				rest = rest[i+len(w):]
			}
			_, statErr := os.Stat(filepath.Join(venv, "bin", "moto_server"))
			if (statErr == nil) != tt.wantVenv && tt.venv != "foreign" {
				t.Errorf("after ensure, %s/bin/moto_server exists: %v; want %v", venv, statErr == nil, tt.wantVenv)
			}
			if tt.wantVenv {
				if _, err := os.Stat(filepath.Join(venv, marker)); err != nil {
					t.Errorf("the virtual environment has no marker: %v", err)
				}
			}
			if tt.venv == "foreign" {
				if _, err := os.Stat(filepath.Join(venv, "bin", "python3")); err != nil {
					t.Errorf("someone else's virtual environment was touched: %v", err)
				}
			}
			calls, _ := os.ReadFile(filepath.Join(work, "calls"))
			if tt.dryRun && strings.Contains(string(calls), "-m ") {
				t.Errorf("dry run changed something:\n%s", calls)
			}
		})
	}
}

// TestEnsureUsesTheVenvItMade runs ensure twice on a machine without the
// tools: the first run installs them, the second finds them in the virtual
// environment (first on PATH, as make puts it) and installs nothing.
func TestEnsureUsesTheVenvItMade(t *testing.T) {
	work := t.TempDir()
	sys, venv := filepath.Join(work, "sys"), filepath.Join(work, ".venv")
	system{}.install(t, work, sys)
	reqs := filepath.Join(work, "requirements-dev.txt")
	if err := os.WriteFile(reqs, []byte(pinned), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(venv, "bin") + string(os.PathListSeparator) + sys + string(os.PathListSeparator) + "/usr/bin:/bin"
	for i, want := range []string{"python tools: installed in ", "python tools: the versions of " + reqs + ", from PATH:\n  moto[server]==5.2.1    ok (" + venv + "/bin/moto_server)"} {
		var out strings.Builder
		tl := &tools{requirements: reqs, venv: venv, out: &out, path: path}
		if err := tl.ensure(context.Background()); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("run %d printed:\n%s\nwant %q", i+1, out.String(), want)
		}
	}
	calls, _ := os.ReadFile(filepath.Join(work, "calls"))
	if n := strings.Count(string(calls), "-m pip"); n != 1 {
		t.Errorf("pip ran %d times; want once:\n%s", n, calls)
	}
}
