package permcheck

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// readerActions are the only actions a reader policy may name: reading and
// decrypting, and with the stack's readerRefresh asking for a rotation
// (RotateSecret, and lambda:InvokeFunction on the rotation function, which
// the RotateSecret API reference requires of its caller).
var readerActions = []string{"secretsmanager:GetSecretValue", "kms:Decrypt", "secretsmanager:RotateSecret", "lambda:InvokeFunction"}

// refreshes reports whether a reader's policies name RotateSecret (the
// stack's readerRefresh): it must then rotate exactly the secrets it reads
// and invoke only the stack's function; otherwise neither.
func refreshes(p Principal) bool {
	for _, pol := range p.Policies {
		for _, st := range pol.Statement {
			if st.Effect == "Allow" && slices.ContainsFunc(st.Action, func(a string) bool { return strings.EqualFold(a, "secretsmanager:RotateSecret") }) {
				return true
			}
		}
	}
	return false
}

// OtherSkillID is a skill that is not in the stack: its secret lies under
// the prefix (created outside the stack, or by discovery), so a reader of
// every skill may read it and a reader of some skills may not.
const OtherSkillID = "amzn1.ask.skill.ffffffff-ffff-4fff-8fff-ffffffffffff"

// SecretsManagerActions are the IAM actions of every Secrets Manager
// operation, from the SDK client's methods.
func SecretsManagerActions() []string {
	var out []string
	t := reflect.TypeFor[*secretsmanager.Client]()
	for i := range t.NumMethod() {
		if m := t.Method(i); m.Name != "Options" {
			out = append(out, "secretsmanager:"+m.Name)
		}
	}
	return out
}

// CheckReader proves that the reader role p may call GetSecretValue on
// exactly its skills' secrets, and decrypt them through Secrets Manager,
// (with readerRefresh, RotateSecret on exactly the same secrets and
// lambda:InvokeFunction on the stack's function only) and nothing else: every other Secrets Manager action on every secret, the
// LWA secret, secrets outside the prefix and other skills' secrets are
// denied, KMS only decrypts through Secrets Manager, and no statement names
// another action (so no action outside the ones probed is allowed either).
// It returns the problems found, each naming the request.
func (s *Stack) CheckReader(p Principal) []string {
	var problems []string
	for _, pol := range p.Policies {
		for i, st := range pol.Statement {
			if st.Effect != "Allow" {
				continue
			}
			if st.NotAction != nil || st.NotResource != nil {
				problems = append(problems, fmt.Sprintf("%s %s: NotAction/NotResource in a reader policy allows more than reading", pol.Name, st.ID(i)))
			}
			for _, a := range st.Action {
				if !slices.ContainsFunc(readerActions, func(r string) bool { return strings.EqualFold(r, a) }) {
					problems = append(problems, fmt.Sprintf("%s %s: action %s; a reader may only have %v", pol.Name, st.ID(i), a, readerActions))
				}
			}
		}
	}

	refresh := refreshes(p)
	mine := func(skillID string) bool {
		return slices.Contains(p.SkillIDs, "*") || slices.Contains(p.SkillIDs, skillID)
	}
	type target struct {
		name     string
		readable bool
	}
	targets := []target{
		{s.LWASecretName, false},
		{"other-app/secret", false},
		{s.SkillSecretPrefix + OtherSkillID, mine(OtherSkillID)},
	}
	for _, id := range s.SkillIDs {
		targets = append(targets, target{s.SkillSecretPrefix + id, mine(id)})
	}
	expect := func(perm Permission, want bool) {
		v := s.Authorize(perm, p.RoleARN, p.Policies)
		if v.Err != nil {
			problems = append(problems, fmt.Sprintf("reader %s: %s %s", p.RoleARN, perm, v.Reason))
			return
		}
		if v.Allowed != want {
			what := "allowed"
			if !v.Allowed {
				what = "denied: " + v.Reason
			}
			problems = append(problems, fmt.Sprintf("reader %s: %s is %s; want allowed=%v", p.RoleARN, perm, what, want))
		}
	}
	for _, tg := range targets {
		arn := s.SecretARN(tg.name)
		for _, a := range SecretsManagerActions() {
			allowed := a == "secretsmanager:GetSecretValue" || (refresh && a == "secretsmanager:RotateSecret")
			expect(Permission{Action: a, Resource: arn}, allowed && tg.readable)
		}
		// Decrypt through Secrets Manager, for this secret's value; any
		// other use of the key, and Decrypt from anywhere else, is denied.
		via := map[string]string{
			"kms:ViaService":                  s.ViaSecretsManager(),
			"kms:EncryptionContext:SecretARN": arn,
		}
		if tg.readable {
			expect(Permission{Action: "kms:Decrypt", Resource: s.KeyARN, Context: via}, true)
		}
	}
	for _, a := range SecretsManagerActions() {
		expect(Permission{Action: a, Resource: "*"}, false)
	}
	// Invoking the rotation function, which RotateSecret requires, and no
	// other function.
	expect(Permission{Action: "lambda:InvokeFunction", Resource: s.Function.FunctionARN}, refresh)
	expect(Permission{Action: "lambda:InvokeFunction", Resource: s.Function.FunctionARN + "-other"}, false)
	// A direct call carries no kms:ViaService.
	expect(Permission{Action: "kms:Decrypt", Resource: s.KeyARN}, false)
	via := map[string]string{"kms:ViaService": s.ViaSecretsManager()}
	for _, a := range []string{"kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:DescribeKey"} {
		expect(Permission{Action: a, Resource: s.KeyARN, Context: via}, false)
	}
	return problems
}
