// Package motoserver starts moto's server (a real implementation of the
// Secrets Manager API) on a free loopback port, for tests and the demo, and
// builds AWS SDK clients pointed at it. Nothing here reaches AWS.
package motoserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// InstallHint says how to get moto's server where it is missing.
const InstallHint = `moto_server not found in PATH: the Secrets Manager tests and the demo run against moto's server at the version of requirements-dev.txt. make test and make demo install it (make python-tools); or: python3 -m pip install -r requirements-dev.txt`

// Region is the region the clients use; moto accepts any.
const Region = "us-east-1"

// Server is a running moto_server.
type Server struct {
	// URL is http://127.0.0.1:port, the value for AWS_ENDPOINT_URL.
	URL string
	cmd *exec.Cmd
	// done is closed when the process has exited, exitErr then set.
	done    chan struct{}
	exitErr error

	rotationMu sync.Mutex
	roleARN    string
	functions  map[string]string // name → ARN
}

// Start runs moto_server on a loopback port and waits until it answers.
//
// The port is never let go between choosing it and moto serving it: Start
// listens on 127.0.0.1:0 itself and hands the listening socket to moto as
// its file descriptor 3. moto's server is werkzeug's run_simple, which
// serves an inherited socket when WERKZEUG_RUN_MAIN is "true" and
// WERKZEUG_SERVER_FD names it (the way its own reloader passes the socket
// to the child it restarts; werkzeug/serving.py, run_simple). So no other
// process can take the port first, as it could if the port were only
// looked up free and closed.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errors.New(InstallHint)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sock, err := l.(*net.TCPListener).File()
	l.Close() // sock is a duplicate: the port stays bound through it
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=true",
		"WERKZEUG_RUN_MAIN=true", "WERKZEUG_SERVER_FD=3")
	s.cmd.ExtraFiles = []*os.File{sock} // fd 3 in the child
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = s.cmd.Start()
	// The child has its own copy now. Closing ours means that if moto dies,
	// connections are refused instead of waiting in our listen queue.
	sock.Close()
	if err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()

	// The socket listens already: a request waits in its queue until moto
	// serves it, so this answers as soon as moto is up.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
	if err != nil {
		s.Stop()
		return nil, err
	}
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("moto_server did not answer on %s: %w", s.URL, err)
		}
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("moto_server exited before it answered: %v", s.exitErr)
	}
}

// StartT starts moto for a test and stops it when the test ends. A missing
// moto_server fails the test with the install hint; it never skips.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop kills the server and waits until it has exited, so its port is
// free when Stop returns.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Reset empties the server: every secret, role and function is gone (POST
// /moto-api/reset, moto's own endpoint for this,
// https://docs.getmoto.org/en/latest/docs/server_mode.html#reset-api). For
// a package that owns its server (RunTests) and runs its tests one at a
// time: a test that resets first starts from nothing however often it runs
// (go test -count=2).
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s", resp.Status)
	}
	s.rotationMu.Lock()
	defer s.rotationMu.Unlock()
	s.roleARN, s.functions = "", nil
	return nil
}

// ResetT resets the server for test t (see Reset) and returns a Secrets
// Manager client for it.
func (s *Server) ResetT(t testing.TB) *secretsmanager.Client {
	t.Helper()
	if err := s.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.SecretsManager()
}

// Config returns an AWS config for the server: static fake credentials and
// the server's endpoint, so nothing reaches AWS.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// SecretsManager returns a Secrets Manager client for the server.
func (s *Server) SecretsManager() *secretsmanager.Client {
	return secretsmanager.NewFromConfig(s.Config())
}

// Env returns the environment a process needs to use the server.
func (s *Server) Env() []string {
	return []string{
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// RunTests is a test package's TestMain body: it starts one server into
// *srv, runs the tests, stops the server and exits with the tests' code. A
// missing moto_server fails the package with the install hint.
func RunTests(m *testing.M, srv **Server) {
	s, err := Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}
