package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/awsrecord"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/permcheck"
)

// stackIAM is the IAM the stack deploys, as the infra tests wrote it.
var stackIAM = sync.OnceValues(func() (*permcheck.Stack, error) {
	return permcheck.Load(filepath.Join("..", permcheck.DefaultFile))
})

// recorded holds the calls of every test that used recordAWS, by the
// function role they were checked against, for the unused-grants check of
// TestMain.
var recorded struct {
	sync.Mutex
	tests []string
	calls map[string][]awsrecord.Call
}

// role is one function role of the stack, named for messages.
type role struct {
	name string
	permcheck.Principal
}

// functionRoles are the stack's function roles: without and with vendor
// discovery.
func functionRoles(stack *permcheck.Stack) []role {
	return []role{
		{"the function role", stack.Function},
		{"the function role with skillDiscovery vendor", stack.DiscoveryFunction},
	}
}

// functionRole returns the function role of the stack env describes: the
// one synthesized with vendor discovery when env turns it on, else the
// default one.
func functionRole(stack *permcheck.Stack, vars map[string]string) role {
	if vars["SKILL_DISCOVERY"] == "vendor" {
		return functionRoles(stack)[1]
	}
	return functionRoles(stack)[0]
}

// recordAWS returns env with the function's AWS endpoint pointed at a
// recorder in front of moto. When the test ends, every call the function
// made is checked against the function role, key policy and reader policies
// the stack synthesizes (testdata/iam/stack-policies.json): a call the
// stack's IAM would refuse fails the test, naming the call and the missing
// permission. env must use the stack's names for the LWA secret and the
// skill prefix, so that the resources checked are the ones deployed. With
// SKILL_DISCOVERY=vendor the calls are checked against the function role of
// the stack synthesized with vendor discovery, and env must also name the
// stack's key (SKILL_SECRET_KMS_KEY_ID) and, if it sets one, the stack's
// function as the rotation function (SKILL_SECRET_ROTATION_LAMBDA_ARN), so
// that the creation policy's conditions are evaluated on the values the
// deployed function sends.
//
// An end-to-end test of the bootstrap adds itself to the check by building
// its function's environment with recordAWS.
func recordAWS(t *testing.T, env []string) []string {
	t.Helper()
	stack, err := stackIAM()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	// The stack's function environment names the same secrets.
	fn := functionRole(stack, vars)
	deployed := fn.Environment
	if got, want := stack.SecretARN(vars["LWA_SECRET_ID"]), stack.SecretARN(deployed["LWA_SECRET_ID"]); got != want {
		t.Fatalf("LWA_SECRET_ID %q is not the stack's LWA secret %s: use the stack's names, or the permission check proves nothing", vars["LWA_SECRET_ID"], want)
	}
	if vars["SKILL_SECRET_PREFIX"] != deployed["SKILL_SECRET_PREFIX"] {
		t.Fatalf("SKILL_SECRET_PREFIX %q is not the stack's %q", vars["SKILL_SECRET_PREFIX"], deployed["SKILL_SECRET_PREFIX"])
	}
	for _, k := range []string{"SKILL_DISCOVERY", "SKILL_SECRET_KMS_KEY_ID"} {
		if vars[k] != deployed[k] {
			t.Fatalf("%s %q is not the %q of %s", k, vars[k], deployed[k], fn.name)
		}
	}
	// Unset in the stack: the function names itself, fn.FunctionARN.
	if arn, ok := vars["SKILL_SECRET_ROTATION_LAMBDA_ARN"]; ok && arn != fn.FunctionARN {
		t.Fatalf("SKILL_SECRET_ROTATION_LAMBDA_ARN %q is not the function of %s, %s (register it in moto with motoserver.RegisterFunction)", arn, fn.name, fn.FunctionARN)
	}
	rec := awsrecord.StartT(t, vars["AWS_ENDPOINT_URL"])
	t.Cleanup(func() {
		calls := rec.Calls()
		recorded.Lock()
		recorded.tests = append(recorded.tests, t.Name())
		if recorded.calls == nil {
			recorded.calls = map[string][]awsrecord.Call{}
		}
		recorded.calls[fn.name] = append(recorded.calls[fn.name], calls...)
		recorded.Unlock()
		checkCalls(t, stack, fn, calls)
	})
	return rec.Env(env)
}

