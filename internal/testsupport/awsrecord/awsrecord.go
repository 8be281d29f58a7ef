// Package awsrecord records the AWS API calls a process makes: a reverse
// proxy on loopback, put between the process and moto by pointing the
// process's AWS_ENDPOINT_URL at it, that notes the service, the operation
// and the resources each request names, and forwards it unchanged.
//
// It understands the JSON protocols (Secrets Manager and KMS speak JSON 1.1:
// the operation is the X-Amz-Target header, the parameters a JSON body) and
// the query protocol (Action in a form body). A request it cannot read is
// still forwarded and recorded, with an empty Operation, so a check over the
// calls can refuse it rather than miss it.
//
// It can also stand in for a request quota (SetThrottle): a request the
// hook refuses is not forwarded, and is answered as Secrets Manager answers a
// throttled request, which moto never does.
//
// Secret values never reach a Call: only the parameters that name resources
// (ResourceParams) and the request's tags are kept, never SecretString,
// SecretBinary or a response's values.
package awsrecord

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Call is one recorded request.
type Call struct {
	// Service is the SigV4 signing name (secretsmanager, kms).
	Service string
	// Operation is the API operation (GetSecretValue), empty when the
	// request was not understood; Raw then says what it was.
	Operation string
	Raw       string
	// Params holds the request's resource-naming parameters (see
	// ResourceParams) by name; Filters as "key=value" items, Tags as keys.
	Params map[string][]string
	// Tags are the request's tags (CreateSecret, TagResource), key to value,
	// for the aws:RequestTag/… and aws:TagKeys condition keys. Tag values
	// are not secret: AWS shows them to anyone who may describe the secret.
	Tags map[string]string
	// Returned holds the ARNs of the secrets a response handed out values of
	// (BatchGetSecretValue's SecretValues), which need their own
	// GetSecretValue permission.
	Returned []string
	// Status is the HTTP status of the answer; ErrorCode its error type.
	Status    int
	ErrorCode string
}

// ResourceParams are the request parameters a Call keeps: the ones that name
// secrets, keys, functions and tags. Everything else in a request body,
// secret values included, is dropped.
var ResourceParams = []string{"SecretId", "SecretIdList", "Name", "KmsKeyId", "KeyId", "RotationLambdaARN", "Filters", "Tags", "TagKeys"}

// String renders the call for messages, e.g.
// "secretsmanager:GetSecretValue SecretId=alexa/lwa".
func (c Call) String() string {
	var b strings.Builder
	if c.Operation == "" {
		fmt.Fprintf(&b, "%s: unrecognised request %s", c.Service, c.Raw)
	} else {
		b.WriteString(c.Service + ":" + c.Operation)
	}
	for _, k := range ResourceParams {
		if v, ok := c.Params[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, strings.Join(v, ","))
		}
	}
	if c.ErrorCode != "" {
		fmt.Fprintf(&b, " (answered %d %s)", c.Status, c.ErrorCode)
	}
	return b.String()
}

// Recorder is a running recording proxy. It is safe for concurrent use.
type Recorder struct {
	srv   *http.Server
	ln    net.Listener
	proxy *httputil.ReverseProxy

	mu       sync.Mutex
	calls    []Call
	throttle func(Call) bool
}

// Start listens on a free loopback port and forwards every request to
// target (moto's URL).
func Start(target string) (*Recorder, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("awsrecord: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Recorder{ln: ln}
	r.proxy = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		// An uncompressed answer, so that the recorder can read it.
		pr.Out.Header.Del("Accept-Encoding")
	}}
	r.proxy.ModifyResponse = r.modifyResponse
	r.proxy.ErrorHandler = r.proxyError
	r.srv = &http.Server{Handler: r}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// StartT starts a recorder for a test and closes it when the test ends.
