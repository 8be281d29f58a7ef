// Package iampolicy evaluates AWS IAM policy documents offline, for tests
// that check the calls the code makes against the policies the stack
// deploys. It implements the part of IAM's evaluation logic those policies
// use, as documented in the IAM User Guide ("Policy evaluation logic",
// "IAM JSON policy elements reference"):
//
//   - Effect Allow and Deny; an explicit Deny wins over any Allow, and no
//     matching Allow is an implicit deny.
//   - Action and NotAction with the wildcards * and ?, matched without
//     regard to case.
//   - Resource and NotResource with * and ?, matched with regard to case.
//   - Principal ("*", or AWS/Service names; an account id means its root)
//     for resource policies such as a KMS key policy.
//   - Condition: the string, ARN and Bool operators, also in their IfExists
//     form and as ForAllValues:/ForAnyValue: over multivalued keys (Sets),
//     and Null, on the keys the request carries in its Context and Sets. A
//     key in neither is absent from the request, and a condition on it is
//     false, except for the negated operators, the IfExists forms,
//     ForAllValues and Null, as the IAM User Guide says
//     (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
//     ArnEquals and ArnLike match each of an ARN's six colon-separated
//     components on its own.
//
// Nothing is guessed: an operator it does not evaluate (Numeric…, Date…,
// IpAddress, Binary…, ForEachValue:…) is an error of Parse and of Evaluate,
// and so is a single-valued operator on a multivalued key. NotPrincipal is
// refused with an error by Parse. Permission boundaries,
// session policies, service control policies and resource policies other
// than the ones passed in are outside the package.
package iampolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Policy is a parsed policy document.
type Policy struct {
	// Name identifies the policy in results (a file, a logical id).
	Name      string
	Statement []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Effect string // "Allow" or "Deny"
	// Principal is nil in identity policies. In resource policies it maps
	// "AWS", "Service", … to names; {"*": ["*"]} is Principal "*".
	Principal   map[string][]string
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// Condition maps an operator to condition keys and their values.
	Condition map[string]map[string][]string
}

// ID names the statement in messages: its Sid, or its index.
func (s Statement) ID(index int) string {
	if s.Sid != "" {
		return s.Sid
	}
	return fmt.Sprintf("statement %d", index)
}

// Parse reads a policy document. name is kept as Policy.Name.
func Parse(name string, doc []byte) (*Policy, error) {
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	var stmts []json.RawMessage
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		stmts = []json.RawMessage{raw.Statement}
	} else if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
		return nil, fmt.Errorf("policy %s: Statement: %w", name, err)
	}
	p := &Policy{Name: name}
	for i, rs := range stmts {
		s, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("policy %s: statement %d: %w", name, i, err)
		}
		p.Statement = append(p.Statement, s)
	}
	return p, nil
}

