package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// Context keys read by LoadConfig. Each is documented, with its default, in
// README.md ("Configuration") and docs/deploy.md ("2. Configure").
const (
	ctxStackName         = "stackName"
	ctxSkillIDs          = "skillIds"
	ctxSchedule          = "schedule"
	ctxLWASecretName     = "lwaSecretName"
	ctxSkillSecretPrefix = "skillSecretPrefix"
	ctxAlarmEmail        = "alarmEmail"
	ctxLogRetentionDays  = "logRetentionDays"
	ctxSyncConcurrency   = "syncConcurrency"
	ctxRotationDays      = "rotationDays"
	ctxReaderRoleARNs    = "readerRoleArns"
	ctxSkillDiscovery    = "skillDiscovery"
	ctxVendorID          = "vendorId"
	// ctxFunctionCreatesSecrets makes the function create the declared
	// skills' secrets however few there are.
	ctxFunctionCreatesSecrets = "functionCreatesSecrets"
	// ctxReaderRefresh lets the readers ask for a rotation of their skills'
	// secrets (skillmessaging.WithRotateOnRefusal).
	ctxReaderRefresh = "readerRefresh"
)

// Defaults used when a context key is absent. cdk.json repeats them so that
// they are visible next to the app.
const (
	DefaultStackName         = "AlexaSkillCredentials"
	DefaultSchedule          = "rate(12 hours)"
	DefaultLWASecretName     = "alexa/skill-credentials/lwa"
	DefaultSkillSecretPrefix = "alexa/skill-messaging/"
	DefaultLogRetentionDays  = 90
	DefaultSyncConcurrency   = contract.DefaultConcurrency
	DefaultRotationDays      = 30
	DefaultSkillDiscovery    = contract.DiscoveryOff
)

// SkillIDsFile is the file, next to bootstrap in the function's code, that
// lists the declared skills when the function creates their secrets.
const SkillIDsFile = "skill-ids.json"

// stackNamePattern is what CloudFormation accepts as a stack name: letters,
// digits and hyphens, starting with a letter, at most 128 characters
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html,
// StackName). The CDK also uses it as the stack's construct id and the
// template's file name (cdk.out/<stackName>.template.json).
var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// Bounds of readerRoleArns. Roles granted the same skills share one managed
// policy (a policy lists at most maxReaderRoles roles here); each distinct
// grant is one more stack resource, so there are at most maxReaderPolicies
// (TestResourceBudget checks the sum with contract.MaxStackSkillSecrets).
const (
	maxReaderRoles    = 100
	maxReaderPolicies = 8
)

// AllSkills in a reader's skill list grants every skill under the prefix.
const AllSkills = "*"

// readerSkillLimit is the most skills one reader grant may list: each adds
// a resource ARN of up to 134 characters plus the prefix to a managed
// policy, which IAM limits to 6,144 characters (TestReaderPolicySize).
func readerSkillLimit(prefix string) int {
	return (6144 - 500) / (134 + len(prefix))
}

// Reader is a role (a skill Lambda's execution role) granted read access to
// skill secrets.
type Reader struct {
	// RoleARN is the role, in the stack's account.
	RoleARN string
	// SkillIDs are the skills it may read, sorted; nil means every skill
	// under the prefix (["*"] in the context).
	SkillIDs []string
}

