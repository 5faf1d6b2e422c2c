// Package sites applies the configuration's plugins and sites: it launches
// the declared plugins, checks and applies each site's plugin settings, and
// builds the routing snapshot the pipeline serves and the jobs the
// scheduler runs. The daemon calls it on start and reload, check-config
// without starting medgate.
package sites

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/plugins/sdk"
)

// Launch starts one declared plugin whose binary has the checksum sum.
type Launch func(ctx context.Context, p config.Plugin, sum string) (*pluginhost.Instance, error)

// StartPlugins launches every declared plugin not in running yet and adds
// it there. It returns config.Problems listing every plugin that could not
// be started.
func StartPlugins(ctx context.Context, cfg *config.Config, running map[string]*pluginhost.Instance, launch Launch) error {
	var problems config.Problems
	for i, p := range cfg.Plugins {
		if _, ok := running[p.Name]; ok {
			continue
		}
		sum, err := cfg.Checksum(p)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("plugins[%d]", i), "%v", err))
			continue
		}
		in, err := launch(ctx, p, sum)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("plugins[%d]", i), "%v", err))
			continue
		}
		running[p.Name] = in
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// Apply validates and applies every site's plugin settings and
// returns the routing snapshot and the job list. Nothing is half-applied
// in the returned snapshot: a site plugin with problems is reported and the
// whole call fails.
func Apply(ctx context.Context, cfg *config.Config, plugins map[string]*pluginhost.Instance, log *slog.Logger) (*pipeline.Routes, []scheduler.Job, error) {
	routes := &pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{}, Disabled: map[string]map[string]bool{}}
	var jobs []scheduler.Job
	var problems config.Problems
	for i, s := range cfg.Sites {
		routes.Sites[s.Code] = map[string]*pipeline.Target{}
		routes.Disabled[s.Code] = map[string]bool{}
		names := make([]string, 0, len(s.Plugins))
		for n := range s.Plugins {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			sp := s.Plugins[name]
			path := fmt.Sprintf("sites[%d].plugins.%s", i, name)
			in := plugins[name]
			if in == nil {
				continue // reported by config.check
			}
			if !sp.IsEnabled() {
				routes.Disabled[s.Code][name] = true
				in.Forget(s.Code)
				continue
			}
			desc := in.Description()
			settings, sps := pluginhost.CheckSettings(desc.Settings, sp.Settings, filepath.Dir(cfg.File), config.IsSecretRef, cfg.Secret)
			for _, p := range sps {
				problems = append(problems, cfg.Problem(path+".settings."+p.Setting, "%s", p.Message))
			}
			if len(sps) > 0 {
				continue
			}
			diags, err := in.Configure(ctx, s.Code, settings)
			if err != nil {
				problems = append(problems, cfg.Problem(path, "%v", err))
				continue
			}
			for _, dg := range diags {
				if dg.Severity == sdk.SeverityError {
					problems = append(problems, cfg.Problem(path+".settings."+dg.Field, "%s", dg.Message()))
				}
			}
			if diags.HasError() {
				continue
			}
			t := &pipeline.Target{Plugin: name, Handler: in, Operations: map[string]sdk.Operation{}}
			for _, op := range desc.Operations {
				t.Operations[op.Type] = op
			}
			routes.Sites[s.Code][name] = t
			for _, j := range desc.Jobs {
				jobs = append(jobs, job(in, s.Code, j, log))
			}
		}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return routes, jobs, nil
}

func job(in *pluginhost.Instance, site string, j sdk.Job, log *slog.Logger) scheduler.Job {
	return scheduler.Job{Plugin: in.Name(), Site: site, Name: j.Name, Interval: j.Interval, Run: func(ctx context.Context, now time.Time) error {
		r, err := in.RunJob(ctx, &sdk.RunJobRequest{Site: site, Job: j.Name, Now: now, TraceID: newID()})
		if err != nil {
			return err
		}
		if r.Diagnostics.HasError() {
			return errors.New(r.Diagnostics.String())
		}
		log.Info("job result", "plugin", in.Name(), "site", site, "job", j.Name, "summary", r.Summary, "processed", r.Processed)
		return nil
	}}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
