package motoserver

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// RotationFunctionName is the function EnableRotation registers in moto's
// Lambda API. moto cannot run it (that needs docker); tests drive the
// rotation steps themselves.
const RotationFunctionName = "skill-credentials-rotation"

// EnableRotation turns rotation on for secretID the way Secrets Manager does
// for "rotate immediately": moto stages a version with id token and the
// AWSPENDING label and no value yet. The rotation function ARN is always
// passed (without it moto makes the empty version AWSCURRENT at once).
func (s *Server) EnableRotation(ctx context.Context, secretID, token string) error {
	return s.rotate(ctx, secretID, token, true)
}

// ConfigureRotation turns rotation on without rotating, as a stack's rotation
// schedule does: Secrets Manager then tests the configuration by calling
// testSecret on an AWSPENDING copy of the current value, which moto stages
// under token.
func (s *Server) ConfigureRotation(ctx context.Context, secretID, token string) error {
	return s.rotate(ctx, secretID, token, false)
}

// RotationFunctionARN returns the ARN of a function registered in moto's
// Lambda API, which moto accepts as a secret's rotation function.
func (s *Server) RotationFunctionARN(ctx context.Context) (string, error) {
	return s.rotationFunction(ctx)
}

func (s *Server) rotate(ctx context.Context, secretID, token string, immediately bool) error {
	arn, err := s.rotationFunction(ctx)
	if err != nil {
		return err
	}
	_, err = s.SecretsManager().RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:           &secretID,
		ClientRequestToken: &token,
		RotationLambdaARN:  &arn,
		RotateImmediately:  aws.Bool(immediately),
		RotationRules:      &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil {
		return fmt.Errorf("enable rotation of %s: %w", secretID, err)
	}
	return nil
}

// rotationFunction registers (once per server) the function moto requires
// before it accepts a rotation.
func (s *Server) rotationFunction(ctx context.Context) (string, error) {
	return s.RegisterFunction(ctx, RotationFunctionName)
}

// RegisterFunction registers a placeholder function named name in moto's
// Lambda API, with the IAM role moto requires (both once per server), and
// returns its ARN, which moto then accepts as a secret's rotation function.
// A test that must name the stack's function registers the stack's name.
func (s *Server) RegisterFunction(ctx context.Context, name string) (string, error) {
	s.rotationMu.Lock()
	defer s.rotationMu.Unlock()
	if arn := s.functions[name]; arn != "" {
		return arn, nil
	}
	cfg := s.Config()
	if s.roleARN == "" {
		role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 aws.String("skill-credentials-rotation-test"),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		})
		if err != nil {
			return "", fmt.Errorf("create rotation role in moto: %w", err)
		}
		s.roleARN = aws.ToString(role.Role.Arn)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	_, _ = w.Write([]byte("placeholder: moto never runs it"))
	if err := zw.Close(); err != nil {
		return "", err
	}
	fn, err := lambda.NewFromConfig(cfg).CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String(name),
		Role:          aws.String(s.roleARN),
		Runtime:       lambdatypes.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []lambdatypes.Architecture{lambdatypes.ArchitectureArm64},
		Code:          &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
	})
	if err != nil {
		return "", fmt.Errorf("create function %s in moto: %w", name, err)
	}
	arn := aws.ToString(fn.FunctionArn)
	if arn == "" {
		return "", errors.New("moto returned no function ARN")
	}
	if s.functions == nil {
		s.functions = map[string]string{}
	}
	s.functions[name] = arn
	return arn, nil
}
