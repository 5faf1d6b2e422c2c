package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// ErrContract: a plugin broke a rule of the plugin contract.
var ErrContract = errors.New("plugin contract")

// CheckEvent reports why plugin may not publish e: its type must start with
// "<plugin>." and its headers must not use the host's "medgate-" names.
func CheckEvent(plugin string, e sdk.Event) error {
	if !strings.HasPrefix(e.Type, plugin+".") || len(e.Type) == len(plugin)+1 {
		return fmt.Errorf("%w: event type %q must start with %q (the plugin's own name)", ErrContract, e.Type, plugin+".")
	}
	for k := range e.Headers {
		if strings.HasPrefix(strings.ToLower(k), message.HeaderPrefix) {
			return fmt.Errorf("%w: event %s: header %q: names starting with %q are set by the host; rename it", ErrContract, e.Type, k, message.HeaderPrefix)
		}
	}
	return nil
}

// settingTypes are the setting types the host checks.
var settingTypes = []string{sdk.SettingString, sdk.SettingInt, sdk.SettingBool, sdk.SettingDuration, sdk.SettingURL, sdk.SettingSecret, sdk.SettingPath}

// CheckDescription reports what is wrong with a plugin's declarations:
// operations outside its name or declared both query and upload, names
// declared twice, settings of a type the host does not know (an empty type
// is a string), jobs without an interval, work lists served by no declared operation, and commands
// and views that cannot work.
func CheckDescription(d *sdk.DescribeResponse) error {
	var errs []error
	ops := map[string]bool{}
	for _, op := range d.Operations {
		if ops[op.Type] {
			errs = append(errs, fmt.Errorf("operation %q is declared twice", op.Type))
		}
		ops[op.Type] = true
		if !strings.HasPrefix(op.Type, d.Name+".") {
			errs = append(errs, fmt.Errorf("operation %q must start with %q", op.Type, d.Name+"."))
		}
		if op.Query && op.Upload {
			errs = append(errs, fmt.Errorf("operation %q is declared both Query and Upload: an upload has an external effect, so it is no query; drop Query", op.Type))
		}
	}
	jobs := map[string]bool{}
	for _, j := range d.Jobs {
		if jobs[j.Name] {
			errs = append(errs, fmt.Errorf("job %q is declared twice", j.Name))
		}
		jobs[j.Name] = true
		if j.Interval <= 0 {
			// The scheduler leaves such a job out: it would never run,
			// not even by `medgate job run`.
			errs = append(errs, fmt.Errorf("job %q has no Interval (at least a millisecond): a job without one never runs; give it how often it runs", j.Name))
		}
	}
	settings := map[string]bool{}
	for _, st := range d.Settings {
		if settings[st.Name] {
			errs = append(errs, fmt.Errorf("setting %q is declared twice", st.Name))
		}
		settings[st.Name] = true
		// A type the host does not know is checked as nothing: a
		// misspelled secret would be taken in clear and never resolved.
		if st.Type != "" && !slices.Contains(settingTypes, st.Type) {
			errs = append(errs, fmt.Errorf("setting %q: type %q is not one of %s; use an sdk.Setting* constant", st.Name, st.Type, strings.Join(settingTypes, ", ")))
		}
	}
	seen := map[string]bool{}
	for _, c := range d.Commands {
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("command %q is declared twice", c.Name))
		}
		seen[c.Name] = true
		errs = append(errs, c.Check(d.Name)...)
	}
	forms := map[string]bool{}
	for _, f := range d.Forms {
		if forms[f.Name] {
			errs = append(errs, fmt.Errorf("form %q is declared twice", f.Name))
		}
		forms[f.Name] = true
		if !strings.HasPrefix(f.Operation, d.Name+".") {
			errs = append(errs, fmt.Errorf("form %q: operation %q must start with %q", f.Name, f.Operation, d.Name+"."))
		}
	}
	lists := map[string]bool{}
	for _, wl := range d.WorkLists {
		if lists[wl.Name] {
			errs = append(errs, fmt.Errorf("work list %q is declared twice", wl.Name))
		}
		lists[wl.Name] = true
		if wl.ListOperation != "" && !ops[wl.ListOperation] {
			errs = append(errs, fmt.Errorf("work list %q: its ListOperation %q is not among the operations; register it (sdk.Mux) or fix the name", wl.Name, wl.ListOperation))
		}
	}
	for _, v := range d.WorkListViews {
		if !lists[v.List] {
			errs = append(errs, fmt.Errorf("work list view %q: no work list of that name is declared", v.List))
		}
		for _, c := range v.Columns {
			if c.Form != "" && !forms[c.Form] {
				errs = append(errs, fmt.Errorf("work list %q: column %q opens form %q, which is not declared", v.List, c.Field, c.Form))
			}
		}
		for _, a := range v.Actions {
			if !strings.HasPrefix(a.Operation, d.Name+".") {
				errs = append(errs, fmt.Errorf("work list %q: action %q: operation %q must start with %q", v.List, a.Name, a.Operation, d.Name+"."))
			}
		}
	}
	docs := map[string]bool{}
	for _, v := range d.Documents {
		if docs[v.Name] {
			errs = append(errs, fmt.Errorf("document view %q is declared twice", v.Name))
		}
		docs[v.Name] = true
		errs = append(errs, v.Check(d.Name, lists)...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrContract, errors.Join(errs...))
	}
	return nil
}

