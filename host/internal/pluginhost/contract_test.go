package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestVersion1PluginStillRuns launches a plugin that offers only protocol
// version 1 next to one built with the current SDK: both run, each at the
// newest version it knows.
func TestVersion1PluginStillRuns(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		pkg, name, typ string
		version        int
	}{
		"version 1": {"github.com/medgate/medgate/plugins/sdk/sdkhost/testdata/v1plugin", "v1plugin", "v1plugin.echo", sdkhost.ProtocolV1},
		"version 2": {"github.com/medgate/medgate/test/plugins/ledger", "ledger", "ledger.record", sdkhost.ProtocolV2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path, sum := buildPlugin(t, tc.pkg)
			in, err := Start(t.Context(), Spec{Name: tc.name, Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if got := in.ProtocolVersion(); got != tc.version {
				t.Fatalf("negotiated protocol %d, want %d", got, tc.version)
			}
			if tc.version == sdkhost.ProtocolV1 {
				r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: tc.typ, MessageID: "m1", Payload: []byte(`{"x":1}`), Attempt: 1})
				if err != nil || r.Status != sdk.StatusOK || string(r.Payload) != `{"x":1}` {
					t.Fatalf("handle on a version-1 plugin: %v %+v", err, r)
				}
			}
		})
	}
}