// checkCalls fails t for every call the function role fn may not make, and
// shows that the check can fail: without any one grant the calls use, it
// must report a denied call.
func checkCalls(t *testing.T, stack *permcheck.Stack, fn role, calls []awsrecord.Call) {
	t.Helper()
	if len(calls) == 0 {
		t.Error("the function made no AWS call through the recorder; is AWS_ENDPOINT_URL the recorder's?")
		return
	}
	r := stack.Check(calls, fn.Principal)
	if r.Failed() {
		t.Errorf("%s refuses calls the bootstrap made:\n  %s\nGrant them in infra/ (newFunction in infra/stack.go, newSecretCreation in infra/creation.go), then regenerate the policy file: %s",
			fn.name, strings.Join(append(r.Errors, r.Denied...), "\n  "), permcheck.RegenerateCommand)
		return
	}
	count := map[string]int{}
	for _, c := range calls {
		count[c.Service+":"+c.Operation]++
	}
	var ops []string
	for _, op := range slices.Sorted(maps.Keys(count)) {
		ops = append(ops, fmt.Sprintf("%s ×%d", op, count[op]))
	}
	t.Logf("%d AWS calls of the bootstrap, all allowed by %s: %s", len(calls), fn.name, strings.Join(ops, ", "))
	for g, n := range r.Used {
		if n == 0 {
			continue
		}
		without := stack.Check(calls, fn.Without(g))
		if !without.Failed() {
			t.Errorf("grant %s is used, yet removing it denies no call: another statement grants the same", g)
			continue
		}
		t.Logf("without %s the check fails: %s", g, without.Denied[0])
	}
	for _, reader := range stack.Readers {
		if problems := stack.CheckReader(reader); len(problems) > 0 {
			t.Errorf("reader role %s:\n  %s", reader.RoleARN, strings.Join(problems, "\n  "))
		}
	}
}

// unusedGrants are the grants of the function roles that no call of the
// bootstrap uses, by role and "<statement Sid> <action>", each with the
// reason it stays. Any
// other grant no recorded call uses fails the package's tests (see
// TestMain), and so does an entry here whose grant is used or gone: remove
// the grant from infra/, or record the run that needs it.
var unusedGrants = map[string]map[string]string{
	"the function role": platformGrants,
	"the function role with skillDiscovery vendor": merge(platformGrants, map[string]string{
		"ReadAndRotateLwaSecret secretsmanager:PutSecretValue":              sharedDefault + " (saving a rotated LWA refresh token)",
		"SyncAndRotateSkillSecrets secretsmanager:DescribeSecret":           sharedDefault + " (the rotation steps)",
		"SyncAndRotateSkillSecrets secretsmanager:UpdateSecretVersionStage": sharedDefault + " (the rotation steps)",
	}),
}

// sharedDefault is the reason the discovery role keeps default-policy grants
// its own end-to-end test does not use.
const sharedDefault = "the default policy both roles share; used by TestBootstrapUnderRuntimeAPI against the function role, not by the discovery run"

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// platformGrants are the grants the Lambda service uses on the role's
// behalf, not the function's code.
var platformGrants = map[string]string{
	"WriteOwnLogs logs:CreateLogStream":     "used by Lambda to write the function's logs, not by its code",
	"WriteOwnLogs logs:PutLogEvents":        "used by Lambda to write the function's logs, not by its code",
	"SendFailedRunsToQueue sqs:SendMessage": "used by Lambda to send failed asynchronous runs to the queue, not by the code",
}