// guard enforces the contract on a plugin's calls to the host services
// and keeps the plugin's artifacts.
type guard struct {
	sdkhost.HostServer
	plugin    string
	artifacts *artifact.Store
}

// PutArtifact implements sdkhost.ArtifactServer: the file goes into the
// host's artifact store under the plugin's name and the site.
func (g guard) PutArtifact(_ context.Context, site string, a sdk.Artifact, r io.Reader) (sdk.ArtifactRef, error) {
	if g.artifacts == nil {
		return sdk.ArtifactRef{}, errors.New("this medgate has no artifact store; check artifacts.dir in the configuration and the medgate log")
	}
	m, err := g.artifacts.Put(g.plugin, site, a.Name, a.ContentType, r)
	if err != nil {
		return sdk.ArtifactRef{}, err
	}
	return sdk.ArtifactRef{ID: m.ID, Name: m.Name, Size: m.Size, SHA256: m.SHA256}, nil
}

var _ sdkhost.ArtifactServer = guard{}

// NextSequenceGaps implements sdkhost.GapSequenceServer: a block from the
// host services when they give blocks, else one value of NextSequence.
func (g guard) NextSequenceGaps(ctx context.Context, site, name string) (first, last int64, err error) {
	if gs, ok := g.HostServer.(sdkhost.GapSequenceServer); ok {
		return gs.NextSequenceGaps(ctx, site, name)
	}
	v, err := g.HostServer.NextSequence(ctx, site, name)
	return v, v, err
}

// ScanKnown implements sdkhost.KnownScanServer: the host services' own
// when they have it (reading only the values the plugin lacks), else a
// Scan, whose known values sdkhost leaves out of the answer.
func (g guard) ScanKnown(ctx context.Context, site, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error) {
	if ks, ok := g.HostServer.(sdkhost.KnownScanServer); ok {
		return ks.ScanKnown(ctx, site, prefix, limit, known)
	}
	return g.HostServer.Scan(ctx, site, prefix, limit)
}

var _ sdkhost.KnownScanServer = guard{}

// WriteState implements sdkhost.StateWriteServer: the host services' own
// when they have it (one transaction), else the writes one by one through
// the guard, in order, stopping at the first that fails.
func (g guard) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	if ws, ok := g.HostServer.(sdkhost.StateWriteServer); ok {
		return ws.WriteState(ctx, site, writes)
	}
	out := make([]int64, len(writes))
	for i, w := range writes {
		var err error
		if w.Put {
			out[i], err = g.Put(ctx, site, w.Key, w.Value)
		} else {
			out[i], err = g.CompareAndSet(ctx, site, w.Key, w.Expect, w.Value)
		}
		if err != nil {
			return nil, &sdk.WriteError{Index: i, Applied: i, Err: err}
		}
	}
	return out, nil
}

var _ sdkhost.StateWriteServer = guard{}

func (g guard) Publish(ctx context.Context, site string, e sdk.Event) error {
	if err := CheckEvent(g.plugin, e); err != nil {
		return err
	}
	return g.HostServer.Publish(ctx, site, e)
}
