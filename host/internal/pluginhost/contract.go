package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// CheckDescription reports what is wrong with the declarations of a
// plugin speaking protocol version protocol (sdkhost.CheckDescriptionAt:
// every problem at once), as an ErrContract.
func CheckDescription(d *sdk.DescribeResponse, protocol int) error {
	if errs := sdkhost.CheckDescriptionAt(d, protocol); len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrContract, errors.Join(errs...))
	}
	return nil
}

// ErrSiteNotServed: a plugin called the host services for a site where it
// is not enabled (see SiteError).
var ErrSiteNotServed = errors.New("plugin is not enabled at the site")

// SiteError is the answer to a host-service call a plugin makes for a
// site it does not serve: one where it is not enabled and configured, and
// for which the host has no call in flight to it. It is ErrSiteNotServed
// and travels to the plugin as gRPC PermissionDenied.
type SiteError struct {
	Plugin string
	Site   string
	// Call is the host service refused ("state put", "publish", …).
	Call string
}

func (e *SiteError) Error() string {
	return fmt.Sprintf("plugin %q called the host services (%s) for site %q, where it is not enabled: refused; "+
		"if it should work for that site, enable it there in the configuration (the site with code %q, plugins: %s: with its settings) and reload; "+
		"otherwise fix the plugin: it may act only for the sites it is enabled at",
		e.Plugin, e.Call, e.Site, e.Site, e.Plugin)
}

// Is makes a SiteError ErrSiteNotServed.
func (e *SiteError) Is(target error) bool { return target == ErrSiteNotServed }

// GRPCStatus is the status the plugin receives.
func (e *SiteError) GRPCStatus() *status.Status {
	return status.New(codes.PermissionDenied, e.Error())
}

// guard enforces the contract on a plugin's calls to the host services
// and keeps the plugin's artifacts. Every call names a site; it is refused
// with a *SiteError unless serves says the plugin serves that site (nil
// serves: none), before anything is read or written. A journal entry is
// taken too for a site journals accepts (Instance.journals: a site the
// plugin stopped serving a moment ago).
type guard struct {
	sdkhost.HostServer
	plugin    string
	artifacts *artifact.Store
	serves    func(site string) bool
	journals  func(site string) bool // nil: as serves
}

// check refuses call for site unless the plugin serves the site.
func (g guard) check(site, call string) error {
	if g.serves == nil || !g.serves(site) {
		return &SiteError{Plugin: g.plugin, Site: site, Call: call}
	}
	return nil
}

func (g guard) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	if err := g.check(site, "state get"); err != nil {
		return sdk.Entry{}, err
	}
	return g.HostServer.Get(ctx, site, key)
}

func (g guard) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if err := g.check(site, "state put"); err != nil {
		return 0, err
	}
	return g.HostServer.Put(ctx, site, key, value)
}

func (g guard) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if err := g.check(site, "state compare-and-set"); err != nil {
		return 0, err
	}
	return g.HostServer.CompareAndSet(ctx, site, key, expect, value)
}

func (g guard) Scan(ctx context.Context, site, prefix string, limit int) ([]sdk.Entry, error) {
	if err := g.check(site, "state scan"); err != nil {
		return nil, err
	}
	return g.HostServer.Scan(ctx, site, prefix, limit)
}

func (g guard) Delete(ctx context.Context, site, key string) error {
	if err := g.check(site, "state delete"); err != nil {
		return err
	}
	return g.HostServer.Delete(ctx, site, key)
}

func (g guard) NextSequence(ctx context.Context, site, name string) (int64, error) {
	if err := g.check(site, "next sequence"); err != nil {
		return 0, err
	}
	return g.HostServer.NextSequence(ctx, site, name)
}

func (g guard) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	if g.journals == nil || !g.journals(site) {
		if err := g.check(site, "journal"); err != nil {
			return 0, err
		}
	}
	return g.HostServer.Journal(ctx, site, x)
}

// PutArtifact implements sdkhost.ArtifactServer: the file goes into the
// host's artifact store under the plugin's name and the site.
func (g guard) PutArtifact(_ context.Context, site string, a sdk.Artifact, r io.Reader) (sdk.ArtifactRef, error) {
	if err := g.check(site, "put artifact"); err != nil {
		return sdk.ArtifactRef{}, err
	}
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
	if err := g.check(site, "next sequence"); err != nil {
		return 0, 0, err
	}
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
	if err := g.check(site, "state scan"); err != nil {
		return nil, err
	}
	if ks, ok := g.HostServer.(sdkhost.KnownScanServer); ok {
		return ks.ScanKnown(ctx, site, prefix, limit, known)
	}
	return g.HostServer.Scan(ctx, site, prefix, limit)
}

var _ sdkhost.KnownScanServer = guard{}

// ScanPage implements sdkhost.PagedScanServer: the host services' pages
// when they have them, else the scan whole (more false).
func (g guard) ScanPage(ctx context.Context, site, prefix, after string, limit int, known map[string]int64) ([]sdk.Entry, bool, error) {
	if err := g.check(site, "state scan"); err != nil {
		return nil, false, err
	}
	if ps, ok := g.HostServer.(sdkhost.PagedScanServer); ok {
		return ps.ScanPage(ctx, site, prefix, after, limit, known)
	}
	if after != "" {
		return nil, false, fmt.Errorf("%w: state scan of prefix %q continued after %q, but the host services answer scans whole and never said more entries follow", ErrContract, prefix, after)
	}
	es, err := g.ScanKnown(ctx, site, prefix, limit, known)
	return es, false, err
}

var _ sdkhost.PagedScanServer = guard{}

// WriteState implements sdkhost.StateWriteServer: the host services' own
// when they have it (one transaction), else the writes one by one through
// the guard, in order, stopping at the first that fails.
func (g guard) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	if err := g.check(site, "state write"); err != nil {
		return nil, err
	}
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
	if err := g.check(site, "publish"); err != nil {
		return err
	}
	if err := CheckEvent(g.plugin, e); err != nil {
		return err
	}
	return g.HostServer.Publish(ctx, site, e)
}
