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

// recordAWS returns env with the function's AWS endpoint pointed at a
// recorder in front of moto. When the test ends, every call the function
// made is checked against the function role, key policy and reader policies
// the stack synthesizes (testdata/iam/stack-policies.json): a call the
// stack's IAM would refuse fails the test, naming the call and the missing
// permission. env must use the stack's names for the LWA secret and the
// skill prefix, so that the resources checked are the ones deployed.
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
	deployed := stack.Function.Environment
	if got, want := stack.SecretARN(vars["LWA_SECRET_ID"]), stack.SecretARN(deployed["LWA_SECRET_ID"]); got != want {
		t.Fatalf("LWA_SECRET_ID %q is not the stack's LWA secret %s: use the stack's names, or the permission check proves nothing", vars["LWA_SECRET_ID"], want)
	}
	if vars["SKILL_SECRET_PREFIX"] != deployed["SKILL_SECRET_PREFIX"] {
		t.Fatalf("SKILL_SECRET_PREFIX %q is not the stack's %q", vars["SKILL_SECRET_PREFIX"], deployed["SKILL_SECRET_PREFIX"])
	}
	rec := awsrecord.StartT(t, vars["AWS_ENDPOINT_URL"])
	t.Cleanup(func() {
		calls := rec.Calls()
		recorded.Lock()
		recorded.tests = append(recorded.tests, t.Name())
		recorded.calls = append(recorded.calls, calls...)
		recorded.Unlock()
		checkCalls(t, stack, calls)
	})
	return rec.Env(env)
}

// checkCalls fails t for every call the function role may not make, and
// shows that the check can fail: without any one grant the calls use, it
// must report a denied call.
func checkCalls(t *testing.T, stack *permcheck.Stack, calls []awsrecord.Call) {
	t.Helper()
	if len(calls) == 0 {
		t.Error("the function made no AWS call through the recorder; is AWS_ENDPOINT_URL the recorder's?")
		return
	}
	r := stack.CheckFunction(calls)
	if r.Failed() {
		t.Errorf("the stack's IAM refuses calls the bootstrap made:\n  %s\nGrant them in infra/ (newFunction in infra/stack.go), then regenerate the policy file: %s",
			strings.Join(append(r.Errors, r.Denied...), "\n  "), permcheck.RegenerateCommand)
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
	t.Logf("%d AWS calls of the bootstrap, all allowed by the stack's IAM: %s", len(calls), strings.Join(ops, ", "))
	for g, n := range r.Used {
		if n == 0 {
			continue
		}
		without := stack.Check(calls, stack.Function.Without(g))
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

// reportUnused prints the function role's grants that no recorded call
// used, so that least privilege can be tightened on purpose. It is a list,
// not a failure: go test -v ./lambda shows it.
func reportUnused(w io.Writer) {
	recorded.Lock()
	defer recorded.Unlock()
	stack, err := stackIAM()
	if err != nil || len(recorded.calls) == 0 {
		return
	}
	r := stack.CheckFunction(recorded.calls)
	fmt.Fprintf(w, "least privilege: %d AWS calls of the bootstrap in %s checked against %s\n",
		len(recorded.calls), strings.Join(recorded.tests, ", "), permcheck.DefaultFile)
	unused := r.Unused()
	if len(unused) == 0 {
		fmt.Fprintln(w, "  every grant of the function role was used")
	} else {
		fmt.Fprintln(w, "  grants no recorded call used:")
	}
	for _, g := range unused {
		note := platformGrants[g.Action]
		if note == "" {
			note = "unused: remove it, or add the run that needs it to the recorded tests"
		}
		fmt.Fprintf(w, "    %s (%s)\n", g, note)
	}
	for _, ne := range slices.Compact(slices.Sorted(slices.Values(r.NotEvaluated))) {
		fmt.Fprintf(w, "  %s\n", ne)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	reportUnused(os.Stdout)
	os.Exit(code)
}
