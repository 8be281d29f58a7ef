package storetest

import (
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Quota enforces Secrets Manager's request quotas the way the service does
// (store.QuotasPage): each group admits at most its rate's requests in any
// one-second window, counting only the requests it admitted, and refuses the
// others. The page gives each quota as "per second" without a burst; a
// sliding window is the strictest reading of it. A group that q does not
// name is not limited. It is safe for concurrent use, and it reads time.Now,
// so it runs on a synctest bubble's clock inside one.
type Quota struct {
	mu        sync.Mutex
	quotas    store.Quotas
	admitted  map[store.Group][]time.Time
	throttled map[string]int
}

// NewQuota enforces q; tests that scale the quotas down say so.
func NewQuota(q store.Quotas) *Quota {
	return &Quota{quotas: q, admitted: map[store.Group][]time.Time{}, throttled: map[string]int{}}
}

// Allow reports whether a request of operation op is admitted now, and
// counts it for its group when it is.
func (q *Quota) Allow(op string) bool {
	g, ok := store.GroupOf(op)
	if !ok {
		return true
	}
	r, ok := q.quotas[g]
	if !ok {
		return true
	}
	// A rate below one a second admits one request per 1/r seconds.
	n := max(1, int(math.Floor(r)))
	window := time.Duration(float64(n) / r * float64(time.Second))
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	times := q.admitted[g]
	for len(times) > 0 && !times[0].After(now.Add(-window)) {
		times = times[1:]
	}
	if len(times) >= n {
		q.admitted[g] = times
		q.throttled[op]++
		return false
	}
	q.admitted[g] = append(times, now)
	return true
}

// Throttled returns how many requests of each operation were refused.
func (q *Quota) Throttled() map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[string]int, len(q.throttled))
	for op, n := range q.throttled {
		out[op] = n
	}
	return out
}

// ThrottlingError returns the error the AWS SDK returns for a Secrets
// Manager request refused for its quota: HTTP 400 with the error code
// ThrottlingException and the message "Rate exceeded" (CommonErrors,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html),
// in the SDK's wrapping (operation error, response error with a request id),
// so that the SDK's retry classification and errors.As see what they see
// against AWS.
func ThrottlingError(op string) error {
	return &smithy.OperationError{
		ServiceID:     "Secrets Manager",
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{}}},
				Err:      &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"},
			},
			RequestID: RequestID(),
		},
	}
}

// RequestID returns a random request id shaped like AWS's
// (x-amzn-RequestId: a UUID).
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
