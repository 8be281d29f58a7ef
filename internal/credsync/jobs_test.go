package credsync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store/storetest"
)

func TestValidOnly(t *testing.T) {
	ids, invalid := validOnly([]string{skill(2), "bad", skill(1), skill(2), "bad"}, "p/")
	if !slices.Equal(ids, []string{skill(2), skill(1)}) {
		t.Errorf("ids = %v; want skills 2 and 1, each once, in the event's order", ids)
	}
	if len(invalid) != 1 || invalid[0].SkillID != "bad" || invalid[0].Status != StatusFailed || !strings.Contains(invalid[0].Error, "not sent to SMAPI") || !strings.Contains(invalid[0].Error, "p/bad") {
		t.Errorf("invalid = %+v; want one failed result for bad, naming its secret", invalid)
	}
}

func TestSecretJob(t *testing.T) {
	s := &Syncer{Prefix: "p/"}
	notFound := &types.ResourceNotFoundException{Message: new(string)}
	ref := func(id string) store.SkillSecretRef { return store.SkillSecretRef{Name: "p/" + id, SkillID: id} }
	tests := []struct {
		name    string
		only    []string
		v       store.SkillValue
		create  bool   // want a job creating the secret
		failure string // want a failed result saying this; "" wants a job
	}{
		{"read", nil, store.SkillValue{SkillSecretRef: ref(skill(1))}, false, ""},
		{"declared without a secret", nil, store.SkillValue{SkillSecretRef: ref(skill(9)), Err: notFound}, true, ""},
		{"missing", []string{skill(2)}, store.SkillValue{SkillSecretRef: ref(skill(2)), Err: notFound}, false, "no secret named p/" + skill(2)},
		{"unreadable", nil, store.SkillValue{SkillSecretRef: ref(skill(3)), Err: errors.New("decryption failure")}, false, "skill " + skill(3) + ": decryption failure"},
		{"name not a skill id", nil, store.SkillValue{SkillSecretRef: ref("notes")}, false, "not sent to SMAPI"},
		{"only: the id was checked before", []string{skill(4)}, store.SkillValue{SkillSecretRef: ref(skill(4))}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &runPlan{only: tt.only, prefix: "p/", declared: map[string]bool{skill(9): true}}
			j, res := s.secretJob(p, tt.v)
			switch {
			case tt.failure != "" && (res == nil || res.Status != StatusFailed || !strings.Contains(res.Error, tt.failure)):
				t.Errorf("result %+v; want failed: %q", res, tt.failure)
			case tt.failure == "" && res != nil:
				t.Errorf("result %+v; want a job", res)
			case tt.failure == "" && (j.cur.SkillID != tt.v.SkillID || j.create != tt.create):
				t.Errorf("job %+v; want skill %s, create %v", j, tt.v.SkillID, tt.create)
			}
		})
	}
}

func TestResultsOrdered(t *testing.T) {
	var rs results
	for _, i := range []int{3, 1, 2} {
		rs.set(Result{SkillID: skill(i), Status: StatusUpdated})
	}
	all := rs.ordered(nil, "p/", nil)
	if ids := resultIDs(all); !slices.Equal(ids, []string{skill(1), skill(2), skill(3)}) {
		t.Errorf("run over every skill: %v; want sorted by skill id", ids)
	}
	only := rs.ordered([]string{skill(2), skill(4), skill(1)}, "p/", nil)
	if ids := resultIDs(only); !slices.Equal(ids, []string{skill(2), skill(4), skill(1)}) || only[1].Status != StatusFailed || !strings.Contains(only[1].Error, "no secret named p/"+skill(4)) {
		t.Errorf("skillIds run: %+v; want the event's order, skill 4 failed without a secret", only)
	}
	cut := rs.ordered([]string{skill(4)}, "p/", errors.New("throttled"))
	if !strings.Contains(cut[0].Error, "not read: throttled") {
		t.Errorf("after a read error: %q; want the secret not read, with the error", cut[0].Error)
	}
	var none results
	if got := none.ordered(nil, "p/", nil); got == nil || len(got) != 0 {
		t.Errorf("no results: %#v; want an empty, non-nil list (\"results\": [])", got)
	}
}

