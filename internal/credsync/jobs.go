package credsync

import (
	"context"
	"fmt"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// validOnly returns the valid ids of only (an event's skillIds), each once,
// and a failed result for each invalid one.
func validOnly(only []string, prefix string) (ids []string, invalid []Result) {
	seen := map[string]bool{}
	for _, id := range only {
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := contract.ValidateSkillID(id); err != nil {
			invalid = append(invalid, Result{SkillID: id, Status: StatusFailed, Error: fmt.Sprintf("skipped, not sent to SMAPI: %v (secret %s%s)", err, prefix, id)})
			continue
		}
		ids = append(ids, id)
	}
	return ids, invalid
}

// produce hands each skill of the run to enqueue as a job: every secret as
// soon as its page is read (ids, or every secret under the prefix when ids
// is nil), then the declared and discovered skills that have no secret, once
// every secret was read and discovery is done. A skill that cannot be synced
// goes to fail instead. It returns the error that stopped the reading.
func (s *Syncer) produce(ctx context.Context, p *runPlan, ids []string, enqueue func(job), fail func(r Result, log bool)) error {
	seen := map[string]bool{}
	var err error
	if len(p.only) == 0 || len(ids) > 0 {
		err = s.readSecrets(ctx, ids, func(v store.SkillValue) {
			seen[v.SkillID] = true
			if j, res := s.secretJob(p, v); res != nil {
				fail(*res, v.Err != nil)
			} else {
				enqueue(j)
			}
		})
	}
	_ = p.awaitDiscovery() // its error is the run's, see run
	for _, id := range p.extra {
		if seen[id] {
			continue
		}
		seen[id] = true
		switch verr := contract.ValidateSkillID(id); {
		case err != nil:
			// After a failed read, whether the secret exists is unknown.
			fail(Result{SkillID: id, Status: StatusFailed, Error: fmt.Sprintf("not synced: whether secret %s%s exists is unknown, the skill secrets could not all be read", s.Prefix, id)}, false)
		case verr != nil:
			fail(Result{SkillID: id, Status: StatusFailed, Error: fmt.Sprintf("skipped, not sent to SMAPI: %v (secret %s%s)", verr, s.Prefix, id)}, false)
		default:
			enqueue(p.newJob(id))
		}
	}
	return err
}

// readSecrets reads the skill secrets in batches in a goroutine of its own
// and calls each, in the caller's goroutine, for every secret as soon as its
// page is read: the jobs of a page start while the next page is read.
func (s *Syncer) readSecrets(ctx context.Context, ids []string, each func(store.SkillValue)) error {
	read := make(chan store.SkillValue, 256)
	readErr := make(chan error, 1)
	go func() {
		defer close(read)
		readErr <- s.Store.ReadSkills(ctx, s.Prefix, ids, func(page []store.SkillValue) {
			for _, v := range page {
				read <- v
			}
		})
	}()
	for v := range read {
		each(v)
	}
	return <-readErr
}

// secretJob is the job of a secret read, or the failed result of a skill
// that cannot be synced: its secret could not be read or does not exist
// (unless the skill is declared: then the job creates it), or, in a run over
// every skill, its name does not end in a skill id.
func (s *Syncer) secretJob(p *runPlan, v store.SkillValue) (job, *Result) {
	res := Result{SkillID: v.SkillID, Status: StatusFailed}
	switch {
	case v.Err != nil && store.IsNotFound(v.Err) && p.declared[v.SkillID]:
		return p.newJob(v.SkillID), nil
	case v.Err != nil && store.IsNotFound(v.Err):
		res.Error = fmt.Sprintf("no secret named %s: add the skill to the stack's skillIds and deploy", v.Name)
	case v.Err != nil:
		res.Error = fmt.Sprintf("skill %s: %v", v.SkillID, v.Err)
	case len(p.only) == 0 && contract.ValidateSkillID(v.SkillID) != nil:
		res.Error = fmt.Sprintf("skipped, not sent to SMAPI: %v (secret %s)", contract.ValidateSkillID(v.SkillID), v.Name)
	default:
		return p.existingJob(v), nil
	}
	return job{}, &res
}
