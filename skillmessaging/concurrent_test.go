package skillmessaging

// These tests run on the module's own Go 1.24 (no testing/synctest, no
// sync.WaitGroup.Go): a gate holds the one secret read until every caller
// has started. A caller that started then either waits on the read or grant
// in flight or finds its result; either way it makes no request of its own,
// which is what the tests count. Nothing sleeps.

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentCallersShareOneGrant runs 32 callers of a fresh token
// source: the credentials read is held until every caller has started. They
// share one secret read and one LWA grant.
func TestConcurrentCallersShareOneGrant(t *testing.T) {
	e := newEnv(t)
	{
		mem := newMemSM()
		mem.put(e.prefix+e.skillID, skillValue(e.skillID, "amzn1.application-oa2-client.test", e.secret))
		sm := &countingSM{api: mem, gate: make(chan struct{})}
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		ts, err := NewTokenSource(NewCredentialsCache(sm, e.prefix), e.skillID, WithTokenURL(e.fake.TokenURL()), WithHTTPClient(client))
		if err != nil {
			t.Fatal(err)
		}
		const n = 32
		var wg, started sync.WaitGroup
		tokens := make([]string, n)
		errs := make([]error, n)
		wg.Add(n)
		started.Add(n)
		for i := range n {
			go func() {
				defer wg.Done()
				started.Done()
				tok, err := ts.TokenContext(context.Background())
				if err == nil {
					tokens[i] = tok.AccessToken
				}
				errs[i] = err
			}()
		}
		started.Wait() // every caller has started; the first is on the gate
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
	}
	if got := e.fake.TokenRequests(); got != 1 {
		t.Fatalf("32 concurrent callers made %d LWA grants; want 1", got)
	}
}

// TestCacheConcurrentLoadsOnce: 64 readers over the in-memory Secrets
// Manager, the one load held until every reader has started.
func TestCacheConcurrentLoadsOnce(t *testing.T) {
	{
		skill := newSkillID()
		mem := newMemSM()
		mem.put("concurrent/"+skill, skillValue(skill, "client-1", "secret-"+never))
		sm := &countingSM{api: mem, gate: make(chan struct{})}
		r := NewCredentialsCache(sm, "concurrent/")

		const n = 64
		var done, started sync.WaitGroup
		errs := make([]error, n)
		done.Add(n)
		started.Add(n)
		for i := range n {
			go func() {
				defer done.Done()
				started.Done()
				_, errs[i] = r.Credentials(context.Background(), skill)
			}()
		}
		started.Wait() // every reader has started; the first is on the gate
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
	}
}