// unusedProblems returns, for the role fn checked against calls, each
// grant no call used that allowed does not list, and each entry of allowed
// whose grant was used or is not in the role.
func unusedProblems(stack *permcheck.Stack, fn role, calls []awsrecord.Call, allowed map[string]string) []string {
	r := stack.Check(calls, fn.Principal)
	var problems []string
	listed := map[string]bool{}
	for _, g := range r.Unused() {
		if key := g.Statement + " " + g.Action; allowed[key] != "" {
			listed[key] = true
			continue
		}
		problems = append(problems, fmt.Sprintf("%s: grant %s is used by no recorded call: remove it from infra/, record the run that needs it, or list it with a reason in unusedGrants", fn.name, g))
	}
	for _, a := range slices.Sorted(maps.Keys(allowed)) {
		if !listed[a] {
			problems = append(problems, fmt.Sprintf("%s: unusedGrants lists %s (%s), but it is used or not granted: remove the entry", fn.name, a, allowed[a]))
		}
	}
	return problems
}

// checkUnused fails (returns false) when a function role has a grant that
// no call recorded under that role used and unusedGrants does not list.
// Each role counts only the calls of the tests run against it, so the
// discovery role is held to what a discovery run does, as the default role
// is to what a run without discovery does.
func checkUnused(w io.Writer) bool {
	recorded.Lock()
	defer recorded.Unlock()
	stack, err := stackIAM()
	if err != nil {
		fmt.Fprintln(w, "least privilege:", err)
		return false
	}
	ok := true
	for _, fn := range functionRoles(stack) {
		calls := recorded.calls[fn.name]
		if len(calls) == 0 {
			fmt.Fprintf(w, "least privilege: no test recorded the calls of %s\n", fn.name)
			ok = false
			continue
		}
		problems := unusedProblems(stack, fn, calls, unusedGrants[fn.name])
		for _, p := range problems {
			fmt.Fprintln(w, "FAIL least privilege:", p)
		}
		if len(problems) == 0 {
			fmt.Fprintf(w, "least privilege: %d AWS calls of the bootstrap checked against %s in %s: every grant used but the %d listed in unusedGrants\n",
				len(calls), fn.name, permcheck.DefaultFile, len(unusedGrants[fn.name]))
		}
		ok = ok && len(problems) == 0
	}
	return ok
}

// TestUnusedProblems shows the unused-grants check failing: with only the
// calls of a read, the role's write and rotation grants are reported, an
// allow-list entry covers its grant, and an entry for a used or missing
// grant is reported as stale.
func TestUnusedProblems(t *testing.T) {
	stack, err := stackIAM()
	if err != nil {
		t.Fatal(err)
	}
	fn := functionRoles(stack)[0]
	lwa := stack.Function.Environment["LWA_SECRET_ID"]
	read := []awsrecord.Call{{Service: "secretsmanager", Operation: "GetSecretValue", Params: map[string][]string{"SecretId": {lwa}}, Status: 200}}
	allowed := map[string]string{"WriteOwnLogs logs:CreateLogStream": "Lambda's", "ReadAndRotateLwaSecret secretsmanager:GetSecretValue": "stale: used", "WriteOwnLogs s3:GetObject": "stale: not granted"}
	got := strings.Join(unusedProblems(stack, fn, read, allowed), "\n")
	for _, want := range []string{
		"the function role: grant " + stack.Function.Policies[0].Name + " ",
		": secretsmanager:PutSecretValue on ",
		": logs:PutLogEvents on ",
		"unusedGrants lists ReadAndRotateLwaSecret secretsmanager:GetSecretValue (stale: used), but it is used or not granted",
		"unusedGrants lists WriteOwnLogs s3:GetObject (stale: not granted)",
		// The skill secrets' GetSecretValue is another statement's grant.
		": secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:alexa/skill-messaging/* is used by no recorded call",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unusedProblems = \n%s\nwant a line containing %q", got, want)
		}
	}
	if strings.Contains(got, ": logs:CreateLogStream on ") {
		t.Errorf("unusedProblems = \n%s\nreports logs:CreateLogStream, which allowed lists", got)
	}
}

// fullRun reports whether every test of the package ran (no -run, no
// -skip): only then do the recorded calls cover every run of the bootstrap.
func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}
