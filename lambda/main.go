// Command bootstrap is the credential-sync Lambda function (provided.al2023).
// It only wires: configuration from the environment, clients built once per
// container, and lambda.Start. See internal/credsync for what a run does.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/config"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/credsync"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// requestTimeout bounds one HTTP request to LWA or SMAPI.
const requestTimeout = 10 * time.Second

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	syncer, err := setup(context.Background(), logger)
	if err != nil {
		// Fail every invocation with the reason instead of crashing the
		// container: the invoker sees the message, and
		// credsync.ReportConfigError reports the failed run for the alarms.
		logger.Error("configuration error", "error", err.Error())
		lambda.Start(credsync.ReportConfigError(logger, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), err))
		return
	}
	lambda.Start(syncer.Handle)
}

func setup(ctx context.Context, logger *slog.Logger) (*credsync.Syncer, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	hc := smapi.NewHTTPClient(requestTimeout)
	tokens := smapi.NewTokenSource(cfg.LWATokenURL, hc)
	client, err := smapi.NewClient(cfg.SMAPIEndpoint, tokens, hc)
	if err != nil {
		return nil, err
	}
	return &credsync.Syncer{
		Store:        store.NewFromConfig(awsCfg, store.Options{}),
		Client:       client,
		Tokens:       tokens,
		LWASecretID:  cfg.LWASecretID,
		Prefix:       cfg.SkillSecretPrefix,
		Concurrency:  cfg.Concurrency,
		FunctionName: cfg.FunctionName,
		Logger:       logger,
		Discover:     cfg.Discovery == contract.DiscoveryVendor,
		VendorID:     cfg.VendorID,
		Declared:     cfg.DeclaredSkillIDs,
		Create: credsync.Creation{
			KMSKeyID:          cfg.KMSKeyID,
			RotationDays:      cfg.RotationDays,
			RotationLambdaARN: cfg.RotationLambdaARN,
			FunctionARN:       invokedFunctionARN,
		},
	}, nil
}

// invokedFunctionARN is the ARN the function was invoked with, from the
// Lambda context: the rotation function of the secrets it creates.
func invokedFunctionARN(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.InvokedFunctionArn
	}
	return ""
}