// roleARNPattern matches an IAM role ARN: partition, the 12-digit account
// and the role's path and name (the name is the last segment).
var roleARNPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\x21-\x7E]*/)?([\w+=,.@-]{1,64})$`)

// secretNamePattern is the character set Secrets Manager accepts in names.
var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

// arnSuffixLike matches names that end like a secret ARN's random suffix,
// which Secrets Manager warns makes partial-ARN lookups ambiguous.
var arnSuffixLike = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// Config is the validated configuration of one SkillCredentialsStack.
type Config struct {
	// StackName is the CloudFormation stack name. Every physical name the
	// stack does not take from the configuration (functions, roles, log
	// groups, alarms, queues, the dashboard...) is generated from it, so
	// two deployments in one account and region differ by it, by
	// LWASecretName and by SkillSecretPrefix.
	StackName string
	// SkillIDs are the skills whose secrets the stack creates, in context order.
	SkillIDs []string
	// Schedule is the EventBridge schedule of the sync.
	Schedule Schedule
	// LWASecretName is the name of the secret holding the LWA client and refresh token.
	LWASecretName string
	// SkillSecretPrefix is the name prefix of the skill secrets.
	SkillSecretPrefix string
	// AlarmEmail, when not empty, is subscribed to the alarm topic.
	AlarmEmail string
	// LogRetentionDays is the retention of the function's log group.
	LogRetentionDays int
	// SyncConcurrency is the number of skills the function fetches in parallel.
	SyncConcurrency int
	// RotationDays is the interval of every skill secret's rotation schedule.
	RotationDays int
	// Readers are the IAM roles of this account granted read access to
	// skill secrets, sorted by role ARN.
	Readers []Reader
	// SkillDiscovery is contract.DiscoveryOff or contract.DiscoveryVendor: the function also
	// syncs, creating their secrets, every skill of the vendors its LWA
	// refresh token can see.
	SkillDiscovery string
	// VendorID, with contract.DiscoveryVendor, limits discovery to this vendor.
	VendorID string
	// AlwaysFunctionCreatesSecrets makes the function create the declared
	// skills' secrets even when there are contract.MaxStackSkillSecrets or fewer (to
	// stay so after their number fell back: the stack cannot create secrets
	// that exist).
	AlwaysFunctionCreatesSecrets bool
	// ReaderRefresh also lets each reader rotate the skill secrets it may
	// read (RotateSecret and the invocation of the rotation function).
	ReaderRefresh bool
}

// FunctionCreatesSecrets says whether the function, not the stack, creates
// the declared skills' secrets: when there are more than
// contract.MaxStackSkillSecrets of them.
func (c *Config) FunctionCreatesSecrets() bool {
	return c.AlwaysFunctionCreatesSecrets || len(c.SkillIDs) > contract.MaxStackSkillSecrets
}

// StackSkillIDs are the skills whose secrets the stack creates itself.
func (c *Config) StackSkillIDs() []string {
	if c.FunctionCreatesSecrets() {
		return nil
	}
	return c.SkillIDs
}

// CreatesSecrets says whether the function may create skill secrets at all:
// for declared skills beyond contract.MaxStackSkillSecrets or for discovered ones.
func (c *Config) CreatesSecrets() bool {
	return c.FunctionCreatesSecrets() || c.SkillDiscovery == contract.DiscoveryVendor
}

// LoadConfig reads the stack configuration from the CDK context visible at
// node (cdk.json, then -c key=value on the command line) and validates it.
// The error lists every problem found, one per line, naming the context key.
func LoadConfig(node constructs.Node) (*Config, error) {
	get := func(key string) any { return node.TryGetContext(jsii.String(key)) }
	cfg := &Config{}
	var errs []error
	failed := map[string]bool{}
	fail := func(key string, err error) {
		errs = append(errs, fmt.Errorf("context %q: %w", key, err))
		failed[key] = true
	}
	var err error

	if cfg.StackName, err = stringValue(get(ctxStackName), DefaultStackName); err != nil {
		fail(ctxStackName, err)
	}
	if cfg.SkillIDs, err = stringList(get(ctxSkillIDs)); err != nil {
		fail(ctxSkillIDs, err)
	}
	expr, err := stringValue(get(ctxSchedule), DefaultSchedule)
	if err == nil {
		cfg.Schedule, err = ParseSchedule(expr)
	}
	if err != nil {
		fail(ctxSchedule, err)
	}
	if cfg.LWASecretName, err = stringValue(get(ctxLWASecretName), DefaultLWASecretName); err != nil {
		fail(ctxLWASecretName, err)
	}
	if cfg.SkillSecretPrefix, err = stringValue(get(ctxSkillSecretPrefix), DefaultSkillSecretPrefix); err != nil {
		fail(ctxSkillSecretPrefix, err)
	}
	if cfg.AlarmEmail, err = stringValue(get(ctxAlarmEmail), ""); err != nil {
		fail(ctxAlarmEmail, err)
	}
	if cfg.LogRetentionDays, err = intValue(get(ctxLogRetentionDays), DefaultLogRetentionDays); err != nil {
		fail(ctxLogRetentionDays, err)
	}
	if cfg.SyncConcurrency, err = intValue(get(ctxSyncConcurrency), DefaultSyncConcurrency); err != nil {
		fail(ctxSyncConcurrency, err)
	}
	if cfg.RotationDays, err = intValue(get(ctxRotationDays), DefaultRotationDays); err != nil {
		fail(ctxRotationDays, err)
	}
	if cfg.Readers, err = readerMap(get(ctxReaderRoleARNs)); err != nil {
		fail(ctxReaderRoleARNs, err)
	}
	if cfg.SkillDiscovery, err = stringValue(get(ctxSkillDiscovery), DefaultSkillDiscovery); err != nil {
		fail(ctxSkillDiscovery, err)
	}
	if cfg.VendorID, err = stringValue(get(ctxVendorID), ""); err != nil {
		fail(ctxVendorID, err)
	}
	if cfg.AlwaysFunctionCreatesSecrets, err = boolValue(get(ctxFunctionCreatesSecrets)); err != nil {
		fail(ctxFunctionCreatesSecrets, err)
	}
	if cfg.ReaderRefresh, err = boolValue(get(ctxReaderRefresh)); err != nil {
		fail(ctxReaderRefresh, err)
	}
	// Report every problem at once, but not a second one for a key whose
	// value could not be read.
	errs = append(errs, cfg.validate(failed)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// Validate checks every field and returns all problems joined, each naming
// its context key. Schedule is validated by ParseSchedule.
func (c *Config) Validate() error {
	return errors.Join(c.validate(nil)...)
}

// validate checks the fields of the context keys not in skip.
func (c *Config) validate(skip map[string]bool) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		if !skip[key] {
			errs = append(errs, fmt.Errorf("context %q: "+format, append([]any{key}, args...)...))
		}
	}

	if !stackNamePattern.MatchString(c.StackName) {
		add(ctxStackName, "%q is not a CloudFormation stack name (letters, digits and hyphens, starting with a letter, at most 128 characters)", c.StackName)
	}
	switch c.SkillDiscovery {
	case contract.DiscoveryOff, contract.DiscoveryVendor:
	default:
		add(ctxSkillDiscovery, "%q: want %q or %q", c.SkillDiscovery, contract.DiscoveryOff, contract.DiscoveryVendor)
	}
	if c.VendorID != "" {
		if c.SkillDiscovery != contract.DiscoveryVendor {
			add(ctxVendorID, "is set but skillDiscovery is %q: it limits vendor discovery, set skillDiscovery to %q", c.SkillDiscovery, contract.DiscoveryVendor)
		} else if contract.ValidateVendorID(c.VendorID) != nil {
			add(ctxVendorID, "%q is not a vendor id (letters and digits, e.g. M1ABCDEFGHIJKL)", c.VendorID)
		}
	}
	seen := make(map[string]int, len(c.SkillIDs))
	for i, id := range c.SkillIDs {
		if contract.ValidateSkillID(id) != nil {
			add(ctxSkillIDs, "entry %d: %q is not a valid skill id (want amzn1.ask.skill.<uuid> or amzn1.echo-sdk-ams.app.<uuid>)", i, id)
			continue
		}
		if j, dup := seen[id]; dup {
			add(ctxSkillIDs, "entry %d: %q repeats entry %d", i, id, j)
		}
		seen[id] = i
	}
	if c.Schedule.Expression == "" {
		add(ctxSchedule, "missing schedule")
	}

	if err := checkSecretName(c.LWASecretName); err != nil {
		add(ctxLWASecretName, "%v", err)
	} else if arnSuffixLike.MatchString(c.LWASecretName) {
		add(ctxLWASecretName, "%q ends with a hyphen and six characters, which Secrets Manager confuses with an ARN suffix", c.LWASecretName)
	}
	if err := checkSecretName(c.SkillSecretPrefix); err != nil {
		add(ctxSkillSecretPrefix, "%v", err)
	} else if !strings.HasSuffix(c.SkillSecretPrefix, "/") {
		// The IAM grants are <prefix>*: without a closing / the prefix
		// "alexa/skills" would also match "alexa/skills-admin/…".
		add(ctxSkillSecretPrefix, "%q must end with / (for example %q): the function's and the readers' IAM grants cover <prefix>*, which would otherwise also match secrets whose names merely start alike", c.SkillSecretPrefix, c.SkillSecretPrefix+"/")
	} else if len(c.SkillSecretPrefix)+contract.MaxSkillIDLen > 512 {
		add(ctxSkillSecretPrefix, "too long: prefix plus skill id must fit in 512 characters")
	}
	if c.SkillSecretPrefix != "" && strings.HasPrefix(c.LWASecretName, c.SkillSecretPrefix) {
		add(ctxLWASecretName, "%q starts with the skill secret prefix %q: the function would treat it as a skill secret", c.LWASecretName, c.SkillSecretPrefix)
	}

	if c.AlarmEmail != "" {
		if addr, err := mail.ParseAddress(c.AlarmEmail); err != nil || addr.Address != c.AlarmEmail {
			add(ctxAlarmEmail, "%q is not a plain e-mail address like ops@example.com", c.AlarmEmail)
		}
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		add(ctxLogRetentionDays, "%d is not a retention CloudWatch Logs accepts (one of %v)", c.LogRetentionDays, slices.Sorted(maps.Keys(retentionDays)))
	}
	if c.SyncConcurrency < contract.MinConcurrency || c.SyncConcurrency > contract.MaxConcurrency {
		add(ctxSyncConcurrency, "%d is out of range %d..%d", c.SyncConcurrency, contract.MinConcurrency, contract.MaxConcurrency)
	}
	if c.RotationDays < contract.MinRotationDays || c.RotationDays > contract.MaxRotationDays {
		add(ctxRotationDays, "%d is out of range %d..%d (days between rotations of each skill secret)", c.RotationDays, contract.MinRotationDays, contract.MaxRotationDays)
	}

	if len(c.Readers) > maxReaderRoles {
		add(ctxReaderRoleARNs, "%d roles, more than %d; give the skill Lambdas shared roles", len(c.Readers), maxReaderRoles)
	}
	firstAccount, firstRole := "", ""
	grants := map[string]bool{}
	for _, r := range c.Readers {
		m := roleARNPattern.FindStringSubmatch(r.RoleARN)
		if m == nil {
			add(ctxReaderRoleARNs, "%q is not an IAM role ARN (want arn:aws:iam::<12-digit account>:role/<name>)", r.RoleARN)
			continue
		}
		if firstAccount == "" {
			firstAccount, firstRole = m[2], r.RoleARN
		} else if m[2] != firstAccount {
			add(ctxReaderRoleARNs, "role %q is in account %s but role %q is in account %s: every reader role must be in the account the stack is deployed to (cross-account readers are not supported)", r.RoleARN, m[2], firstRole, firstAccount)
		}
		if limit := readerSkillLimit(c.SkillSecretPrefix); len(r.SkillIDs) > limit {
			add(ctxReaderRoleARNs, "role %q: %d skills, more than the %d one IAM managed policy can list (6,144 characters); grant [%q] or split the skills across roles", r.RoleARN, len(r.SkillIDs), limit, AllSkills)
		}
		seen := map[string]bool{}
		for _, id := range r.SkillIDs {
			switch {
			case id == AllSkills:
				add(ctxReaderRoleARNs, "role %q: %q must be alone in its list (it grants every skill)", r.RoleARN, AllSkills)
			case contract.ValidateSkillID(id) != nil:
				add(ctxReaderRoleARNs, "role %q: %q is not a valid skill id (want amzn1.ask.skill.<uuid>, amzn1.echo-sdk-ams.app.<uuid>, or [%q] for every skill)", r.RoleARN, id, AllSkills)
			case seen[id]:
				add(ctxReaderRoleARNs, "role %q: %q is listed twice", r.RoleARN, id)
			}
			seen[id] = true
		}
		grants[strings.Join(r.SkillIDs, ",")] = true
	}
	if len(grants) > maxReaderPolicies {
		add(ctxReaderRoleARNs, "%d different skill lists, more than %d (each is one managed policy, and the stack's resources are limited): give roles that read the same skills the same list, or grant [%q]", len(grants), maxReaderPolicies, AllSkills)
	}
	return errs
}

// CheckAccount refuses reader roles outside account, the account the stack
// is deployed to, when it is known at synth (the CDK CLI sets
// CDK_DEFAULT_ACCOUNT from its credentials for deploy and diff). Roles of
// other accounts would need a resource policy on every secret and a key
// policy statement, which the stack does not create; an identity policy
// cannot be attached to them from here.
func (c *Config) CheckAccount(account string) error {
	if account == "" {
		return nil
	}
	var errs []error
	for _, r := range c.Readers {
		if m := roleARNPattern.FindStringSubmatch(r.RoleARN); m != nil && m[2] != account {
			errs = append(errs, fmt.Errorf("context %q: role %q is in account %s, not in %s where the stack is deployed: cross-account readers are not supported (see docs/deploy.md#granting-skill-lambdas-read-access)", ctxReaderRoleARNs, r.RoleARN, m[2], account))
		}
	}
	return errors.Join(errs...)
}

// SkillSecretName is the name of skillID's secret.
func (c *Config) SkillSecretName(skillID string) string {
	return c.SkillSecretPrefix + skillID
}

func checkSecretName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > 512:
		return fmt.Errorf("%d characters, more than the 512 Secrets Manager allows", len(name))
	case !secretNamePattern.MatchString(name):
		return fmt.Errorf("%q has characters Secrets Manager does not allow in names (allowed: letters, digits and /_+=.@-)", name)
	}
	return nil
}

// stringList accepts a JSON list from cdk.json, or from -c key=value either a
// JSON list (skillIds='["a","b"]') or a comma-separated string (skillIds=a,b).
func stringList(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("entry %d is %T, want a string", i, e)
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	case string:
		s := strings.TrimSpace(v)
		if strings.HasPrefix(s, "[") {
			var out []string
			if err := json.Unmarshal([]byte(s), &out); err != nil {
				return nil, fmt.Errorf("not a JSON list of strings: %v", err)
			}
			for i := range out {
				out[i] = strings.TrimSpace(out[i])
			}
			return out, nil
		}
		var out []string
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("is %T, want a list of strings", v)
	}
}

// readerMap reads readerRoleArns: a JSON object from role ARN to the skill
// ids the role may read (["*"]: every skill), from cdk.json or, with -c, as
// JSON text. An empty list or object, or an empty string, means no readers.
// A non-empty list is the form of earlier versions, which granted every
// skill to every role: it is refused with the new form.
func readerMap(v any) ([]Reader, error) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return nil, nil
		case strings.HasPrefix(s, "{"):
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				return nil, fmt.Errorf("not a JSON object from role ARN to a list of skill ids: %v", err)
			}
			v = m
		case strings.HasPrefix(s, "["):
			var l []any
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				return nil, fmt.Errorf("not a JSON object from role ARN to a list of skill ids: %v", err)
			}
			v = l
		default:
			v = []any{s}
		}
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(v) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf(`is a list; it is a JSON object from each role ARN to the skill ids that role may read, for example {"arn:aws:iam::123456789012:role/my-skill": ["amzn1.ask.skill.…"]}, with [%q] for every skill`, AllSkills)
	case map[string]any:
		if len(v) == 0 {
			return nil, nil
		}
		out := make([]Reader, 0, len(v))
		for arn, skills := range v {
			ids, err := stringList(skills)
			if _, isList := skills.([]any); err != nil || !isList {
				return nil, fmt.Errorf("role %q: want a list of skill ids, or [%q] for every skill", arn, AllSkills)
			}
			if len(ids) == 0 {
				return nil, fmt.Errorf("role %q: lists no skill; remove the role, or grant [%q] for every skill", arn, AllSkills)
			}
			r := Reader{RoleARN: strings.TrimSpace(arn)}
			if !(len(ids) == 1 && ids[0] == AllSkills) {
				r.SkillIDs = slices.Sorted(slices.Values(ids))
			}
			out = append(out, r)
		}
		slices.SortFunc(out, func(a, b Reader) int { return strings.Compare(a.RoleARN, b.RoleARN) })
		return out, nil
	default:
		return nil, fmt.Errorf("is %T, want a JSON object from role ARN to a list of skill ids", v)
	}
}

func stringValue(v any, def string) (string, error) {
	switch v := v.(type) {
	case nil:
		return def, nil
	case string:
		return strings.TrimSpace(v), nil
	default:
		return "", fmt.Errorf("is %T, want a string", v)
	}
}

// boolValue accepts a JSON boolean from cdk.json or "true"/"false" from -c;
// absent is false.
func boolValue(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("%q is not true or false", v)
		}
		return b, nil
	default:
		return false, fmt.Errorf("is %T, want true or false", v)
	}
}

// intValue accepts a JSON number from cdk.json or a decimal string from -c.
func intValue(v any, def int) (int, error) {
	switch v := v.(type) {
	case nil:
		return def, nil
	case float64:
		if v != float64(int(v)) {
			return 0, fmt.Errorf("%v is not a whole number", v)
		}
		return int(v), nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("is %T, want a number", v)
	}
}
