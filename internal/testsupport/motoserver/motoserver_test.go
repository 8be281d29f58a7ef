package motoserver

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// server is the package's own server, started by RunTests as every other
// package's (TestStopFreesThePort starts one of its own to stop).
var server *Server

func TestMain(m *testing.M) { RunTests(m, &server) }

// TestStartServesTheSocketItKeeps: moto answers on the port Start chose, and
// that port was never free for another process to take (Start hands its own
// listening socket to moto).
func TestStartServesTheSocketItKeeps(t *testing.T) {
	s := server
	s.ResetT(t)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := net.Listen("tcp", u.Host); err == nil {
		l.Close()
		t.Fatalf("net.Listen(%s) succeeded while moto runs: the port is not held", u.Host)
	}
	resp, err := http.Get(s.URL + "/moto-api/")
	if err != nil {
		t.Fatalf("GET /moto-api/: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /moto-api/ = %d; want 200", resp.StatusCode)
	}
	sm := s.SecretsManager()
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("motoserver-test"), SecretString: aws.String("{}")}); err != nil {
		t.Fatalf("CreateSecret through %s: %v", s.URL, err)
	}
}

// TestStopFreesThePort: after Stop nothing serves the port any more.
func TestStopFreesThePort(t *testing.T) {
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := http.Get(s.URL + "/moto-api/"); err == nil {
		t.Fatalf("moto still answers on %s after Stop", s.URL)
	}
}

// TestResetEmptiesTheServer: after Reset no secret is left, and a function
// registered before is registered again (moto forgot it too).
func TestResetEmptiesTheServer(t *testing.T) {
	s := server
	s.ResetT(t)
	ctx := context.Background()
	api := s.SecretsManager()
	if _, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("before-reset"), SecretString: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterFunction(ctx, "fn"); err != nil {
		t.Fatal(err)
	}
	api = s.ResetT(t)
	out, err := api.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretList) != 0 {
		t.Errorf("after Reset %d secrets are left; want none", len(out.SecretList))
	}
	if _, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("before-reset"), SecretString: aws.String("{}")}); err != nil {
		t.Errorf("the name of a secret from before Reset: %v; want it free", err)
	}
	arn, err := s.RegisterFunction(ctx, "fn")
	if err != nil {
		t.Fatalf("RegisterFunction after Reset: %v; want the function and its role created again", err)
	}
	if _, err := lambda.NewFromConfig(s.Config()).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)}); err != nil {
		t.Errorf("function %s after Reset and RegisterFunction: %v; want it in moto again", arn, err)
	}
}
