// Package deptest holds the import rules of the module in a test, so the
// layout is kept by CI, not by convention.
package deptest

import (
	"os/exec"
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
	{"./lambda", []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", module + "/internal/smapitest", module + "/internal/motoserver", module + "/internal/rie", module + "/internal/store/storetest", module + "/internal/logbuf", module + "/internal/awsrecord", module + "/internal/permcheck", module + "/internal/iampolicy"}, "the function ships no infrastructure or test code"},
	{"./internal/iampolicy", []string{"github.com/aws/", module + "/internal/"}, "iampolicy evaluates policy documents only: no AWS SDK, no other package of the module"},
	{"./infra", []string{module + "/internal/", module + "/lambda", "github.com/aws/aws-lambda-go", "github.com/aws/aws-sdk-go-v2"}, "infra imports no runtime package"},
	{"./skillmessaging", []string{"github.com/aws/aws-lambda-go", "github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", module + "/internal/smapitest", module + "/internal/motoserver", module + "/internal/rie", module + "/internal/logbuf", module + "/internal/store", module + "/internal/credsync", module + "/lambda"}, "skillmessaging is a library for any skill code: no Lambda runtime, CDK, test support or sync internals"},
	{"./examples/skill-lambda", []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", module + "/internal/smapitest", module + "/internal/motoserver", module + "/internal/rie", module + "/internal/logbuf", module + "/internal/store", module + "/internal/credsync"}, "the example function ships no infrastructure, test or sync code"},
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pkg)
			cmd.Dir = "../.."
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
				for _, b := range r.banned {
					if strings.HasPrefix(d, b) {
						t.Errorf("%s depends on %s: %s", r.pkg, d, r.why)
					}
				}
			}
		})
	}
}