func StartT(t testing.TB, target string) *Recorder {
	t.Helper()
	r, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// URL is the proxy's address, the value for AWS_ENDPOINT_URL.
func (r *Recorder) URL() string { return "http://" + r.ln.Addr().String() }

// Env returns env with AWS_ENDPOINT_URL pointed at the recorder.
func (r *Recorder) Env(env []string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") })
	return append(out, "AWS_ENDPOINT_URL="+r.URL())
}

// Calls returns the calls recorded so far, in the order they were answered.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Close stops the proxy.
func (r *Recorder) Close() { _ = r.srv.Close() }

// maxBody bounds what the recorder reads of a request or answer body to
// find names in; bodies are forwarded whole either way.
const maxBody = 1 << 20

// SetThrottle makes the recorder answer every request for which fn returns
// true itself, as Secrets Manager answers a request beyond its quota: HTTP
// 400, Content-Type application/x-amz-json-1.1, an x-amzn-RequestId, and the
// body {"__type":"ThrottlingException","message":"Rate exceeded"} (Secrets
// Manager's CommonErrors: ThrottlingException, HTTP status code 400,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html;
// the quotas: https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html).
// Such a call is recorded with Status 400 and ErrorCode ThrottlingException.
// fn is called once per request, from the request's goroutine; nil forwards
// everything.
func (r *Recorder) SetThrottle(fn func(Call) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.throttle = fn
}

// ThrottlingBody is what Secrets Manager answers a throttled request with.
const ThrottlingBody = `{"__type":"ThrottlingException","message":"Rate exceeded"}`

// ServeHTTP records req and forwards it. The call is recorded before the
// answer goes back (ModifyResponse, or the error handler when moto cannot
// be reached), so that a caller that has its answer finds its call in Calls.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "awsrecord: read request: "+err.Error(), http.StatusBadGateway)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	call := parseRequest(req, body)
	r.mu.Lock()
	throttle := r.throttle
	r.mu.Unlock()
	if throttle != nil && throttle(call) {
		call.Status, call.ErrorCode = http.StatusBadRequest, "ThrottlingException"
		r.record(call)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-RequestId", requestID())
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, ThrottlingBody)
		return
	}
	r.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), callKey{}, &call)))
}

// callKey carries a request's *Call from ServeHTTP to the proxy's hooks.
type callKey struct{}

// modifyResponse reads the first maxBody bytes of an answer, records its
// call, and hands the answer on unchanged.
func (r *Recorder) modifyResponse(resp *http.Response) error {
	call := resp.Request.Context().Value(callKey{}).(*Call)
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	call.Status = resp.StatusCode
	parseResponse(call, head)
	r.record(*call)
	return nil
}

// proxyError records a call moto did not answer, and answers 502.
func (r *Recorder) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	call := req.Context().Value(callKey{}).(*Call)
	call.Status = http.StatusBadGateway
	r.record(*call)
	http.Error(w, "awsrecord: "+err.Error(), http.StatusBadGateway)
}

// requestID returns a random UUID, the shape of AWS's request ids.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (r *Recorder) record(c Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// parseRequest reads the service, operation and resource parameters.
func parseRequest(req *http.Request, body []byte) Call {
	c := Call{Service: signingName(req.Header.Get("Authorization")), Params: map[string][]string{}}
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		prefix, op, _ := strings.Cut(target, ".")
		c.Operation = op
		if c.Service == "" {
			c.Service = strings.ToLower(prefix)
		}
		c.Params = jsonParams(body)
		c.Tags = jsonTags(body)
		return c
	}
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			c.Operation = form.Get("Action")
			for _, k := range ResourceParams {
				if v, ok := form[k]; ok {
					c.Params[k] = v
				}
			}
			return c
		}
	}
	c.Raw = req.Method + " " + req.URL.Path
	return c
}

// signingName returns the service of a SigV4 Authorization header's
// credential scope (Credential=AKID/date/region/service/aws4_request).
func signingName(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// jsonParams picks the resource parameters out of a JSON request body.
func jsonParams(body []byte) map[string][]string {
	out := map[string][]string{}
	var m map[string]json.RawMessage
	if len(body) > maxBody || json.Unmarshal(body, &m) != nil {
		return out
	}
	for _, k := range ResourceParams {
		v, ok := m[k]
		if !ok {
			continue
		}
		var s string
		var list []string
		var pairs []struct {
			Key    string
			Value  *string
			Values []string
		}
		switch {
		case json.Unmarshal(v, &s) == nil:
			out[k] = []string{s}
		case json.Unmarshal(v, &list) == nil:
			out[k] = list
		case json.Unmarshal(v, &pairs) == nil:
			for _, p := range pairs {
				if p.Values != nil { // Filters
					out[k] = append(out[k], p.Key+"="+strings.Join(p.Values, "|"))
				} else { // Tags: keys only
					out[k] = append(out[k], p.Key)
				}
			}
		}
	}
	return out
}

// jsonTags reads the Tags list ([{"Key","Value"}]) of a JSON request body.
func jsonTags(body []byte) map[string]string {
	var m struct {
		Tags []struct{ Key, Value string }
	}
	if len(body) > maxBody || json.Unmarshal(body, &m) != nil || m.Tags == nil {
		return nil
	}
	out := make(map[string]string, len(m.Tags))
	for _, t := range m.Tags {
		out[t.Key] = t.Value
	}
	return out
}

// parseResponse notes the error type and the secrets an answer returned
// values of.
func parseResponse(c *Call, body []byte) {
	var m struct {
		Type         string `json:"__type"`
		SecretValues []struct{ ARN string }
	}
	if json.Unmarshal(body, &m) != nil {
		return
	}
	if c.Status >= 300 {
		c.ErrorCode = m.Type
	}
	for _, v := range m.SecretValues {
		c.Returned = append(c.Returned, v.ARN)
	}
}
