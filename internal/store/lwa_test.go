package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/redacttest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// lwaID is a name for t's LWA secret that a second run (-count=2) does not
// find taken.
func lwaID(t *testing.T) string { return fmt.Sprintf("lwa/%s-%d", t.Name(), time.Now().UnixNano()) }

// TestReadLWAWhitespace: whitespace around a credential is removed, with a
// warning naming the key and not quoting the value; whitespace inside is
// kept; the record prints no secret. The resume point is read with it.
func TestReadLWAWhitespace(t *testing.T) {
	api := moto.ResetT(t)
	const sec, rt = "csec-NEVER-PRINTED", "Atzr|rt-NEVER-PRINTED"
	tests := []struct {
		name, value  string
		wantKeys     []string
		wantResumeAt string
	}{
		{"clean", `{"clientId":"cid","clientSecret":"` + sec + `","refreshToken":"` + rt + `"}`, nil, ""},
		{"newline after each", `{"clientId":"cid\n","clientSecret":"` + sec + `\n","refreshToken":"` + rt + `\r\n"}`, []string{"clientId", "clientSecret", "refreshToken"}, ""},
		{"spaces around the secret", `{"clientId":"cid","clientSecret":"  ` + sec + ` ","refreshToken":"` + rt + `"}`, []string{"clientSecret"}, ""},
		{"tab before the token", `{"clientId":"cid","clientSecret":"` + sec + `","refreshToken":"\t` + rt + `"}`, []string{"refreshToken"}, ""},
		{"resume point", `{"clientId":"cid","clientSecret":"` + sec + `","refreshToken":"` + rt + `","syncResumeAt":"amzn1.ask.skill.x"}`, nil, "amzn1.ask.skill.x"},
		{"resume point not a string", `{"clientId":"cid","clientSecret":"` + sec + `","refreshToken":"` + rt + `","syncResumeAt":7}`, []string{ResumeKey}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := lwaID(t)
			create(t, api, id, tt.value)
			l, err := New(api).ReadLWA(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if l.ClientID != "cid" || l.ClientSecret.Reveal() != sec || l.RefreshToken.Reveal() != rt || l.ResumeAt != tt.wantResumeAt {
				t.Fatalf("ReadLWA = %v, resume at %q; want the trimmed values, resume at %q", l, l.ResumeAt, tt.wantResumeAt)
			}
			var keys []string
			for _, w := range l.Warnings {
				keys = append(keys, w.Key)
				redacttest.Check(t, "warning", w, sec, rt)
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("warnings name %v; want %v", keys, tt.wantKeys)
			}
			redacttest.Check(t, "LWASecret", l, sec, rt)
		})
	}
	// Whitespace alone is no value.
	id := lwaID(t)
	create(t, api, id, `{"clientId":"cid","clientSecret":" \n","refreshToken":"`+rt+`"}`)
	if _, err := New(api).ReadLWA(context.Background(), id); err == nil {
		t.Fatal("ReadLWA accepted a clientSecret of whitespace")
	}
}

// TestSaveResumeAt: the point is set, kept, moved and removed, each time
// with every other key kept, a version written only when it changes, and
// what another writer put in the secret since it was read kept too.
func TestSaveResumeAt(t *testing.T) {
	api := moto.ResetT(t)
	s := New(api)
	ctx := context.Background()
	id := lwaID(t)
	create(t, api, id, `{"clientId":"cid","clientSecret":"csec","refreshToken":"Atzr|old","owner":"team-a"}`)
	steps := []struct {
		at      string
		written bool
		want    string
	}{
		{"", false, `{"clientId":"cid","clientSecret":"csec","refreshToken":"Atzr|old","owner":"team-a"}`},
		{"skill-b", true, `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|old","syncResumeAt":"skill-b"}`},
		{"skill-b", false, `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|old","syncResumeAt":"skill-b"}`},
		{"skill-c", true, `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|old","syncResumeAt":"skill-c"}`},
		{"", true, `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|old"}`},
		{"", false, `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|old"}`},
	}
	for i, st := range steps {
		before := versions(t, api, id)
		written, err := s.SaveResumeAt(ctx, id, st.at)
		if err != nil || written != st.written {
			t.Fatalf("step %d: SaveResumeAt(%q) = %v, %v; want written %v", i, st.at, written, err, st.written)
		}
		got, _ := current(t, api, id)
		if got != st.want || versions(t, api, id)-before != map[bool]int{true: 1, false: 0}[st.written] {
			t.Fatalf("step %d: secret = %s (%d new versions); want %s", i, got, versions(t, api, id)-before, st.want)
		}
	}

	// A run read the secret; meanwhile a rotated refresh token was saved:
	// the point joins the new value.
	l, err := s.ReadLWA(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRefreshToken(ctx, l, "Atzr|new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveResumeAt(ctx, id, "skill-d"); err != nil {
		t.Fatal(err)
	}
	if got, _ := current(t, api, id); got != `{"clientId":"cid","clientSecret":"csec","owner":"team-a","refreshToken":"Atzr|new","syncResumeAt":"skill-d"}` {
		t.Fatalf("secret = %s; want the new refresh token and the point", got)
	}

	// A value that is no longer an object is left alone.
	if _, err := api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &id, SecretString: aws.String("pasted by mistake")}); err != nil {
		t.Fatal(err)
	}
	if written, err := s.SaveResumeAt(ctx, id, "skill-e"); err == nil || written {
		t.Fatalf("SaveResumeAt over a non-JSON value = %v, %v; want an error, nothing written", written, err)
	}
	if got, _ := current(t, api, id); got != "pasted by mistake" {
		t.Fatalf("secret = %s; want it left as it was", got)
	}
}
