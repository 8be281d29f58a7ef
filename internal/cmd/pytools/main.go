// Command pytools makes the Python tools of make test and make demo (moto's
// server, boto3, cfn-lint) available at the versions requirements-dev.txt
// pins: the tools on PATH when they are those versions, else a virtual
// environment in the repository (.venv/), created and filled from PyPI with
// pip. make runs it before the targets that need the tools and puts
// .venv/bin first on their PATH.
//
//	go run ./internal/cmd/pytools [-n] [-requirements requirements-dev.txt] [-venv .venv]
//
// With -n it only reports what it finds and what it would do. The tests rely
// on moto's exact behaviour, so its version is part of the build.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// marker is the file, inside a virtual environment pytools created, that
// says so: only such an environment is removed when it is out of date.
const marker = ".alexa-skill-credentials-pytools"

// pin is one line of the requirements file: name[extras]==version.
type pin struct {
	Name    string
	Extras  []string
	Version string
}

func (p pin) String() string {
	if len(p.Extras) > 0 {
		return p.Name + "[" + strings.Join(p.Extras, ",") + "]==" + p.Version
	}
	return p.Name + "==" + p.Version
}

var pinLine = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([A-Za-z0-9._, -]+)\])?==([A-Za-z0-9.+!_-]+)$`)

// parseRequirements reads exact pins, one a line; # starts a comment. Any
// other form (a range, an option, a URL) is refused: the point is one
// version of each tool.
func parseRequirements(r io.Reader) ([]pin, error) {
	var pins []pin
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		m := pinLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: %q is not name==version (or name[extra]==version)", n, line)
		}
		p := pin{Name: m[1], Version: m[3]}
		for _, e := range strings.Split(m[2], ",") {
			if e = strings.TrimSpace(e); e != "" {
				p.Extras = append(p.Extras, e)
			}
		}
		pins = append(pins, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pins) == 0 {
		return nil, errors.New("no pins")
	}
	return pins, nil
}

// commands are the programs make test runs from PATH besides python3, by
// the distribution that installs them, and the arguments that prove the
// program works: moto_server -h imports moto's server (the [server] extra's
// Flask), and cfn-lint --version prints its version.
var commands = map[string][]string{
	"moto":     {"moto_server", "-h"},
	"cfn-lint": {"cfn-lint", "--version"},
}

// finding is what survey found of one pin.
type finding struct {
	Pin     pin
	Version string // as python3's importlib.metadata reports it; "" if not installed
	Path    string // the program make test runs for it
	Problem string // "" when the pin is satisfied
}

// metadataScript prints, as JSON, the installed version of each
// distribution named in argv[1] (a JSON list), null when not installed.
const metadataScript = `import json, sys
from importlib import metadata
out = {}
for name in json.loads(sys.argv[1]):
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))`

// toolTimeout bounds each program survey runs.
const toolTimeout = 2 * time.Minute

// survey checks each pin against the programs found on path: python3's
// installed distributions, and the program of each pin that has one.
func survey(ctx context.Context, path string, pins []pin) []finding {
	env := withPath(os.Environ(), path)
	run := func(args ...string) (string, string, error) {
		bin := lookPath(path, args[0])
		if bin == "" {
			return "", "", fmt.Errorf("%s not found on PATH", args[0])
		}
		ctx, cancel := context.WithTimeout(ctx, toolTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args[1:]...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return bin, string(out), fmt.Errorf("%s %s: %v %s", args[0], strings.Join(args[1:], " "), err, lastLine(stderr.String()))
		}
		return bin, string(out), nil
	}

	found := make([]finding, len(pins))
	var wg sync.WaitGroup
	for i, p := range pins {
		found[i].Pin = p
		if c, ok := commands[strings.ToLower(p.Name)]; ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bin, out, err := run(c...)
				found[i].Path = bin
				switch {
				case err != nil:
					found[i].Problem = err.Error()
				case c[1] == "--version" && !slices.Contains(strings.Fields(out), p.Version):
					found[i].Problem = fmt.Sprintf("%s --version printed %q", c[0], strings.TrimSpace(out))
				}
			}()
		}
	}
	names := make([]string, len(pins))
	for i, p := range pins {
		names[i] = p.Name
	}
	arg, _ := json.Marshal(names)
	python, out, err := run("python3", "-c", metadataScript, string(arg))
	var versions map[string]*string
	if err == nil {
		if jerr := json.Unmarshal([]byte(out), &versions); jerr != nil {
			err = fmt.Errorf("python3 printed %q: %v", lastLine(out), jerr)
		}
	}
	wg.Wait()
	for i, p := range pins {
		f := &found[i]
		if f.Path == "" {
			f.Path = python
		}
		var problem string
		switch {
		case err != nil:
			problem = err.Error()
		case versions[p.Name] == nil:
			problem = "not installed for python3 (" + python + ")"
		case *versions[p.Name] != p.Version:
			f.Version = *versions[p.Name]
			problem = "version " + f.Version + " for python3 (" + python + ")"
		default:
			f.Version = *versions[p.Name]
		}
		if problem != "" && f.Problem != "" {
			problem += "; "
		}
		f.Problem = problem + f.Problem // then the program's own problem
	}
	return found
}

func satisfied(found []finding) bool {
	return !slices.ContainsFunc(found, func(f finding) bool { return f.Problem != "" })
}

func report(w io.Writer, found []finding) {
	for _, f := range found {
		state := "ok (" + f.Path + ")"
		if f.Problem != "" {
			state = f.Problem
		}
		fmt.Fprintf(w, "  %-22s %s\n", f.Pin, state)
	}
}

// tools is one run of pytools.
type tools struct {
	requirements string // the requirements file
	venv         string // absolute path of the virtual environment
	path         string // PATH as make gives it (the venv's bin first)
	dryRun       bool
	out          io.Writer
}

// ensure makes the pinned tools available: from PATH if they are there,
// else in t.venv.
func (t *tools) ensure(ctx context.Context) error {
	f, err := os.Open(t.requirements)
	if err != nil {
		return err
	}
	pins, err := parseRequirements(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", t.requirements, err)
	}

	found := survey(ctx, t.path, pins)
	if satisfied(found) {
		fmt.Fprintf(t.out, "python tools: the versions of %s, from PATH:\n", t.requirements)
		report(t.out, found)
		return nil
	}
	fmt.Fprintf(t.out, "python tools: PATH does not have the versions of %s:\n", t.requirements)
	report(t.out, found)

	bin := filepath.Join(t.venv, "bin")
	withoutVenv := strings.Join(slices.DeleteFunc(filepath.SplitList(t.path), func(d string) bool { return filepath.Clean(d) == bin }), string(os.PathListSeparator))
	if _, err := os.Stat(t.venv); err == nil {
		if _, err := os.Stat(filepath.Join(t.venv, marker)); err != nil {
			return fmt.Errorf("%s exists but pytools did not create it, and it does not hold the versions of %s: remove it, or install them into it (%s -m pip install -r %s)",
				t.venv, t.requirements, filepath.Join(bin, "python3"), t.requirements)
		}
		// Ours, and out of date (the pins changed) or broken: the tools
		// on PATH without it may do.
		if t.dryRun {
			fmt.Fprintf(t.out, "python tools: would remove %s (created by pytools, out of date)\n", t.venv)
		} else {
			fmt.Fprintf(t.out, "python tools: removing %s (created by pytools, out of date)\n", t.venv)
			if err := os.RemoveAll(t.venv); err != nil {
				return err
			}
		}
		if found := survey(ctx, withoutVenv, pins); satisfied(found) {
			fmt.Fprintf(t.out, "python tools: the versions of %s, from PATH without %s:\n", t.requirements, t.venv)
			report(t.out, found)
			return nil
		}
	}

	if t.dryRun {
		fmt.Fprintf(t.out, "python tools: would create %s with python3 -m venv and install %s into it with pip\n", t.venv, t.requirements)
		return nil
	}
	fmt.Fprintf(t.out, "python tools: installing %s into %s (pip, from PyPI)\n", t.requirements, t.venv)
	if err := t.install(ctx, withoutVenv); err != nil {
		os.RemoveAll(t.venv)
		return fmt.Errorf("%w\n"+
			"The tests need these exact versions. pip needs PyPI (or a mirror: PIP_INDEX_URL; a proxy: HTTPS_PROXY). "+
			"Or install them yourself where make finds them (first on PATH): python3 -m pip install -r %s", err, t.requirements)
	}
	found = survey(ctx, bin+string(os.PathListSeparator)+withoutVenv, pins)
	report(t.out, found)
	if !satisfied(found) {
		return fmt.Errorf("%s does not hold the versions of %s after pip install", t.venv, t.requirements)
	}
	fmt.Fprintf(t.out, "python tools: installed in %s\n", t.venv)
	return nil
}

func (t *tools) install(ctx context.Context, path string) error {
	python := lookPath(path, "python3")
	if python == "" {
		return errors.New("python3 not found on PATH: install Python 3 (3.9 or later) with its venv module")
	}
	env := withPath(os.Environ(), path)
	step := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, t.out, t.out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return nil
	}
	if err := step(python, "-m", "venv", t.venv); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(t.venv, marker), []byte("created by internal/cmd/pytools from "+t.requirements+"\n"), 0o644); err != nil {
		return err
	}
	return step(filepath.Join(t.venv, "bin", "python3"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", t.requirements)
}

// lookPath finds an executable name in the directories of path.
func lookPath(path, name string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// withPath is env with PATH set to path.
func withPath(env []string, path string) []string {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "PATH=") })
	return append(env, "PATH="+path)
}

// lastLine keeps error output short: its last line, at most 300 bytes.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[len(s)-300:]
	}
	return s
}

func main() {
	t := &tools{out: os.Stdout, path: os.Getenv("PATH")}
	flag.StringVar(&t.requirements, "requirements", "requirements-dev.txt", "the pinned tools")
	venv := flag.String("venv", ".venv", "where to install them when PATH does not have them")
	flag.BoolVar(&t.dryRun, "n", false, "report and say what would be done, change nothing")
	flag.Parse()
	var err error
	if t.venv, err = filepath.Abs(*venv); err == nil {
		err = t.ensure(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "python tools:", err)
		os.Exit(1)
	}
}
