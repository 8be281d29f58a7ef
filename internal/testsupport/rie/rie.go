// Package rie runs the real bootstrap binary the way Lambda does: under AWS's
// Runtime Interface Emulator, which serves the Lambda Runtime API to it and
// takes invocations over HTTP. Tests and the demo use it; both ports are on
// loopback.
package rie

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build compiles ./lambda of the module into dir/bootstrap with the
// contract's flags, for this machine's OS and architecture.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-o", out, "./lambda")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bootstrap: %v\n%s", err, b)
	}
	return out, nil
}

// emulatorPath builds (or finds in the build cache) the emulator pinned as a
// tool in go.mod.
func emulatorPath(ctx context.Context) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "-n", "aws-lambda-rie")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build aws-lambda-rie (go tool -n aws-lambda-rie): %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(b)) == "" || strings.TrimSpace(string(b)) == os.DevNull {
		return "", fmt.Errorf("find the module root (go env GOMOD): %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(b))), nil
}

// Function is a bootstrap running under the emulator.
type Function struct {
	url string
	cmd *exec.Cmd
}

// Start runs bootstrap under the emulator with env added to this process's
// environment (minus AWS credentials and endpoints it does not set itself),
// writing the emulator's and the function's output to out.
func Start(ctx context.Context, bootstrap string, env []string, out io.Writer) (*Function, error) {
	emu, err := emulatorPath(ctx)
	if err != nil {
		return nil, err
	}
	invokePort, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	f := &Function{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", invokePort)}
	f.cmd = exec.Command(emu,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(invokePort),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--log-level", "error",
		bootstrap)
	f.cmd.Dir = filepath.Dir(bootstrap)
	f.cmd.Env = append(cleanEnv(), env...)
	f.cmd.Stdout, f.cmd.Stderr = out, out
	f.cmd.WaitDelay = time.Second
	// Its own process group, so Stop ends the bootstrap it starts too.
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- f.cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", invokePort)); err == nil {
			c.Close()
			return f, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("aws-lambda-rie exited: %v", err)
		case <-deadline:
			f.Stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on port %d", invokePort)
		case <-tick.C:
		}
	}
}

// cleanEnv is this process's environment without anything that could point
// the function at a real AWS account.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Invoke sends payload as one invocation and returns the function's answer:
// the result, or the error document ({"errorMessage", "errorType"}).
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("invoke: HTTP %d: %s", resp.StatusCode, b)
	}
	return b, nil
}

// Stop ends the emulator and the function.
func (f *Function) Stop() {
	if f.cmd.Process != nil {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
