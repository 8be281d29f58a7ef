// Command skill-lambda is a minimal skill-side Lambda function that sends a
// message to its Alexa skill with package skillmessaging. It only wires:
// configuration from the environment and clients built once per container,
// then lambda.Start. Build it like any provided.al2023 function:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./examples/skill-lambda
//
// Environment:
//
//	SKILL_ID             required: the skill's id, amzn1.ask.skill.<uuid>
//	SKILL_SECRET_PREFIX  the sync's SKILL_SECRET_PREFIX (the secret is <prefix><SKILL_ID>), or
//	SKILL_SECRET_ID      the skill secret's full name or ARN
//	ALEXA_API_ENDPOINT   default endpoint when an event has no apiEndpoint (default North America)
//	LWA_TOKEN_URL        optional, LWA's token endpoint (tests)
//
// Event: {"userId": "amzn1.ask.account.…", "apiEndpoint": "https://api.eu.amazonalexa.com",
// "data": {"key": "string value", …}, "expiresAfterSeconds": 3600}; apiEndpoint (the skill
// request's context.System.apiEndpoint), data and expiresAfterSeconds are optional.
// Whoever shapes the payload names the endpoint, so the access token goes only to
// Amazon's Alexa API hosts (skillmessaging.AlexaAPIHosts; a loopback host in tests):
// any other apiEndpoint fails with skillmessaging.ErrInvalidEndpoint before a token is
// requested.
// Result: {"requestId": "…", "attempts": N}.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Event asks the function to send one message.
type Event struct {
	UserID              string            `json:"userId"`
	APIEndpoint         string            `json:"apiEndpoint,omitempty"`
	Data                map[string]string `json:"data,omitempty"`
	ExpiresAfterSeconds int               `json:"expiresAfterSeconds,omitempty"`
}

// Result is the API's acceptance of the message.
type Result struct {
	RequestID string `json:"requestId"`
	Attempts  int    `json:"attempts"`
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := setup(context.Background(), os.Getenv, logger)
	if err != nil {
		logger.Error("configuration error", "error", err.Error())
		lambda.Start(func(context.Context, Event) (*Result, error) { return nil, err })
		return
	}
	lambda.Start(h.Handle)
}

// handler holds what is built once per container.
type handler struct {
	sender   *skillmessaging.Sender
	endpoint string
	logger   *slog.Logger
}

// setup reads the environment and builds the Secrets Manager client, the
// credentials reader and the sender.
func setup(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*handler, error) {
	skillID := getenv("SKILL_ID")
	if skillID == "" {
		return nil, errors.New("SKILL_ID is required")
	}
	prefix, secretID := getenv("SKILL_SECRET_PREFIX"), getenv("SKILL_SECRET_ID")
	if (prefix == "") == (secretID == "") {
		return nil, errors.New("set exactly one of SKILL_SECRET_PREFIX and SKILL_SECRET_ID")
	}
	endpoint := getenv("ALEXA_API_ENDPOINT")
	if endpoint == "" {
		endpoint = skillmessaging.EndpointNorthAmerica
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	creds := skillmessaging.NewCredentialsCache(sm, prefix)
	if secretID != "" {
		creds = skillmessaging.NewSecretCredentialsCache(sm, secretID)
	}
	sender, err := skillmessaging.NewSender(creds, skillID, skillmessaging.WithTokenURL(getenv("LWA_TOKEN_URL")))
	if err != nil {
		return nil, fmt.Errorf("SKILL_ID or LWA_TOKEN_URL: %w", err)
	}
	return &handler{sender: sender, endpoint: endpoint, logger: logger}, nil
}

// Handle sends the event's message.
func (h *handler) Handle(ctx context.Context, ev Event) (*Result, error) {
	start := time.Now()
	endpoint := ev.APIEndpoint
	if endpoint == "" {
		endpoint = h.endpoint
	}
	res, err := h.sender.Send(ctx, endpoint, ev.UserID, skillmessaging.Message{Data: ev.Data, ExpiresAfterSeconds: ev.ExpiresAfterSeconds})
	if err != nil {
		var apiErr *skillmessaging.Error
		requestID := ""
		if errors.As(err, &apiErr) {
			requestID = apiErr.RequestID
		}
		h.logger.Error("message not sent", "request_id", requestID, "duration_ms", time.Since(start).Milliseconds(), "error", err.Error())
		return nil, err
	}
	h.logger.Info("message sent", "request_id", res.RequestID, "attempts", res.Attempts, "duration_ms", time.Since(start).Milliseconds())
	return &Result{RequestID: res.RequestID, Attempts: res.Attempts}, nil
}
