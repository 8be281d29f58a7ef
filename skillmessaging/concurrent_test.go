//go:build go1.25

// testing/synctest.Test is Go 1.25; the module declares Go 1.24, so these
// tests build only with a newer toolchain (as every CI run here has).

package skillmessaging

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
)

// TestConcurrentCallersShareOneGrant runs 32 callers of a fresh token source
// in a synctest bubble: the first holds the credentials read until every
// other caller is waiting, so the test knows, without sleeping, that they all
// asked at once. They share one secret read and one LWA grant.
func TestConcurrentCallersShareOneGrant(t *testing.T) {
	e := newEnv(t) // the fake LWA, outside the bubble
	synctest.Test(t, func(t *testing.T) {
		mem := newMemSM()
		mem.put(e.prefix+e.skillID, skillValue(e.skillID, "amzn1.application-oa2-client.test", e.secret))
		sm := &countingSM{api: mem, gate: make(chan struct{})}
		// No idle connections: their goroutines would outlive the bubble.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		ts, err := NewTokenSource(NewCredentialsCache(sm, e.prefix), e.skillID, WithTokenURL(e.fake.TokenURL()), WithHTTPClient(client))
		if err != nil {
			t.Fatal(err)
		}
		const n = 32
		var wg sync.WaitGroup
		tokens := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				tok, err := ts.TokenContext(context.Background())
				if err == nil {
					tokens[i] = tok.AccessToken
				}
				errs[i] = err
			})
		}
		synctest.Wait() // one caller on the gate, the others on the grant in progress
		close(sm.gate)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || tokens[i] != tokens[0] {
				t.Fatalf("caller %d: TokenContext = %v; want the one token", i, errs[i])
			}
		}
		if got := sm.calls.Load(); got != 1 {
			t.Errorf("%d concurrent callers read the secret %d times; want 1", n, got)
		}
	})
	if got := e.fake.TokenRequests(); got != 1 {
		t.Fatalf("32 concurrent callers made %d LWA grants; want 1", got)
	}
}

// TestCacheConcurrentLoadsOnce runs in a synctest bubble over the in-memory
// Secrets Manager, so the test knows, without sleeping, that every reader is
// waiting before the one load may finish.
func TestCacheConcurrentLoadsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		skill := newSkillID()
		mem := newMemSM()
		mem.put("concurrent/"+skill, skillValue(skill, "client-1", "secret-"+never))
		sm := &countingSM{api: mem, gate: make(chan struct{})}
		r := NewCredentialsCache(sm, "concurrent/")

		const n = 64
		var done sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			done.Go(func() { _, errs[i] = r.Credentials(context.Background(), skill) })
		}
		synctest.Wait() // every reader is blocked: on the gate or on the load in flight
		close(sm.gate)
		done.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("reader %d: Credentials(%q) = %v; want credentials", i, skill, err)
			}
		}
		if got := sm.calls.Load(); got != 1 {
			t.Fatalf("%d concurrent readers made %d GetSecretValue calls; want 1", n, got)
		}
	})
}
