package credsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/smapi"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/store"
)

// runPlan is what a run syncs besides the secrets it reads.
type runPlan struct {
	// only is the {"skillIds"} of the event; empty means every skill.
	only []string
	// declared and discovered mark the skills of SKILL_IDS_FILE and of
	// vendor discovery.
	declared, discovered map[string]bool
	// extra are the declared and discovered skills to sync when their
	// secret is not among those read (only when only is empty).
	extra []string
	// refs holds the rotation state and tag of the secrets under the prefix,
	// read when the function may create secrets.
	refs     map[string]store.SkillSecretRef
	prefix   string
	rotation bool
	// discovery is closed when the background discovery is done; found
	// and discoveryErr are its result. nil: no discovery.
	discovery    chan struct{}
	found        []string
	discoveryErr error
	awaited      bool
}

// job is one skill to sync: the secret read (cur), or, with create, the
// secret to create (cur.Name).
type job struct {
	cur store.SkillValue
	// create: the skill has no secret; the function creates it.
	create bool
	// discovered: a 404 for it is skipped, not failed (with create).
	discovered bool
	// schedule: the secret needs the rotation schedule the function gives
	// the secrets it manages.
	schedule bool
}

// existingJob syncs a secret that was read. It gets the rotation schedule
// when it has none and is the function's (managed) or a declared skill's
// (left by the stack, or scheduling failed last time).
func (p *runPlan) existingJob(v store.SkillValue) job {
	ref, ok := p.refs[v.SkillID]
	return job{cur: v, schedule: p.rotation && ok && !ref.RotationEnabled && (ref.Managed || p.declared[v.SkillID])}
}

// newJob creates the secret of a declared or discovered skill.
func (p *runPlan) newJob(id string) job {
	return job{
		cur:        store.SkillValue{SkillSecretRef: store.SkillSecretRef{Name: p.prefix + id, SkillID: id}},
		create:     true,
		discovered: p.discovered[id] && !p.declared[id],
		schedule:   p.rotation,
	}
}

// plan gathers the declared skills, starts vendor discovery (for a run of
// every skill) in the background, so the vendors' skill lists are read while
// the secrets are read and synced, and, when the function may create secrets,
// reads the rotation state of those under the prefix. SMAPI is called within
// call (see Syncer.callContext).
func (s *Syncer) plan(ctx, call context.Context, client *smapi.Client, only []string) (*runPlan, error) {
	p := &runPlan{only: only, declared: map[string]bool{}, discovered: map[string]bool{}, prefix: s.Prefix, rotation: s.Create.RotationDays > 0}
	for _, id := range s.Declared {
		p.declared[id] = true
	}
	if len(s.Declared) == 0 && !s.Discover {
		return p, nil
	}
	if len(only) == 0 {
		p.extra = append(p.extra, s.Declared...)
		if s.Discover {
			p.discovery = make(chan struct{})
			go func() {
				defer close(p.discovery)
				p.found, p.discoveryErr = s.discover(call, client)
			}()
		}
	}
	refs, err := s.Store.ListSkillSecrets(ctx, s.Prefix)
	p.refs = make(map[string]store.SkillSecretRef, len(refs))
	for _, r := range refs {
		p.refs[r.SkillID] = r
	}
	if err != nil {
		// Only the rotation schedules of existing secrets depend on it.
		return p, fmt.Errorf("read the rotation state of the skill secrets: %w", err)
	}
	return p, nil
}

// awaitDiscovery waits for the discovery plan started, adds the skills it
// found to extra (once) and returns its error: the skills found before a
// discovery error are synced, the error fails the run after them.
func (p *runPlan) awaitDiscovery() error {
	if p.discovery == nil {
		return nil
	}
	<-p.discovery
	if p.awaited {
		return p.discoveryErr
	}
	p.awaited = true
	for _, id := range p.found {
		p.discovered[id] = true
	}
	p.extra = dedupe(append(p.extra, p.found...))
	return p.discoveryErr
}

// discover lists the skills of the vendors the refresh token can see (or of
// VendorID only), each once, in listing order. On an error it returns the
// skills found so far with it.
func (s *Syncer) discover(ctx context.Context, client *smapi.Client) ([]string, error) {
	start := time.Now()
	vendors, err := client.ListVendors(ctx)
	if err != nil {
		s.logDiscovery(ctx, nil, 0, 0, err, start)
		return nil, fmt.Errorf("vendor discovery: %w", err)
	}
	ids := make([]string, 0, len(vendors))
	for _, v := range vendors {
		ids = append(ids, v.ID)
	}
	if s.VendorID != "" {
		found := false
		for _, v := range vendors {
			found = found || v.ID == s.VendorID
		}
		if !found {
			err := fmt.Errorf("vendor discovery: VENDOR_ID %s is not among the vendors the LWA refresh token can see (%s)", s.VendorID, strings.Join(ids, ", "))
			s.logDiscovery(ctx, ids, 0, 0, err, start)
			return nil, err
		}
		ids = []string{s.VendorID}
	}
	var skills []string
	pages := 0
	var errs []error
	for _, vendorID := range ids {
		list, err := client.ListSkills(ctx, vendorID)
		pages += list.Pages
		for _, sk := range list.Skills {
			skills = append(skills, sk.SkillID)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vendor discovery: %w", err))
		}
	}
	skills = dedupe(skills)
	err = errors.Join(errs...)
	s.logDiscovery(ctx, ids, len(skills), pages, err, start)
	return skills, err
}

func (s *Syncer) logDiscovery(ctx context.Context, vendors []string, skills, pages int, err error, start time.Time) {
	attrs := []slog.Attr{
		slog.Any("vendors", vendors),
		slog.Int("skills", skills),
		slog.Int("pages", pages),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.Logger.LogAttrs(ctx, level, "skills discovered", attrs...)
}

// scheduleRotation gives a secret the function manages the rotation
// schedule of the stack's skill secrets.
func (s *Syncer) scheduleRotation(ctx context.Context, name string) error {
	arn := s.Create.RotationLambdaARN
	if arn == "" && s.Create.FunctionARN != nil {
		arn = unqualified(s.Create.FunctionARN(ctx))
	}
	if arn == "" {
		return fmt.Errorf("rotation of secret %s not scheduled: the function's own ARN is unknown (set SKILL_SECRET_ROTATION_LAMBDA_ARN)", name)
	}
	return s.Store.ScheduleRotation(ctx, name, arn, s.Create.RotationDays)
}

// unqualified drops a version or alias qualifier from a function ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]), so the schedule
// names the function as the stack's schedules do.
func unqualified(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) == 8 && parts[5] == "function" {
		return strings.Join(parts[:7], ":")
	}
	return arn
}