func parseStatement(b json.RawMessage) (Statement, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Statement{}, err
	}
	var s Statement
	for k, v := range raw {
		var err error
		switch k {
		case "Sid":
			err = json.Unmarshal(v, &s.Sid)
		case "Effect":
			err = json.Unmarshal(v, &s.Effect)
			if err == nil && s.Effect != "Allow" && s.Effect != "Deny" {
				err = fmt.Errorf("%q: want Allow or Deny", s.Effect)
			}
		case "Action":
			s.Action, err = stringOrList(v)
		case "NotAction":
			s.NotAction, err = stringOrList(v)
		case "Resource":
			s.Resource, err = stringOrList(v)
		case "NotResource":
			s.NotResource, err = stringOrList(v)
		case "Principal":
			s.Principal, err = parsePrincipal(v)
		case "Condition":
			s.Condition, err = parseCondition(v)
		default:
			err = errors.New("unsupported element")
		}
		if err != nil {
			return Statement{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch {
	case s.Effect == "":
		return s, errors.New("no Effect")
	case (s.Action == nil) == (s.NotAction == nil):
		return s, errors.New("want exactly one of Action and NotAction")
	case (s.Resource == nil) == (s.NotResource == nil):
		return s, errors.New("want exactly one of Resource and NotResource")
	}
	return s, nil
}

// stringOrList reads a JSON string or list of strings. Numbers and booleans
// (condition values) are read as their JSON text.
func stringOrList(b json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, err
		}
	} else {
		items = []json.RawMessage{b}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			var scalar any
			if json.Unmarshal(it, &scalar) != nil {
				return nil, err
			}
			switch scalar.(type) {
			case bool, float64:
				s = string(it)
			default:
				return nil, fmt.Errorf("want a string, got %s", it)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func parsePrincipal(b json.RawMessage) (map[string][]string, error) {
	var star string
	if json.Unmarshal(b, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("%q: want \"*\" or an object", star)
		}
		return map[string][]string{"*": {"*"}}, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for k, v := range raw {
		names, err := stringOrList(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = names
	}
	return out, nil
}

func parseCondition(b json.RawMessage) (map[string]map[string][]string, error) {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := map[string]map[string][]string{}
	for op, keys := range raw {
		if err := checkOperator(op); err != nil {
			return nil, err
		}
		out[op] = map[string][]string{}
		for k, v := range keys {
			vals, err := stringOrList(v)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, k, err)
			}
			out[op][k] = vals
		}
	}
	return out, nil
}

// Request is one authorization question: may Principal do Action on
// Resource?
type Request struct {
	Action   string // service:Operation, e.g. secretsmanager:GetSecretValue
	Resource string // an ARN, or "*" for actions without resource-level permissions
	// Principal is the caller's ARN; only resource policies (statements with
	// a Principal) look at it.
	Principal string
	// Context holds the single-valued condition keys the request carries,
	// by key (matched without regard to case).
	Context map[string]string
	// Sets holds the multivalued condition keys the request carries, such
	// as aws:TagKeys, each with its values. A key in neither Context nor
	// Sets is absent from the request.
	Sets map[string][]string
}

// Decision is the outcome of an evaluation.
type Decision int

// The three outcomes of IAM's evaluation logic.
const (
	ImplicitDeny Decision = iota
	Allow
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allowed"
	case ExplicitDeny:
		return "explicitly denied"
	default:
		return "implicitly denied"
	}
}

// Match names one statement that applied to a request.
type Match struct {
	Policy    string
	Index     int // in Policy.Statement
	Statement Statement
}

func (m Match) String() string { return m.Policy + " " + m.Statement.ID(m.Index) }

// Result is the evaluation of one request against some policies.
type Result struct {
	Decision Decision
	Allows   []Match // Allow statements that apply
	Denies   []Match // Deny statements that apply
}

// Evaluate applies IAM's evaluation logic to req and the statements of
// policies: an applying Deny denies, else an applying Allow allows, else
// the request is implicitly denied. A condition it cannot evaluate is an
// error naming the statement, never a guess.
func Evaluate(req Request, policies ...*Policy) (Result, error) {
	var r Result
	var errs []error
	for _, p := range policies {
		for i, s := range p.Statement {
			m := Match{Policy: p.Name, Index: i, Statement: s}
			ok, err := s.applies(req)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", m, err))
				continue
			}
			if !ok {
				continue
			}
			if s.Effect == "Deny" {
				r.Denies = append(r.Denies, m)
			} else {
				r.Allows = append(r.Allows, m)
			}
		}
	}
	switch {
	case len(r.Denies) > 0:
		r.Decision = ExplicitDeny
	case len(r.Allows) > 0:
		r.Decision = Allow
	}
	return r, errors.Join(errs...)
}

