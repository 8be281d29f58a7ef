package skillmessaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestReaderCachesForTTL(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration // effective TTL
	}{
		{"default", 0, DefaultTTL},
		{"one minute", time.Minute, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			skill := newSkillID()
			prefix := "ttl-" + tc.name + "/"
			putSecret(t, prefix+skill, skillValue(skill, "client-1", "secret-1-"+never))
			sm := &countingSM{api: secrets}
			clk := newClock()
			r := NewCredentialsCache(sm, prefix, WithTTL(tc.ttl))
			r.now = clk.Now
			ctx := context.Background()

			get := func() Credentials {
				t.Helper()
				c, err := r.Credentials(ctx, skill)
				if err != nil {
					t.Fatalf("Credentials(%q) = %v; want credentials", skill, err)
				}
				return c
			}
			c := get()
			if c.SkillID != skill || c.ClientID != "client-1" || c.ClientSecret.Reveal() != "secret-1-"+never {
				t.Fatalf("Credentials(%q) = %+v; want client-1 and its secret", skill, c)
			}
			clk.Advance(tc.want - time.Second)
			// A new value in Secrets Manager is not seen before the TTL.
			putSecret(t, prefix+skill, skillValue(skill, "client-2", "secret-2-"+never))
			if c := get(); c.ClientID != "client-1" || sm.calls.Load() != 1 {
				t.Fatalf("within the TTL: Credentials(%q) = %s after %d calls; want client-1 from memory after 1", skill, c.ClientID, sm.calls.Load())
			}
			clk.Advance(time.Second)
			if c := get(); c.ClientID != "client-2" || sm.calls.Load() != 2 {
				t.Fatalf("at the TTL: Credentials(%q) = %s after %d calls; want client-2 after 2", skill, c.ClientID, sm.calls.Load())
			}
			// Reload bypasses the cache and refills it.
			putSecret(t, prefix+skill, skillValue(skill, "client-3", "secret-3-"+never))
			if c, err := r.Reload(ctx, skill); err != nil || c.ClientID != "client-3" {
				t.Fatalf("Reload(%q) = %s, %v; want client-3", skill, c.ClientID, err)
			}
			if c := get(); c.ClientID != "client-3" || sm.calls.Load() != 3 {
				t.Fatalf("after Reload: Credentials(%q) = %s after %d calls; want client-3 after 3", skill, c.ClientID, sm.calls.Load())
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		value *string // nil: no secret
		bin   bool    // a binary secret
		ask   string  // skill id asked for, default the secret's
		want  error
	}{
		{name: "not yet synced", value: aws.String(`{"skillId":"%s"}`), want: ErrNotSynced},
		{name: "empty secret", value: aws.String(`{"skillId":"%s","clientId":"c","clientSecret":""}`), want: ErrNotSynced},
		{name: "no client id", value: aws.String(`{"skillId":"%s","clientSecret":"s-` + never + `"}`), want: ErrNotSynced},
		{name: "missing", want: ErrSecretNotFound},
		{name: "not JSON", value: aws.String(`clientSecret=` + never), want: ErrMalformedSecret},
		{name: "truncated", value: aws.String(`{"skillId":"%s","clientId":"c","clientSecret":"` + never), want: ErrMalformedSecret},
		{name: "array", value: aws.String(`["` + never + `"]`), want: ErrMalformedSecret},
		{name: "secret not a string", value: aws.String(`{"skillId":"%s","clientId":"c","clientSecret":{"v":"` + never + `"}}`), want: ErrMalformedSecret},
		{name: "no skill id", value: aws.String(`{"clientId":"c","clientSecret":"` + never + `"}`), want: ErrMalformedSecret},
		{name: "binary", bin: true, want: ErrMalformedSecret},
		{name: "other skill", value: aws.String(`{"skillId":"amzn1.ask.skill.ffffffff-ffff-4fff-8fff-ffffffffffff","clientId":"c","clientSecret":"` + never + `"}`), want: ErrMalformedSecret},
		{name: "invalid skill id", ask: "amzn1.ask.skill.../../x", want: ErrInvalidSkillID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			skill := newSkillID()
			prefix := "errors/"
			name := prefix + skill
			ctx := context.Background()
			switch {
			case tc.bin:
				secrets.putBinary(name, []byte(never))
			case tc.value != nil:
				v := *tc.value
				if bytes.Contains([]byte(v), []byte("%s")) {
					v = fmt.Sprintf(v, skill)
				}
				putSecret(t, name, v)
			}
			ask := tc.ask
			if ask == "" {
				ask = skill
			}
			sm := &countingSM{api: secrets}
			r := NewCredentialsCache(sm, prefix)
			_, err := r.Credentials(ctx, ask)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Credentials(%q) = %v; want %v", ask, err, tc.want)
			}
			assertClean(t, err.Error(), fmt.Sprintf("%+v", err))
			if tc.want == ErrInvalidSkillID {
				if sm.calls.Load() != 0 {
					t.Fatalf("an invalid skill id was read from Secrets Manager")
				}
				return
			}
			var se *SecretError
			if !errors.As(err, &se) || se.SecretID != name {
				t.Fatalf("Credentials(%q) = %#v; want a *SecretError for %s", ask, err, name)
			}
			// Errors are not cached.
			_, _ = r.Credentials(ctx, ask)
			if got := sm.calls.Load(); got != 2 {
				t.Fatalf("two failed reads made %d calls; want 2", got)
			}
		})
	}
}

