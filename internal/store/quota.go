package store

// QuotasPage is where AWS documents Secrets Manager's request quotas: per
// account and region, not adjustable. Every number below is from it.
const QuotasPage = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"

// Group is a Secrets Manager request quota: the operations whose requests
// count against one rate.
type Group string

// The quota groups of the operations the function calls, and of those that
// share a quota with them (QuotasPage).
const (
	// GroupWrite: PutSecretValue, UpdateSecret, UpdateSecretVersionStage,
	// RemoveRegionsFromReplication, ReplicateSecretToRegion and
	// StopReplicationToReplica, combined.
	GroupWrite Group = "write"
	// GroupCreate: CreateSecret.
	GroupCreate Group = "create"
	// GroupRotate: RotateSecret and CancelRotateSecret, combined.
	GroupRotate Group = "rotate"
	// GroupTag: TagResource and UntagResource, combined. The function tags
	// in CreateSecret and never calls these; the fakes enforce the group.
	GroupTag Group = "tag"
	// GroupBatchRead: BatchGetSecretValue.
	GroupBatchRead Group = "batch-read"
	// GroupList: ListSecrets.
	GroupList Group = "list"
	// GroupRead: GetSecretValue and DescribeSecret, combined.
	GroupRead Group = "read"
)

// operationGroups maps each operation to its quota group (QuotasPage).
var operationGroups = map[string]Group{
	"PutSecretValue":               GroupWrite,
	"UpdateSecret":                 GroupWrite,
	"UpdateSecretVersionStage":     GroupWrite,
	"RemoveRegionsFromReplication": GroupWrite,
	"ReplicateSecretToRegion":      GroupWrite,
	"StopReplicationToReplica":     GroupWrite,
	"CreateSecret":                 GroupCreate,
	"RotateSecret":                 GroupRotate,
	"CancelRotateSecret":           GroupRotate,
	"TagResource":                  GroupTag,
	"UntagResource":                GroupTag,
	"BatchGetSecretValue":          GroupBatchRead,
	"ListSecrets":                  GroupList,
	"GetSecretValue":               GroupRead,
	"DescribeSecret":               GroupRead,
}

// GroupOf returns the quota group of a Secrets Manager operation, and false
// for an operation outside the groups above.
func GroupOf(operation string) (Group, bool) {
	g, ok := operationGroups[operation]
	return g, ok
}

// Quotas are request rates per quota group, in requests a second. A group
// that is missing is not limited.
type Quotas map[Group]float64

// DefaultQuotas returns Secrets Manager's documented request quotas
// (QuotasPage, "Secrets Manager quotas"; each is "Each supported Region",
// "Adjustable: No").
func DefaultQuotas() Quotas {
	return Quotas{
		GroupWrite:     50,     // QuotasPage: combined rate of PutSecretValue, …, UpdateSecret and UpdateSecretVersionStage: 50 per second
		GroupCreate:    50,     // QuotasPage: rate of CreateSecret: 50 per second
		GroupRotate:    50,     // QuotasPage: combined rate of RotateSecret and CancelRotateSecret: 50 per second
		GroupTag:       50,     // QuotasPage: combined rate of TagResource and UntagResource: 50 per second
		GroupBatchRead: 100,    // QuotasPage: rate of BatchGetSecretValue: 100 per second
		GroupList:      100,    // QuotasPage: rate of ListSecrets: 100 per second
		GroupRead:      10_000, // QuotasPage: combined rate of DescribeSecret and GetSecretValue: 10,000 per second
	}
}

// Scaled returns q with every rate multiplied by f: tests scale the quotas
// down so that a few dozen skills meet them.
func (q Quotas) Scaled(f float64) Quotas {
	out := make(Quotas, len(q))
	for g, r := range q {
		out[g] = r * f
	}
	return out
}