// applies reports whether s applies to req.
func (s Statement) applies(req Request) (bool, error) {
	if s.Principal != nil && !s.principalMatches(req.Principal) {
		return false, nil
	}
	if s.Action != nil && !anyMatch(s.Action, req.Action, ActionMatch) {
		return false, nil
	}
	if s.NotAction != nil && anyMatch(s.NotAction, req.Action, ActionMatch) {
		return false, nil
	}
	if s.Resource != nil && !anyMatch(s.Resource, req.Resource, ResourceMatch) {
		return false, nil
	}
	if s.NotResource != nil && anyMatch(s.NotResource, req.Resource, ResourceMatch) {
		return false, nil
	}
	return s.conditionsHold(req)
}

func anyMatch(patterns []string, value string, match func(pattern, value string) bool) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, value) })
}

// principalMatches reports whether the statement's Principal names
// principal. An account id or account root ARN names the account itself
// (arn:…:iam::<account>:root), which is how IAM writes it; it does not match
// the account's roles here: for those, evaluate with the root ARN as
// Principal (see the package comment of the caller).
func (s Statement) principalMatches(principal string) bool {
	for kind, names := range s.Principal {
		for _, n := range names {
			if n == "*" && (kind == "*" || kind == "AWS") {
				return true
			}
			if kind == "AWS" && len(n) == 12 && strings.Trim(n, "0123456789") == "" {
				n = "arn:aws:iam::" + n + ":root"
			}
			if n == principal {
				return true
			}
		}
	}
	return false
}

// conditionsHold evaluates the statement's Condition against req: every
// operator and key must hold. It checks every condition, so that one it
// cannot evaluate is an error even when another is false.
func (s Statement) conditionsHold(req Request) (bool, error) {
	holdsAll := true
	var errs []error
	for _, op := range slices.Sorted(maps.Keys(s.Condition)) {
		for _, k := range slices.Sorted(maps.Keys(s.Condition[op])) {
			want := s.Condition[op][k]
			holds, err := condition(op, want, req, k)
			if err != nil {
				errs = append(errs, fmt.Errorf("condition %s %s %v: %w", op, k, want, err))
			}
			holdsAll = holdsAll && holds
		}
	}
	if len(errs) > 0 {
		return false, errors.Join(errs...)
	}
	return holdsAll, nil
}

// splitOperator takes an operator apart: its set qualifier (ForAllValues,
// ForAnyValue or ""), its base operator and whether it is an IfExists form.
func splitOperator(op string) (set, base string, ifExists bool) {
	set, base, found := strings.Cut(op, ":")
	if !found {
		set, base = "", op
	}
	base, ifExists = strings.CutSuffix(base, "IfExists")
	return set, base, ifExists
}

// checkOperator returns an error for an operator the package does not
// evaluate.
func checkOperator(op string) error {
	if op == "Null" {
		return nil
	}
	set, base, _ := splitOperator(op)
	if _, ok := operators[base]; !ok || (set != "" && set != "ForAllValues" && set != "ForAnyValue") {
		return fmt.Errorf("condition operator %s is not evaluated by iampolicy (string, ARN, Bool and Null operators only): evaluate it in internal/testsupport/iampolicy before using it", op)
	}
	return nil
}

// condition evaluates one operator on one key, as the IAM User Guide's
// "Condition operators" and "Set operators for multivalued context keys"
// describe; an operator or key it cannot evaluate is an error.
func condition(op string, want []string, req Request, key string) (bool, error) {
	if err := checkOperator(op); err != nil {
		return false, err
	}
	values, present := lookup(req, key)
	if op == "Null" {
		// Null "true": the key is absent; "false": it is present.
		return slices.ContainsFunc(want, func(v string) bool { return strings.EqualFold(v, strconv.FormatBool(!present)) }), nil
	}
	set, base, ifExists := splitOperator(op)
	test := operators[base]
	negated := strings.Contains(base, "Not")
	switch {
	case set == "ForAllValues":
		// True when every value of the request's key matches; also when the
		// key is absent or empty.
		return !slices.ContainsFunc(values, func(v string) bool { return !test(want, v) }), nil
	case set == "ForAnyValue":
		return slices.ContainsFunc(values, func(v string) bool { return test(want, v) }), nil
	case !present:
		// "If the key that you specify in a policy condition is not present
		// in the request context, the values do not match and the condition
		// is false. If the policy condition requires that the key is not
		// matched, such as StringNotLike or ArnNotLike, and the right key is
		// not present, the condition is true" (Condition operators, IAM User
		// Guide); IfExists is true on an absent key.
		return ifExists || negated, nil
	case len(values) != 1:
		return false, errors.New("multivalued key without ForAllValues or ForAnyValue")
	}
	return test(want, values[0]), nil
}

