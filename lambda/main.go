// Command bootstrap is the credential-sync Lambda function (provided.al2023).
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("not wired yet")
	})
}
