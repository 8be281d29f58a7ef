package smapi

import "github.com/alexa-skill-credentials/alexa-skill-credentials/internal/alexahttp"

// The HTTP plumbing shared with package skillmessaging lives in
// internal/alexahttp (a module of its own on Go 1.24, so that skillmessaging's
// users get none of the sync's dependencies). These names keep it part of
// this package's API for the sync's code. The retry policy is the sync's own
// (retry.go): its pacer is keyed by skill.
type (
	APIError      = alexahttp.APIError
	ResponseError = alexahttp.ResponseError
)

const (
	MaxBodyBytes = alexahttp.MaxBodyBytes
	Version      = alexahttp.Version
	UserAgent    = alexahttp.UserAgent
)

var (
	ErrInvalidSkillID = alexahttp.ErrInvalidSkillID
	ErrNoTimeToRetry  = alexahttp.ErrNoTimeToRetry
	errBodyTooLarge   = alexahttp.ErrBodyTooLarge

	CheckResponse          = alexahttp.CheckResponse
	ClientCredentialsToken = alexahttp.ClientCredentialsToken
	DescribeAnswer         = alexahttp.DescribeAnswer
	LWAError               = alexahttp.LWAError
	NewHTTPClient          = alexahttp.NewHTTPClient
	ParseEndpoint          = alexahttp.ParseEndpoint
	ParseRetryAfter        = alexahttp.ParseRetryAfter
	ReadBody               = alexahttp.ReadBody
	RequestID              = alexahttp.RequestID
	RequestIDFromHeader    = alexahttp.RequestIDFromHeader
	ValidateSkillID        = alexahttp.ValidateSkillID
	clip                   = alexahttp.Clip
)