// lookup returns the values of key in req and whether the request carries
// it.
func lookup(req Request, key string) (values []string, present bool) {
	for k, v := range req.Context {
		if strings.EqualFold(k, key) {
			return []string{v}, true
		}
	}
	for k, v := range req.Sets {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// operators are the condition operators evaluated, each true when the
// request's value satisfies any of the statement's values (the negated ones:
// none of them), as the IAM User Guide's "Condition operators" describes.
var operators = map[string]func(want []string, got string) bool{
	"StringEquals":    func(w []string, g string) bool { return slices.Contains(w, g) },
	"StringNotEquals": func(w []string, g string) bool { return !slices.Contains(w, g) },
	"StringEqualsIgnoreCase": func(w []string, g string) bool {
		return slices.ContainsFunc(w, func(v string) bool { return strings.EqualFold(v, g) })
	},
	"StringNotEqualsIgnoreCase": func(w []string, g string) bool {
		return !slices.ContainsFunc(w, func(v string) bool { return strings.EqualFold(v, g) })
	},
	"StringLike":    func(w []string, g string) bool { return anyMatch(w, g, ResourceMatch) },
	"StringNotLike": func(w []string, g string) bool { return !anyMatch(w, g, ResourceMatch) },
	"ArnEquals":     func(w []string, g string) bool { return anyMatch(w, g, ArnMatch) },
	"ArnLike":       func(w []string, g string) bool { return anyMatch(w, g, ArnMatch) },
	"ArnNotEquals":  func(w []string, g string) bool { return !anyMatch(w, g, ArnMatch) },
	"ArnNotLike":    func(w []string, g string) bool { return !anyMatch(w, g, ArnMatch) },
	"Bool": func(w []string, g string) bool {
		return slices.ContainsFunc(w, func(v string) bool { return strings.EqualFold(v, g) })
	},
}

// ArnMatch reports whether an ArnEquals/ArnLike pattern matches an ARN: "Each
// of the six colon-delimited components of the ARN is checked separately and
// each can include multi-character match wildcards (*) or single-character
// match wildcards (?)"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN),
// so a * never spans a colon between the first five components. The sixth,
// the resource, keeps its own colons (secret:name). A pattern or value with
// fewer than six components matches nothing.
func ArnMatch(pattern, arn string) bool {
	p, a := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(p) != 6 || len(a) != 6 {
		return false
	}
	for i := range p {
		if !Glob(p[i], a[i]) {
			return false
		}
	}
	return true
}

// ActionMatch reports whether an Action pattern matches action, without
// regard to case: IAM action names are case-insensitive.
func ActionMatch(pattern, action string) bool {
	return Glob(strings.ToLower(pattern), strings.ToLower(action))
}

// ResourceMatch reports whether a Resource pattern matches an ARN, with
// regard to case (IAM compares ARNs case-sensitively).
func ResourceMatch(pattern, arn string) bool { return Glob(pattern, arn) }

// Glob reports whether s matches pattern, where * matches any run of
// characters (also none and also across ':' and '/') and ? matches exactly
// one character: IAM's wildcards. It runs in O(len(pattern)·len(s)) at worst.
func Glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			if pattern[p] == '?' {
				// ? is one character, not one byte: step over a whole rune.
				_, size := utf8.DecodeRuneInString(s[i:])
				i += size
			} else {
				i++
			}
			p++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			_, size := utf8.DecodeRuneInString(s[mark:])
			mark += size
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
