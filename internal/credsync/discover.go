package credsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// discover lists the skills of the vendors the refresh token can see (or of
// VendorID only), each once, in listing order. On an error it returns the
// skills found so far with it.
func (s *Syncer) discover(ctx context.Context) ([]string, error) {
	start := time.Now()
	vendors, err := s.Client.ListVendors(ctx)
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
		list, err := s.Client.ListSkills(ctx, vendorID)
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
