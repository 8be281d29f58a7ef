package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/awsrecord"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/permcheck"
)

// stackIAM is the IAM the stack deploys, as the infra tests wrote it.
var stackIAM = sync.OnceValues(func() (*permcheck.Stack, error) {
	return permcheck.Load(filepath.Join("..", permcheck.DefaultFile))
})

// recorded holds the calls of every test that used recordAWS, for the
// unused-grants report of TestMain.
var recorded struct {
	sync.Mutex
	tests []string
	calls []awsrecord.Call
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
		recorded.calls = append(recorded.calls, calls...)
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
	for _, ne := range r.NotEvaluated {
		t.Logf("not evaluated: %s", ne)
	}
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

// platformGrants are grants that the Lambda service uses on the role's
// behalf, not the function's code.
var platformGrants = map[string]string{
	"logs:CreateLogStream": "used by Lambda to write the function's logs, not by its code",
	"logs:PutLogEvents":    "used by Lambda to write the function's logs, not by its code",
	"sqs:SendMessage":      "used by Lambda to send failed asynchronous runs to the queue, not by the code",
}

// reportUnused prints, for the function role with and without discovery,
// the grants that no recorded call used, so that least privilege can be
// tightened on purpose. It is a list, not a failure: go test -v ./lambda
// shows it. Every recorded call counts for both roles (a discovery run also
// syncs, and the discovery role's other grants are the default role's).
func reportUnused(w io.Writer) {
	recorded.Lock()
	defer recorded.Unlock()
	stack, err := stackIAM()
	if err != nil || len(recorded.calls) == 0 {
		return
	}
	fmt.Fprintf(w, "least privilege: %d AWS calls of the bootstrap in %s checked against %s\n",
		len(recorded.calls), strings.Join(recorded.tests, ", "), permcheck.DefaultFile)
	for _, fn := range functionRoles(stack) {
		r := stack.Check(recorded.calls, fn.Principal)
		unused := r.Unused()
		if len(unused) == 0 {
			fmt.Fprintf(w, "  %s: every grant was used\n", fn.name)
		} else {
			fmt.Fprintf(w, "  %s: grants no recorded call used:\n", fn.name)
		}
		for _, g := range unused {
			note := platformGrants[g.Action]
			if note == "" {
				note = "unused: remove it, or add the run that needs it to the recorded tests"
			}
			fmt.Fprintf(w, "    %s (%s)\n", g, note)
		}
		for _, ne := range slices.Compact(slices.Sorted(slices.Values(r.NotEvaluated))) {
			fmt.Fprintf(w, "    %s\n", ne)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	reportUnused(os.Stdout)
	os.Exit(code)
}
