package awsrecord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

const secretValue = "RECORDER-MUST-NOT-KEEP-THIS"

// moto is the package's server; each test that uses it resets it first.
var moto *motoserver.Server

func TestMain(m *testing.M) { motoserver.RunTests(m, &moto) }

// TestRecordsSecretsManagerCalls sends real SDK requests through the
// recorder to moto and checks what it noted, and that the answers arrive
// unchanged.
func TestRecordsSecretsManagerCalls(t *testing.T) {
	ctx := context.Background()
	moto.ResetT(t)
	rec := StartT(t, moto.URL)
	cfg := moto.Config()
	cfg.BaseEndpoint = aws.String(rec.URL())
	sm := secretsmanager.NewFromConfig(cfg)

	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("app/one"), SecretString: aws.String(`{"v":"` + secretValue + `"}`),
		KmsKeyId: aws.String("alias/app"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN, VersionStage: aws.String("AWSCURRENT")})
	if err != nil || !strings.Contains(aws.ToString(got.SecretString), secretValue) {
		t.Fatalf("GetSecretValue through the recorder = %v, %v; want the value", got, err)
	}
	if _, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"app/"}}}}); err != nil {
		t.Fatal(err)
	}
	batch, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"app/one"}})
	if err != nil || len(batch.SecretValues) != 1 {
		t.Fatalf("BatchGetSecretValue = %v, %v; want one value", batch, err)
	}
	if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/missing")}); err == nil {
		t.Fatal("DescribeSecret of a missing secret succeeded")
	}
	resp, err := http.Get(rec.URL() + "/moto-api/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	want := []string{
		"secretsmanager:CreateSecret Name=app/one KmsKeyId=alias/app Tags=team",
		"secretsmanager:GetSecretValue SecretId=" + aws.ToString(created.ARN),
		"secretsmanager:ListSecrets Filters=name=app/",
		"secretsmanager:BatchGetSecretValue SecretIdList=app/one",
		// moto answers 404 where AWS answers 400; the recorder notes what it saw.
		"secretsmanager:DescribeSecret SecretId=app/missing (answered 404 ResourceNotFoundException)",
		": unrecognised request GET /moto-api/",
	}
	calls := rec.Calls()
	if len(calls) != len(want) {
		t.Fatalf("recorded %d calls %v; want %d", len(calls), calls, len(want))
	}
	for i, c := range calls {
		if c.String() != want[i] {
			t.Errorf("call %d = %q; want %q", i, c.String(), want[i])
		}
		if s := fmt.Sprintf("%+v", c); strings.Contains(s, secretValue) {
			t.Errorf("call %d keeps a secret value: %s", i, s)
		}
	}
	if tags := calls[0].Tags; len(tags) != 1 || tags["team"] != "platform" {
		t.Errorf("CreateSecret tags = %v; want team=platform", tags)
	}
	if r := calls[3].Returned; len(r) != 1 || r[0] != aws.ToString(created.ARN) {
		t.Errorf("BatchGetSecretValue returned = %v; want [%s]", r, aws.ToString(created.ARN))
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, target, auth, ctype, body, want string
	}{
		{"json 1.1 with scope", "TrentService.Decrypt", "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x", "application/x-amz-json-1.1", `{"KeyId":"k","CiphertextBlob":"c2VjcmV0"}`, "kms:Decrypt KeyId=k"},
		{"json without scope", "secretsmanager.PutSecretValue", "", "application/x-amz-json-1.1", `{"SecretId":"s","SecretString":"v"}`, "secretsmanager:PutSecretValue SecretId=s"},
		{"query protocol", "", "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/sts/aws4_request, SignedHeaders=host", "application/x-www-form-urlencoded; charset=utf-8", "Action=GetCallerIdentity&Version=2011-06-15", "sts:GetCallerIdentity"},
		{"rest", "", "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/lambda/aws4_request, SignedHeaders=host", "application/json", `{}`, "lambda: unrecognised request POST /"},
		{"bad json", "secretsmanager.GetSecretValue", "", "application/x-amz-json-1.1", `{`, "secretsmanager:GetSecretValue"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(tt.body))
		if tt.target != "" {
			req.Header.Set("X-Amz-Target", tt.target)
		}
		req.Header.Set("Authorization", tt.auth)
		req.Header.Set("Content-Type", tt.ctype)
		if got := parseRequest(req, []byte(tt.body)).String(); got != tt.want {
			t.Errorf("%s: parseRequest = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestEnv(t *testing.T) {
	r := StartT(t, "http://127.0.0.1:1")
	got := r.Env([]string{"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_ENDPOINT_URL_X=y"})
	want := "AWS_REGION=us-east-1 AWS_ENDPOINT_URL_X=y AWS_ENDPOINT_URL=" + r.URL()
	if strings.Join(got, " ") != want {
		t.Errorf("Env = %v; want %s", got, want)
	}
}

// TestThrottle: a request the hook refuses is not forwarded and is answered
// as Secrets Manager answers a throttled one, which the SDK reads as a
// throttling error with its request id; the others still reach moto.
func TestThrottle(t *testing.T) {
	ctx := context.Background()
	moto.ResetT(t)
	rec := StartT(t, moto.URL)
	rec.SetThrottle(func(c Call) bool { return c.Operation == "GetSecretValue" })
	cfg := moto.Config()
	cfg.BaseEndpoint = aws.String(rec.URL())
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })

	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("throttle/one"), SecretString: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("throttle/one")})
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" || api.ErrorMessage() != "Rate exceeded" {
		t.Fatalf("GetSecretValue err = %v; want ThrottlingException: Rate exceeded", err)
	}
	if !errors.As(err, &resp) || resp.HTTPStatusCode() != http.StatusBadRequest || len(resp.ServiceRequestID()) != 36 {
		t.Fatalf("GetSecretValue err = %v; want HTTP 400 with a request id", err)
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("the SDK does not classify %v as throttling", err)
	}
	calls := rec.Calls()
	if len(calls) != 2 || calls[1].String() != "secretsmanager:GetSecretValue SecretId=throttle/one (answered 400 ThrottlingException)" {
		t.Errorf("calls = %v; want the create, then the throttled read", calls)
	}
}