func resultIDs(rs []Result) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.SkillID
	}
	return ids
}

// TestProduce checks the producer alone against moto: the secrets read
// become jobs in the order read, then the declared skills without a secret,
// once; a declared id that is not a skill id fails without a job.
func TestProduce(t *testing.T) {
	e := newEnv(t, 2, 1)
	e.syncer.Declared = []string{skill(1), skill(3), "not-a-skill", skill(3)}
	p, err := e.syncer.plan(context.Background(), context.Background(), e.syncer.Client, nil)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []job
	var failed []Result
	err = e.syncer.produce(context.Background(), p, nil, func(j job) { jobs = append(jobs, j) }, func(r Result, _ bool) { failed = append(failed, r) })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.cur.SkillID)
	}
	if !slices.Equal(got[:2], []string{skill(1), skill(2)}) && !slices.Equal(got[:2], []string{skill(2), skill(1)}) || len(got) != 3 || got[2] != skill(3) || !jobs[2].create || jobs[0].create {
		t.Errorf("jobs %v (create %v); want the two secrets read, then declared skill 3 once, created", got, jobs)
	}
	if len(failed) != 1 || failed[0].SkillID != "not-a-skill" {
		t.Errorf("failed %+v; want the declared id that is not a skill id", failed)
	}
}

// TestProduceReadsNothingForOnlyInvalidIDs: a skillIds event whose ids are
// all invalid reads no secret (in particular not every secret under the
// prefix, as a run without skillIds does) and starts no job.
func TestProduceReadsNothingForOnlyInvalidIDs(t *testing.T) {
	mem := storetest.NewMem()
	mem.Create("p/"+skill(1), `{"skillId":"`+skill(1)+`"}`)
	s := &Syncer{Prefix: "p/", Store: store.New(mem)}
	p := &runPlan{only: []string{"bad"}, prefix: "p/", declared: map[string]bool{}, discovered: map[string]bool{}}
	ids, _ := validOnly(p.only, "p/")
	var jobs int
	if err := s.produce(context.Background(), p, ids, func(job) { jobs++ }, func(Result, bool) {}); err != nil {
		t.Fatal(err)
	}
	if calls := mem.Calls(); jobs != 0 || len(calls) != 0 {
		t.Errorf("%d jobs, Secrets Manager calls %v; want none", jobs, calls)
	}
}

// TestRotationScheduledOnlyWithRotationDays: created secrets get a rotation
// schedule when the function has an interval (RotationDays > 0), and none
// with RotationDays 0.
func TestRotationScheduledOnlyWithRotationDays(t *testing.T) {
	for _, days := range []int{0, 1, 30} {
		s := &Syncer{Prefix: "p/", Create: Creation{RotationDays: days}}
		p, err := s.plan(context.Background(), context.Background(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.rotation != (days > 0) {
			t.Errorf("RotationDays %d: rotation %v; want %v", days, p.rotation, days > 0)
		}
	}
}

// TestTrigger: a rotation step is the schedule's from the first moment of
// NextRotationDate's day (UTC; Secrets Manager starts it at a random hour of
// that day), and on demand before that day or without a schedule.
func TestTrigger(t *testing.T) {
	next := time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Time
		next *time.Time
		want string
	}{
		{next, &next, TriggerSchedule},
		{time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), &next, TriggerSchedule}, // the day's first moment, before the date's hour
		{time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), &next, TriggerSchedule},
		{time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), &next, TriggerSchedule},
		{time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC), &next, TriggerOnDemand},
		{time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), &next, TriggerOnDemand},
		{next, nil, TriggerOnDemand},
	} {
		if got := trigger(tc.now, tc.next); got != tc.want {
			t.Errorf("trigger(%s, %v) = %q; want %q", tc.now, tc.next, got, tc.want)
		}
	}
}
