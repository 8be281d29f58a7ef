// Package deptest holds the import rules of the module in a test, so the
// layout is kept by CI, not by convention.
package deptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/alexa-skill-credentials/alexa-skill-credentials"

// rules maps a package to the import-path prefixes it must not depend on,
// directly or indirectly, with the reason.
var rules = []struct {
	pkg    string
	banned []string
	why    string
}{
	{"./internal/smapi", []string{"github.com/aws/"}, "smapi speaks HTTP only: no AWS SDK, no aws-lambda-go"},
	{"./internal/secret", []string{"github.com/aws/", "golang.org/x/oauth2"}, "secret is a leaf"},
	{"./internal/store", []string{module + "/internal/smapi", "github.com/aws/aws-lambda-go", "golang.org/x/oauth2"}, "store is the Secrets Manager seam only"},
	{"./internal/credsync", []string{"github.com/aws/aws-lambda-go", "github.com/aws/aws-cdk-go"}, "the sync core does not know Lambda's runtime"},
	{"./lambda", []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", module + "/internal/testsupport/", module + "/internal/cmd/", module + "/internal/smapi/smapitest", module + "/internal/store/storetest", module + "/skillmessaging/skillmessagingtest"}, "the function ships no infrastructure or test code: test support lives under internal/testsupport/ and beside what it fakes (…/smapitest, …/storetest)"},
	{"./internal/testsupport/iampolicy", []string{"github.com/aws/", module + "/internal/"}, "iampolicy evaluates policy documents only: no AWS SDK, no other package of the module"},
	// The one runtime package infra imports is the contract, so the names,
	// limits and id rules the stack and the function share are written once.
	{"./infra", []string{module + "/internal/", module + "/lambda", "github.com/aws/aws-lambda-go", "github.com/aws/aws-sdk-go-v2"}, "infra imports no runtime package but internal/contract"},
	{"./internal/contract", []string{"github.com/", "golang.org/", module + "/"}, "the contract is the standard library only: infra imports it"},
	{"./internal/smapi", []string{module + "/skillmessaging"}, "the sync's client keeps its own HTTP plumbing (docs/development.md), it does not use the library"},
	{module + "/skillmessaging/internal/alexahttp", []string{"github.com/aws/", module + "/internal/", module + "/skillmessaging/skillmessagingtest"}, "the library's HTTP plumbing is a leaf: standard library and x/oauth2"},
	{module + "/skillmessaging", []string{"github.com/aws/aws-lambda-go", "github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", module + "/skillmessaging/skillmessagingtest", module + "/internal/", module + "/lambda"}, "skillmessaging is a library for any skill code: no Lambda runtime, CDK, test support or sync internals"},
	{module + "/skillmessaging/skillmessagingtest", []string{"github.com/aws/", "golang.org/x/", module + "/internal/"}, "the public fake is the standard library only, so any test can use it"},
	{"./examples/skill-lambda", []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", module + "/skillmessaging/skillmessagingtest", module + "/internal/"}, "the example function ships no infrastructure, test or sync code"},
}

// allowed are packages a banned prefix of a rule covers that the rule's
// package may depend on nonetheless.
var allowed = map[string][]string{
	// The stack and the function share names, limits and id rules: infra
	// imports them from the contract (standard library only, see its rule)
	// instead of keeping copies in step.
	"./infra": {module + "/internal/contract"},
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pkg)
			cmd.Dir = "../../.."
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", r.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 2 {
				t.Fatalf("go list -deps %s listed %d packages; want its dependencies", r.pkg, len(deps))
			}
			for _, d := range deps {
				if d == module+strings.TrimPrefix(r.pkg, ".") {
					continue // the package itself
				}
				if slices.Contains(allowed[r.pkg], d) {
					continue
				}
				for _, b := range r.banned {
					if strings.HasPrefix(d, b) {
						t.Errorf("%s depends on %s: %s", r.pkg, d, r.why)
					}
				}
			}
		})
	}
}

// TestSkillmessagingIsLightToImport is a skill developer's module on Go 1.24
// (testdata/consumer) that requires skillmessaging, replaced by this
// repository's ./skillmessaging and nothing else: after go mod tidy with the
// local toolchain it vets (go vet's stdversion check refuses standard
// library API newer than the go line) and builds, its go line is still 1.24,
// and its module graph holds no other module of this repository and none of
// the sync's tools and infrastructure.
func TestSkillmessagingIsLightToImport(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/consumer/main.go")
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/skill-lambda\n\ngo 1.24\n\n" +
		"require github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging v0.2.0\n\n" +
		"replace github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging => " + filepath.Join(root, "skillmessaging") + "\n"
	for name, b := range map[string][]byte{"go.mod": []byte(gomod), "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	run("vet", ".")
	run("build", "-o", os.DevNull, ".")
	tidied, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(tidied)); m == nil || (m[1] != "1.24" && m[1] != "1.24.0") {
		t.Errorf("after go mod tidy the consumer's go line is %q; want 1.24:\n%s", m, tidied)
	}
	if strings.Contains(string(tidied), "toolchain") {
		t.Errorf("go mod tidy added a toolchain line:\n%s", tidied)
	}
	mods := run("list", "-m", "all")
	for _, banned := range []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go", "github.com/cdklabs/",
		"github.com/aws/aws-lambda-runtime-interface-emulator", "github.com/aws/aws-lambda-go", "honnef.co/go/tools", "github.com/go-gremlins/"} {
		if strings.Contains(mods, banned) {
			t.Errorf("the consumer's module graph holds %s:\n%s", banned, mods)
		}
	}
	// The library is the one module of this repository in the graph: a
	// consumer that fetches skillmessaging alone fetches nothing else of
	// ours (no other module to tag in lockstep).
	for _, line := range strings.Split(mods, "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == module || strings.HasPrefix(f[0], module+"/")) && f[0] != module+"/skillmessaging" {
			t.Errorf("the consumer's module graph holds %s; want no module of this repository but skillmessaging", line)
		}
	}
	if !strings.Contains(mods, module+"/skillmessaging v0.2.0 => ") {
		t.Errorf("the consumer's module graph lacks skillmessaging v0.2.0:\n%s", mods)
	}
}
