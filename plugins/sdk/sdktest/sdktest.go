// Package sdktest helps vendors test a plugin without the medgate host: it
// connects a plugin implementation over the real gRPC protocol in memory
// ([Connect]), configures a site as the host does, by the host's rules for
// declarations, schema documents and settings ([Configure]), and provides an in-memory
// implementation of the host's services ([MemoryHost]).
package sdktest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// Connect serves impl over gRPC in memory, exactly as the host would see it
// across processes, and returns the host-side client. host serves the
// plugin's calls back to the host; pass a *MemoryHost.
//
// The client speaks the newest protocol version; it also implements
// sdk.CommandRunner, so local commands can be tested the same way.
func Connect(t testing.TB, impl sdk.Plugin, host sdkhost.HostServer) *sdkhost.Client {
	t.Helper()
	return ConnectVersion(t, impl, host, sdkhost.ProtocolLatest)
}

// ConnectVersion is Connect speaking an older protocol version, to test
// that a plugin still works with a host that knows only that version.
func ConnectVersion(t testing.TB, impl sdk.Plugin, host sdkhost.HostServer, version int) *sdkhost.Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdkhost.PluginName: sdkhost.InMemory(impl, host, version)})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdkhost.PluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense plugin: %v", err)
	}
	if b, ok := host.(interface{ bind(sdk.Plugin) }); ok {
		b.bind(impl)
	}
	return raw.(*sdkhost.Client)
}

// MemoryHost is an in-memory sdkhost.HostServer. Its fields may be read by tests
// after the calls they want to observe have returned.
//
// It refuses an event as medgate does: one whose type does not start with
// the name of a plugin connected to it ("<name>."), or with a header whose
// name starts with "medgate-" (the host's own).
type MemoryHost struct {
	mu sync.Mutex
	// plugins are the plugins connected to the host (Connect), whose names
	// are read from their Describe at the first event, under describing.
	describing sync.Mutex
	plugins    []sdk.Plugin
	names      []string
	state      map[string]map[string]sdk.Entry
	seqs       map[string]int64
	events     []Published
	exchanges  []Journaled
	artifacts  []Stored
}

// Published is an event with its site.
type Published struct {
	Site  string
	Event sdk.Event
}

// Journaled is a journal entry with its site.
type Journaled struct {
	Site     string
	Exchange sdk.Exchange
}

// NewMemoryHost returns an empty host.
func NewMemoryHost() *MemoryHost {
	return &MemoryHost{state: map[string]map[string]sdk.Entry{}, seqs: map[string]int64{}}
}

// Events returns a copy of the published events.
func (h *MemoryHost) Events() []Published {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Published(nil), h.events...)
}

// Exchanges returns a copy of the journal.
func (h *MemoryHost) Exchanges() []Journaled {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Journaled(nil), h.exchanges...)
}

func (h *MemoryHost) ns(site string) map[string]sdk.Entry {
	m := h.state[site]
	if m == nil {
		m = map[string]sdk.Entry{}
		h.state[site] = m
	}
	return m
}

// Get implements sdkhost.HostServer.
func (h *MemoryHost) Get(_ context.Context, site, key string) (sdk.Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.ns(site)[key]
	if !ok {
		return sdk.Entry{}, sdk.ErrNotFound
	}
	return e, nil
}

// Put implements sdkhost.HostServer.
func (h *MemoryHost) Put(_ context.Context, site, key string, value []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.ns(site)
	e := m[key]
	e.Key, e.Value, e.Version = key, append([]byte(nil), value...), e.Version+1
	m[key] = e
	return e.Version, nil
}

// CompareAndSet implements sdkhost.HostServer.
func (h *MemoryHost) CompareAndSet(_ context.Context, site, key string, expect int64, value []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.ns(site)
	e := m[key]
	if e.Version != expect {
		return 0, sdk.ErrConflict
	}
	e.Key, e.Value, e.Version = key, append([]byte(nil), value...), e.Version+1
	m[key] = e
	return e.Version, nil
}

// WriteState implements sdkhost.StateWriteServer as medgate does: every
// write or none. A test host that wraps MemoryHost to change Put or
// CompareAndSet must override WriteState too, or the plugin's
// sdk.WriteState calls pass it by.
func (h *MemoryHost) WriteState(_ context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.ns(site)
	next := map[string]sdk.Entry{}
	out := make([]int64, len(writes))
	for i, w := range writes {
		e, ok := next[w.Key]
		if !ok {
			e = m[w.Key]
		}
		if !w.Put && e.Version != w.Expect {
			return nil, &sdk.WriteError{Index: i, Applied: 0, Err: sdk.ErrConflict}
		}
		e.Key, e.Value, e.Version = w.Key, append([]byte(nil), w.Value...), e.Version+1
		next[w.Key] = e
		out[i] = e.Version
	}
	maps.Copy(m, next)
	return out, nil
}

