package credsync

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseEvent(t *testing.T) {
	fixture := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, in string
		want     Request
		wantErr  bool
	}{
		{"empty payload", "", Request{}, false},
		{"null", "null", Request{}, false},
		{"empty object", fixture("empty.json"), Request{}, false},
		{"scheduled event", fixture("scheduled-event.json"), Request{}, false},
		{"skill ids", fixture("skill-ids.json"), Request{SkillIDs: []string{"amzn1.ask.skill.11111111-1111-4111-8111-111111111111"}}, false},
		{"skill ids deduplicated", `{"skillIds":["a","b","a"]}`, Request{SkillIDs: []string{"a", "b"}}, false},
		{"rotation", fixture("rotation-create-secret.json"), Request{Rotation: &RotationEvent{
			Step:               "createSecret",
			SecretID:           "arn:aws:secretsmanager:us-east-1:123456789012:secret:alexa/skill-messaging/amzn1.ask.skill.11111111-1111-4111-8111-111111111111-AbCdEf",
			ClientRequestToken: "3f1c9f8e-6c1b-4b55-9a53-2a4e8f0d6b21",
		}}, false},
		{"deploy", fixture("deploy.json"), Request{Deploy: true}, false},
		{"other source", `{"source":"someone.else"}`, Request{}, true},
		{"empty skill ids", `{"skillIds":[]}`, Request{}, true},
		{"skill ids not strings", `{"skillIds":[1]}`, Request{}, true},
		{"unknown keys", `{"skillId":"x"}`, Request{}, true},
		{"other EventBridge event", `{"source":"aws.s3","detail-type":"Object Created","detail":{}}`, Request{}, true},
		{"rotation without token", `{"Step":"createSecret","SecretId":"x"}`, Request{}, true},
		{"array", `[1]`, Request{}, true},
		{"string", `"x"`, Request{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrUnsupportedEvent) {
					t.Fatalf("ParseEvent(%q) = %+v, %v; want ErrUnsupportedEvent", tt.in, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseEvent(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParseEvent checks parsing never panics and gives either a request or an
// ErrUnsupportedEvent. Run: go test -fuzz FuzzParseEvent ./internal/credsync
func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"empty.json", "scheduled-event.json", "skill-ids.json", "rotation-create-secret.json", "deploy.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := ParseEvent(raw)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedEvent) {
				t.Fatalf("ParseEvent(%q) error %v does not wrap ErrUnsupportedEvent", raw, err)
			}
			return
		}
		if req.Rotation != nil && (req.Rotation.Step == "" || req.Rotation.SecretID == "" || len(req.SkillIDs) > 0) {
			t.Fatalf("ParseEvent(%q) = %+v", raw, req)
		}
	})
}