func TestReaderNotSyncedThenSynced(t *testing.T) {
	skill := newSkillID()
	putSecret(t, "later/"+skill, fmt.Sprintf(`{"skillId":%q}`, skill))
	r := NewCredentialsCache(secrets, "later/")
	ctx := context.Background()
	if _, err := r.Credentials(ctx, skill); !errors.Is(err, ErrNotSynced) {
		t.Fatalf("Credentials(%q) = %v; want %v", skill, err, ErrNotSynced)
	}
	putSecret(t, "later/"+skill, skillValue(skill, "client-1", "secret-"+never))
	if c, err := r.Credentials(ctx, skill); err != nil || c.ClientID != "client-1" {
		t.Fatalf("after the sync: Credentials(%q) = %+v, %v; want client-1", skill, c, err)
	}
}

func TestSecretReader(t *testing.T) {
	skill := newSkillID()
	name := "full-name/" + skill + "-custom"
	putSecret(t, name, skillValue(skill, "client-1", "secret-"+never))
	r := NewSecretCredentialsCache(secrets, name)
	ctx := context.Background()
	tests := []struct {
		ask  string
		want error
	}{
		{"", nil},
		{skill, nil},
		{newSkillID(), ErrMalformedSecret},
		{"not-a-skill", ErrInvalidSkillID},
	}
	for _, tc := range tests {
		c, err := r.Credentials(ctx, tc.ask)
		if !errors.Is(err, tc.want) || (err == nil && c.SkillID != skill) {
			t.Errorf("Credentials(%q) = %+v, %v; want %v", tc.ask, c, err, tc.want)
		}
	}
	// Printed, each cache says what it reads.
	if got, want := fmt.Sprint(r), `skillmessaging.CredentialsCache{secret: "`+name+`", ttl: 5m0s}`; got != want {
		t.Errorf("fmt.Sprint(secret cache) = %s; want %s", got, want)
	}
	if got, want := fmt.Sprint(NewCredentialsCache(secrets, "p/")), `skillmessaging.CredentialsCache{prefix: "p/", ttl: 5m0s}`; got != want {
		t.Errorf("fmt.Sprint(prefix cache) = %s; want %s", got, want)
	}
}

func TestReaderCallerGivesUp(t *testing.T) {
	skill := newSkillID()
	putSecret(t, "cancel/"+skill, skillValue(skill, "client-1", "secret-"+never))
	sm := &countingSM{api: secrets, gate: make(chan struct{})}
	r := NewCredentialsCache(sm, "cancel/")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Credentials(ctx, skill); !errors.Is(err, context.Canceled) {
		t.Fatalf("Credentials(%q) with a cancelled context = %v; want %v", skill, err, context.Canceled)
	}
	// The shared read goes on for the others.
	close(sm.gate)
	if c, err := r.Credentials(context.Background(), skill); err != nil || c.ClientID != "client-1" {
		t.Fatalf("Credentials(%q) = %+v, %v; want client-1", skill, c, err)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := Credentials{SkillID: "amzn1.ask.skill.x", ClientID: "client-1", ClientSecret: Secret("secret-" + never)}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("creds", "creds", c, "secret", c.ClientSecret)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("creds", "creds", c, "secret", c.ClientSecret)
	r := NewCredentialsCache(secrets, "x/")
	r.cache = map[string]*cacheEntry{"x": {creds: c, read: time.Now()}}
	texts := []string{logs.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		texts = append(texts, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.ClientSecret), fmt.Sprintf(verb, r), fmt.Sprintf(verb, &c))
	}
	assertClean(t, texts...)
	if got := fmt.Sprint(c.ClientSecret); got != Mask {
		t.Fatalf("fmt.Sprint(secret) = %q; want %q", got, Mask)
	}
}