// Scan implements sdkhost.HostServer.
func (h *MemoryHost) Scan(_ context.Context, site, prefix string, limit int) ([]sdk.Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sdk.Entry
	for k, e := range h.ns(site) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Delete implements sdkhost.HostServer.
func (h *MemoryHost) Delete(_ context.Context, site, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ns(site), key)
	return nil
}

// NextSequence implements sdkhost.HostServer.
func (h *MemoryHost) NextSequence(_ context.Context, site, name string) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := site + "/" + name
	h.seqs[k]++
	return h.seqs[k], nil
}

// bind makes p a plugin connected to h, whose events h checks.
func (h *MemoryHost) bind(p sdk.Plugin) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.plugins = append(h.plugins, p)
}

// Publish implements sdkhost.HostServer. It refuses an event medgate would
// refuse, with medgate's words.
func (h *MemoryHost) Publish(ctx context.Context, site string, e sdk.Event) error {
	if e.Type == "" {
		return fmt.Errorf("sdktest: publish: event type is empty")
	}
	if err := h.checkEvent(ctx, e); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, Published{Site: site, Event: e})
	return nil
}

// checkEvent applies medgate's rules for events to e: its type starts with
// the name of a plugin connected to h, and no header name starts with
// "medgate-". Without a connected plugin (a MemoryHost used on its own)
// the type is not checked.
func (h *MemoryHost) checkEvent(ctx context.Context, e sdk.Event) error {
	h.describing.Lock()
	defer h.describing.Unlock()
	h.mu.Lock()
	pending := h.plugins
	h.plugins = nil
	h.mu.Unlock()
	for _, p := range pending {
		// Describe outside the lock: the plugin is in this process.
		d, err := p.Describe(ctx, &sdk.DescribeRequest{})
		if err != nil || d == nil {
			continue
		}
		h.mu.Lock()
		h.names = append(h.names, d.Name)
		h.mu.Unlock()
	}
	h.mu.Lock()
	names := slices.Clone(h.names)
	h.mu.Unlock()
	if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool {
		return strings.HasPrefix(e.Type, n+".") && len(e.Type) > len(n)+1
	}) {
		return fmt.Errorf("sdktest: medgate would refuse this event: event type %q must start with %q (the plugin's own name)", e.Type, names[0]+".")
	}
	for k := range e.Headers {
		if strings.HasPrefix(strings.ToLower(k), "medgate-") {
			return fmt.Errorf("sdktest: medgate would refuse this event: event %s: header %q: names starting with %q are set by the host; rename it", e.Type, k, "medgate-")
		}
	}
	return nil
}

// Journal implements sdkhost.HostServer.
func (h *MemoryHost) Journal(_ context.Context, site string, x sdk.Exchange) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.exchanges = append(h.exchanges, Journaled{Site: site, Exchange: x})
	return int64(len(h.exchanges)), nil
}

var _ sdkhost.HostServer = (*MemoryHost)(nil)

// Stored is an artifact a plugin handed to a MemoryHost.
type Stored struct {
	Site     string
	Ref      sdk.ArtifactRef
	Artifact sdk.Artifact
	Data     []byte
}

// PutArtifact implements sdkhost.ArtifactServer.
func (h *MemoryHost) PutArtifact(_ context.Context, site string, a sdk.Artifact, r io.Reader) (sdk.ArtifactRef, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return sdk.ArtifactRef{}, err
	}
	sum := sha256.Sum256(data)
	h.mu.Lock()
	defer h.mu.Unlock()
	ref := sdk.ArtifactRef{ID: fmt.Sprintf("artifact-%d", len(h.artifacts)+1), Name: a.Name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	h.artifacts = append(h.artifacts, Stored{Site: site, Ref: ref, Artifact: a, Data: data})
	return ref, nil
}

// Artifacts returns a copy of the stored artifacts.
func (h *MemoryHost) Artifacts() []Stored {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Stored(nil), h.artifacts...)
}

var _ sdkhost.ArtifactServer = (*MemoryHost)(nil)
var _ sdkhost.StateWriteServer = (*MemoryHost)(nil)