func TestCheckEvent(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		event sdk.Event
		want  string // part of the error; empty: allowed
	}{
		"own type":              {sdk.Event{Type: "ledger.tick"}, ""},
		"own type with headers": {sdk.Event{Type: "ledger.tick", Headers: map[string]string{"ledger-batch": "1"}}, ""},
		"another plugin's type": {sdk.Event{Type: "other.tick"}, `must start with "ledger."`},
		"prefix without a dot":  {sdk.Event{Type: "ledgerx.tick"}, `must start with "ledger."`},
		"name alone":            {sdk.Event{Type: "ledger."}, `must start with "ledger."`},
		"empty type":            {sdk.Event{}, `must start with "ledger."`},
		"reserved header":       {sdk.Event{Type: "ledger.tick", Headers: map[string]string{"medgate-type": "x"}}, `header "medgate-type"`},
		"reserved header, case": {sdk.Event{Type: "ledger.tick", Headers: map[string]string{"Medgate-Plugin": "x"}}, `header "Medgate-Plugin"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := CheckEvent("ledger", tc.event)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckEvent = %v, want nil", err)
			case tc.want != "" && (!errors.Is(err, ErrContract) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckEvent = %v, want ErrContract containing %q", err, tc.want)
			}
		})
	}
}

// TestGuardRefusesForeignEvents checks that the host services a plugin gets
// refuse what CheckEvent refuses and pass the rest on.
func TestGuardRefusesForeignEvents(t *testing.T) {
	t.Parallel()
	mem := sdktest.NewMemoryHost()
	g := guard{HostServer: mem, plugin: "ledger", serves: func(string) bool { return true }}
	if err := g.Publish(t.Context(), "s1", sdk.Event{Type: "other.tick"}); !errors.Is(err, ErrContract) {
		t.Fatalf("foreign type: %v, want ErrContract", err)
	}
	if err := g.Publish(t.Context(), "s1", sdk.Event{Type: "ledger.tick", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if evs := mem.Events(); len(evs) != 1 || evs[0].Event.Type != "ledger.tick" {
		t.Fatalf("published %+v, want only ledger.tick", evs)
	}
}

func TestCheckDescription(t *testing.T) {
	t.Parallel()
	remote := sdk.Command{Name: "ping", Summary: "s", Operation: "p.ping"}
	local := sdk.Command{Name: "import-keys", Summary: "s", Local: true, Arguments: []sdk.Argument{{Name: "private", Type: sdk.SettingPath}}}
	cases := map[string]struct {
		desc sdk.DescribeResponse
		want []string // parts of the error; none: valid
	}{
		"valid": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{{Type: "p.ping"}}, Commands: []sdk.Command{remote, local}}, nil},
		"foreign operation": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{{Type: "q.ping"}}},
			[]string{`operation "q.ping" must start with "p."`}},
		"a query that is also an upload": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{{Type: "p.check", Query: true}, {Type: "p.send", Query: true, Upload: true}}},
			[]string{`operation "p.send" is declared both Query and Upload`}},
		"command sends a foreign operation": {sdk.DescribeResponse{Name: "p", Commands: []sdk.Command{{Name: "x", Operation: "q.x"}}},
			[]string{`operation "q.x" must be one of the plugin's own`}},
		"local command with an operation": {sdk.DescribeResponse{Name: "p", Commands: []sdk.Command{{Name: "x", Local: true, Operation: "p.x"}}},
			[]string{"sends no operation"}},
		"command with neither": {sdk.DescribeResponse{Name: "p", Commands: []sdk.Command{{Name: "x"}}},
			[]string{"give the Operation"}},
		"bad name, twice": {sdk.DescribeResponse{Name: "p", Commands: []sdk.Command{{Name: "Bad Name", Operation: "p.x"}, {Name: "Bad Name", Operation: "p.x"}}},
			[]string{"lowercase letters", `command "Bad Name" is declared twice`}},
		"reserved argument": {sdk.DescribeResponse{Name: "p", Commands: []sdk.Command{{Name: "x", Operation: "p.x", Arguments: []sdk.Argument{{Name: "site"}}}}},
			[]string{`argument "site"`}},
		"form sends a foreign operation": {sdk.DescribeResponse{Name: "p", Forms: []sdk.Form{{Name: "f", Operation: "q.x"}}},
			[]string{`form "f": operation "q.x" must start with "p."`}},
		"view of an undeclared list, column opening an undeclared form, foreign action": {sdk.DescribeResponse{Name: "p",
			WorkLists:     []sdk.WorkList{{Name: "l"}},
			WorkListViews: []sdk.WorkListView{{List: "nope"}, {List: "l", Columns: []sdk.Column{{Field: "id", Form: "f"}}, Actions: []sdk.Action{{Name: "a", Operation: "q.a"}}}}},
			[]string{`work list view "nope"`, `opens form "f", which is not declared`, `action "a": operation "q.a"`}},
		"document view": {sdk.DescribeResponse{Name: "p", Operations: []sdk.Operation{{Type: "p.get"}, {Type: "p.adjust"}, {Type: "p.confirm"}}, WorkLists: []sdk.WorkList{{Name: "l", ListOperation: "p.get"}}, Documents: []sdk.DocumentView{{Name: "doc", List: "l", ItemField: "id",
			Get: "p.get", IDField: "id", Lines: "lines", LineKey: "n", Adjust: sdk.DocumentAdjust{Operation: "p.adjust", Changes: "changes", Kind: "op"},
			Edits: []sdk.Edit{{Name: "set", PerLine: true}}, Confirm: &sdk.DocumentConfirm{Operation: "p.confirm"}}}}, nil},
		"document view of an undeclared list, foreign operations, edits twice, a pick without items": {sdk.DescribeResponse{Name: "p",
			Documents: []sdk.DocumentView{{Name: "doc", List: "nope", ItemField: "id", Get: "q.get", IDField: "id", Lines: "lines", LineKey: "n",
				Adjust: sdk.DocumentAdjust{Operation: "q.adjust"}, Edits: []sdk.Edit{{Name: "e", Pick: "codes"}, {Name: "e"}},
				Confirm: &sdk.DocumentConfirm{Operation: "q.confirm"}}, {Name: "doc"}}},
			[]string{`work list "nope" is not declared`, `Get operation "q.get"`, `Adjust operation "q.adjust"`, `Confirm operation "q.confirm"`,
				"Adjust needs Changes and Kind", `edit "e" is unnamed or declared twice`, "LineItems is not declared", `document view "doc" is declared twice`, "LineKey is empty"}},
		"settings of an unknown type, declared twice; a type left empty is a string": {sdk.DescribeResponse{Name: "p", Settings: []sdk.Setting{
			{Name: "apiKey", Type: "secert"}, {Name: "url", Type: sdk.SettingURL}, {Name: "url", Type: sdk.SettingURL}, {Name: "label"}}},
			[]string{`setting "apiKey": type "secert" is not one of`, `setting "url" is declared twice`}},
		"operations and jobs declared twice, a work list served by no operation": {sdk.DescribeResponse{Name: "p",
			Operations: []sdk.Operation{{Type: "p.a"}, {Type: "p.a"}}, Jobs: []sdk.Job{{Name: "j", Interval: time.Minute}, {Name: "j", Interval: time.Minute}},
			WorkLists: []sdk.WorkList{{Name: "l", ListOperation: "p.list"}}},
			[]string{`operation "p.a" is declared twice`, `job "j" is declared twice`, `work list "l": its ListOperation "p.list" is not among the operations`}},
		"a job without an interval": {sdk.DescribeResponse{Name: "p", Jobs: []sdk.Job{{Name: "poll"}, {Name: "ok", Interval: time.Minute}}},
			[]string{`job "poll" has no Interval`}},
		"a job more often than once a second": {sdk.DescribeResponse{Name: "p", Jobs: []sdk.Job{{Name: "poll", Interval: time.Millisecond}, {Name: "ok", Interval: time.Second}}},
			[]string{`plugin "p": job "poll": Interval 1ms is below the minimum of 1s`, "declare an Interval of at least 1s"}},
		"a job once a second": {sdk.DescribeResponse{Name: "p", Jobs: []sdk.Job{{Name: "ok", Interval: time.Second}}}, nil},
		"runs bounded under a second or below zero": {sdk.DescribeResponse{Name: "p", Jobs: []sdk.Job{
			{Name: "quick", Interval: time.Hour, MaxRun: time.Millisecond}, {Name: "wrapped", Interval: time.Hour, MaxRun: -1}}},
			[]string{`plugin "p": job "quick": MaxRun 1ms is below the minimum of 1s`, `plugin "p": job "wrapped": MaxRun is negative`, "0 for the default (three Intervals)"}},
		"runs bounded under or over the interval": {sdk.DescribeResponse{Name: "p", Jobs: []sdk.Job{
			{Name: "hourly", Interval: time.Hour, MaxRun: 10 * time.Minute}, {Name: "export", Interval: time.Minute, MaxRun: time.Hour}, {Name: "edge", Interval: time.Second, MaxRun: time.Second}}}, nil},
		"file argument of a local command": {sdk.DescribeResponse{Name: "p", Commands: []sdk.Command{{Name: "x", Local: true, Arguments: []sdk.Argument{{Name: "f", Type: sdk.ArgumentFile}}}}},
			[]string{"reads files itself"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := CheckDescription(&tc.desc, sdkhost.ProtocolLatest)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckDescription = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrContract) {
				t.Fatalf("CheckDescription = %v, want ErrContract", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// knownScanner notes whether its ScanKnown was called.
type knownScanner struct {
	*sdktest.MemoryHost
	called bool
}

func (k *knownScanner) ScanKnown(ctx context.Context, site, prefix string, limit int, _ map[string]int64) ([]sdk.Entry, error) {
	k.called = true
	return k.Scan(ctx, site, prefix, limit)
}

// TestGuardPassesScanKnownOn: the host services' ScanKnown (which reads
// only the values a plugin lacks) is reached through the guard; host
// services without it are scanned.
func TestGuardPassesScanKnownOn(t *testing.T) {
	t.Parallel()
	ks := &knownScanner{MemoryHost: sdktest.NewMemoryHost()}
	if _, err := ks.Put(t.Context(), "s1", "k/1", []byte("v")); err != nil {
		t.Fatal(err)
	}
	var g sdkhost.HostServer = guard{HostServer: ks, plugin: "ledger", serves: func(string) bool { return true }}
	es, err := g.(sdkhost.KnownScanServer).ScanKnown(t.Context(), "s1", "k/", 0, map[string]int64{"k/1": 1})
	if err != nil || len(es) != 1 || !ks.called {
		t.Errorf("ScanKnown through the guard = %+v, %v, host's ScanKnown called: %v; want k/1 from the host's ScanKnown", es, err, ks.called)
	}
	g = guard{HostServer: ks.MemoryHost, plugin: "ledger", serves: func(string) bool { return true }}
	if es, err := g.(sdkhost.KnownScanServer).ScanKnown(t.Context(), "s1", "k/", 0, map[string]int64{"k/1": 1}); err != nil || len(es) != 1 || es[0].Key != "k/1" {
		t.Errorf("ScanKnown through the guard of a host without it = %+v, %v; want k/1", es, err)
	}
}

// stateWriter notes whether its WriteState was called.
type stateWriter struct {
	*sdktest.MemoryHost
	called bool
}

func (w *stateWriter) WriteState(ctx context.Context, site string, ws []sdk.StateWrite) ([]int64, error) {
	w.called = true
	return w.MemoryHost.WriteState(ctx, site, ws)
}

// onlyHostServer hides every optional interface of a HostServer.
type onlyHostServer struct{ sdkhost.HostServer }

// TestGuardPassesWriteStateOn: the host services' WriteState (one store
// transaction) is reached through the guard; host services without it get
// the writes one by one, stopping at the first that fails.
func TestGuardPassesWriteStateOn(t *testing.T) {
	t.Parallel()
	sw := &stateWriter{MemoryHost: sdktest.NewMemoryHost()}
	var g sdkhost.HostServer = guard{HostServer: sw, plugin: "ledger", serves: func(string) bool { return true }}
	vs, err := g.(sdkhost.StateWriteServer).WriteState(t.Context(), "s1", []sdk.StateWrite{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2"), Expect: 1}})
	if err != nil || len(vs) != 2 || vs[1] != 2 || !sw.called {
		t.Errorf("WriteState through the guard = %v, %v, host's WriteState called: %v; want [1 2] from the host's WriteState", vs, err, sw.called)
	}
	g = guard{HostServer: onlyHostServer{sw.MemoryHost}, plugin: "ledger", serves: func(string) bool { return true }}
	_, err = g.(sdkhost.StateWriteServer).WriteState(t.Context(), "s1", []sdk.StateWrite{{Key: "b", Value: []byte("1"), Put: true}, {Key: "a", Value: []byte("3"), Expect: 1}})
	var we *sdk.WriteError
	if !errors.As(err, &we) || we.Index != 1 || we.Applied != 1 || !errors.Is(err, sdk.ErrConflict) {
		t.Errorf("WriteState through the guard of a host without it: %v (%+v); want a conflict at write 2 after 1 made", err, we)
	}
	if e, err := sw.Get(t.Context(), "s1", "b"); err != nil || string(e.Value) != "1" {
		t.Errorf("b = %q (%v), want 1", e.Value, err)
	}
}

// TestUnknownProtocolIsRefusedClearly: a plugin that speaks only a
// protocol version this medgate does not know is refused with an error
// that names the versions medgate speaks and says how to fix it.
func TestUnknownProtocolIsRefusedClearly(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/v99")
	in, err := Start(t.Context(), Spec{Name: "v99", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{Logger: quiet})
	if err == nil {
		in.Close()
		t.Fatal("a plugin speaking only protocol 99 was started")
	}
	want := fmt.Sprintf("versions %d to %d", sdkhost.ProtocolV1, sdkhost.ProtocolLatest)
	for _, s := range []string{`plugin "v99"`, path, want, "rebuild the plugin", "Plugin version: 99"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("err = %v; want it to contain %q", err, s)
		}
	}
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v; want ErrProtocol", err)
	}
}
