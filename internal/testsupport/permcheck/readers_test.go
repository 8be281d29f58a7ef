package permcheck

import (
	"strings"
	"testing"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/iampolicy"
)

// TestReaderRefresh checks the grant of the stack's readerRefresh: a reader
// may rotate exactly the secrets it reads and invoke only the stack's
// function, or neither.
func TestReaderRefresh(t *testing.T) {
	s := load(t)
	one := s.SkillIDs[0]
	oneARN := strings.TrimSuffix(s.SecretARN(s.SkillSecretPrefix+one), s.SecretARNSuffix) + "??????"
	otherARN := strings.TrimSuffix(s.SecretARN(s.SkillSecretPrefix+s.SkillIDs[1]), s.SecretARNSuffix) + "??????"
	stmt := func(action, resource string) string {
		return `{"Effect": "Allow", "Action": "` + action + `", "Resource": "` + resource + `"}`
	}
	read := stmt("secretsmanager:GetSecretValue", oneARN)
	decrypt := `{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "` + s.KeyARN + `", "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.` + s.Region + `.amazonaws.com"}}}`
	invoke := stmt("lambda:InvokeFunction", s.Function.FunctionARN)
	tests := []struct {
		name  string
		stmts []string
		want  string // a problem that must be reported; "" for none
	}{
		{"read only", []string{read, decrypt}, ""},
		{"rotates its skill", []string{read, decrypt, stmt("secretsmanager:RotateSecret", oneARN), invoke}, ""},
		{"rotates another skill", []string{read, decrypt, stmt("secretsmanager:RotateSecret", otherARN), invoke},
			"secretsmanager:RotateSecret on " + s.SecretARN(s.SkillSecretPrefix+s.SkillIDs[1]) + " is allowed; want allowed=false"},
		{"rotates without invoking", []string{read, decrypt, stmt("secretsmanager:RotateSecret", oneARN)},
			"lambda:InvokeFunction on " + s.Function.FunctionARN + " is denied"},
		{"invokes without rotating", []string{read, decrypt, invoke},
			"lambda:InvokeFunction on " + s.Function.FunctionARN + " is allowed; want allowed=false"},
		{"invokes any function", []string{read, decrypt, stmt("secretsmanager:RotateSecret", oneARN), stmt("lambda:InvokeFunction", "*")},
			"lambda:InvokeFunction on " + s.Function.FunctionARN + "-other is allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := iampolicy.Parse("reader", []byte(`{"Statement": [`+strings.Join(tt.stmts, ", ")+`]}`))
			if err != nil {
				t.Fatal(err)
			}
			problems := s.CheckReader(Principal{RoleARN: "arn:aws:iam::123456789012:role/r", SkillIDs: []string{one}, Policies: []*iampolicy.Policy{pol}})
			joined := strings.Join(problems, "\n")
			if tt.want == "" && len(problems) > 0 {
				t.Errorf("CheckReader = %s; want no problem", joined)
			}
			if tt.want != "" && !strings.Contains(joined, tt.want) {
				t.Errorf("CheckReader = %q; want a problem containing %q", joined, tt.want)
			}
		})
	}
}
