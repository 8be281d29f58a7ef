// Package smapi is a small client for the two Amazon services the sync talks
// to: Login with Amazon (LWA), which turns a refresh token into an access
// token, and the Skill Management API (SMAPI): the Skill Credentials API,
// GET /v1/skills/{skillId}/credentials, and the vendor and skill lists of
// vendor discovery, GET /v1/vendors and GET /v1/skills?vendorId=… (vendors.go).
//
// It speaks HTTP only: it imports no AWS package (a test holds that). Every
// error it returns names the operation, carries the HTTP status and the
// X-Amzn-RequestId when there was a response, and never holds a secret, a
// token or a raw response body.
package smapi
