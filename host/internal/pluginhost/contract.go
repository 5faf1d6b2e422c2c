package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// CheckDescription reports what is wrong with a plugin's declarations
// (sdkhost.CheckDescription: every problem at once), as an ErrContract.
func CheckDescription(d *sdk.DescribeResponse) error {
	if errs := sdkhost.CheckDescription(d); len(errs) > 0 {
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
