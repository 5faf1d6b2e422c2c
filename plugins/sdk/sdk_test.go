package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// probe records what it receives and exercises the host services.
type probe struct {
	got *sdk.HandleRequest
}

func (p *probe) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name: "probe", Version: "1.2.3", Description: "test",
		Operations: []sdk.Operation{{Type: "probe.do", Schema: "x/Y", Summary: "do", Upload: true}, {Type: "probe.check", Summary: "check", Query: true}},
		Jobs:       []sdk.Job{{Name: "tick", Interval: 30 * time.Minute, Summary: "t", MaxRun: 10 * time.Minute}},
		Settings:   []sdk.Setting{{Name: "url", Type: sdk.SettingURL, Required: true, Default: "", Description: "d", Example: "https://x", Enum: []string{"a"}}},
		WorkLists:  []sdk.WorkList{{Name: "drafts", Title: "草稿", ListOperation: "probe.list", Description: "d"}},
		Commands: []sdk.Command{
			{Name: "do", Summary: "do it", Operation: "probe.do", Timeout: time.Minute,
				Arguments: []sdk.Argument{{Name: "list", Type: sdk.ArgumentFile, Required: true, Positional: true}},
				Result:    sdk.Display{Headline: "line", Rows: "rows", Columns: []sdk.Column{{Field: "a", Title: "A", Codes: map[string]string{"x": "某 x"}}}}},
			{Name: "local", Summary: "run here", Local: true, Arguments: []sdk.Argument{{Name: "key", Type: sdk.SettingPath}}},
		},
		Forms: []sdk.Form{{Name: "print", Title: "打印", Operation: "probe.do", Key: "cardNo", Fixed: map[string]any{"label": true},
			Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}},
			Result: sdk.Display{Images: []sdk.Column{{Field: "png", Title: "QR"}}, Lines: "label.lines", Printable: true}}},
		WorkListViews: []sdk.WorkListView{{List: "drafts", Columns: []sdk.Column{{Field: "id", Title: "编号", Form: "print"}},
			Actions: []sdk.Action{{Name: "confirm", Label: "确认", Operation: "probe.do", Row: map[string]string{"draftId": "id"}, Operator: "by", Confirm: "确认?"}}}},
		Documents: []sdk.DocumentView{{Name: "draft", Title: "草稿", List: "drafts", ItemField: "id", Get: "probe.do", IDField: "draftId",
			Editable: &sdk.Condition{Field: "status", Equals: "open"}, Lines: "lines", LineKey: "lineNo", LineItems: &sdk.Column{Field: "codes"},
			Adjust:  sdk.DocumentAdjust{Operation: "probe.do", Changes: "changes", Kind: "op"},
			Edits:   []sdk.Edit{{Name: "setQty", PerLine: true, Fields: []sdk.Argument{{Name: "qty", Type: sdk.ArgumentNumber}}}},
			Confirm: &sdk.DocumentConfirm{Label: "确认", Operation: "probe.do"}}},
	}, nil
}

func (p *probe) RunCommand(_ context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) {
	return &sdk.RunCommandResponse{Output: req.Site + " " + req.Command + " " + req.Arguments["key"] + " " + req.Settings["url"], Payload: []byte(`{"ok":true}`)}, nil
}

func (p *probe) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	var ds sdk.Diagnostics
	if req.Settings["url"] == "" {
		ds.Error("url", "required", "url is required", "set it in the site configuration")
	}
	return &sdk.ConfigureResponse{Diagnostics: ds}, nil
}

func (p *probe) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	cp := *req
	cp.Host = nil
	p.got = &cp
	h := req.Host
	if _, err := h.Get(ctx, "missing"); !errors.Is(err, sdk.ErrNotFound) {
		return nil, errors.New("Get of a missing key must be ErrNotFound")
	}
	v, err := h.CompareAndSet(ctx, "k", 0, []byte("1"))
	if err != nil || v != 1 {
		return nil, errors.New("first CompareAndSet must create version 1")
	}
	if _, err := h.CompareAndSet(ctx, "k", 0, []byte("2")); !errors.Is(err, sdk.ErrConflict) {
		return nil, errors.New("stale CompareAndSet must be ErrConflict")
	}
	if _, err := h.Put(ctx, "k2", []byte("x")); err != nil {
		return nil, err
	}
	es, err := h.Scan(ctx, "k", 0)
	if err != nil || len(es) != 2 {
		return nil, errors.New("scan must return both keys")
	}
	if err := h.Delete(ctx, "k2"); err != nil {
		return nil, err
	}
	if n, err := h.NextSequence(ctx, "seq"); err != nil || n != 1 {
		return nil, errors.New("first sequence value must be 1")
	}
	if err := h.Publish(ctx, sdk.Event{ID: "e1", Type: "probe.done", Key: req.Key, Payload: []byte(`{}`)}); err != nil {
		return nil, err
	}
	if _, err := h.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "x", Code: "C1", Serial: "s1", Status: "ok", Duration: 5 * time.Millisecond}); err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{
		Status: sdk.StatusRejected, Retryable: false,
		Diagnostics: sdk.Diagnostics{{Severity: sdk.SeverityError, Field: "$.a", Rule: "amount", Summary: "s", Detail: "d"}},
		External:    &sdk.External{System: "x", Code: "E1", Message: "no", MsgID: "m1"},
		Payload:     []byte(`{"ok":false}`),
	}, nil
}

func (p *probe) RunJob(_ context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	if req.Job != "tick" {
		return nil, errors.New("unknown job")
	}
	return &sdk.RunJobResponse{Summary: "ran " + req.Site, Processed: 3}, nil
}

// TestRoundTrip sends every field across the real gRPC protocol and back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	impl := &probe{}
	host := sdktest.NewMemoryHost()
	c := sdktest.Connect(t, impl, host)
	ctx := t.Context()

	want, _ := impl.Describe(ctx, nil)
	got, err := c.Describe(ctx, &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}

	cr, err := c.Configure(ctx, &sdk.ConfigureRequest{Site: "s1", Settings: map[string]string{}})
	if err != nil || !cr.Diagnostics.HasError() || cr.Diagnostics[0].Field != "url" {
		t.Fatalf("Configure: %v %+v", err, cr)
	}

	occurred := time.UnixMilli(time.Now().UnixMilli())
	req := &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m-1", Key: "visit-9", OccurredAt: occurred, ReceivedAt: occurred.Add(90 * time.Second),
		Format: "hl7v2", Payload: []byte("MSH|^~\\&|"), Attempt: 2, Recovering: true, Deadline: occurred.Add(30 * time.Minute), TraceID: "tr"}
	resp, err := c.Handle(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := *req
	if diff := cmp.Diff(&wantReq, impl.got); diff != "" {
		t.Errorf("HandleRequest across the wire (-sent +received):\n%s", diff)
	}
	wantResp := &sdk.HandleResponse{Status: sdk.StatusRejected,
		Diagnostics: sdk.Diagnostics{{Severity: sdk.SeverityError, Field: "$.a", Rule: "amount", Summary: "s", Detail: "d"}},
		External:    &sdk.External{System: "x", Code: "E1", Message: "no", MsgID: "m1"}, Payload: []byte(`{"ok":false}`)}
	if diff := cmp.Diff(wantResp, resp); diff != "" {
		t.Errorf("HandleResponse (-want +got):\n%s", diff)
	}
	if ev := host.Events(); len(ev) != 1 || ev[0].Site != "s1" || ev[0].Event.Type != "probe.done" {
		t.Errorf("events = %+v", ev)
	}
	if xs := host.Exchanges(); len(xs) != 1 || xs[0].Exchange.Duration != 5*time.Millisecond || xs[0].Exchange.Code != "C1" {
		t.Errorf("journal = %+v", xs)
	}

	jr, err := c.RunJob(ctx, &sdk.RunJobRequest{Site: "s1", Job: "tick", Now: occurred})
	if err != nil || jr.Summary != "ran s1" || jr.Processed != 3 {
		t.Fatalf("RunJob: %v %+v", err, jr)
	}
	if _, err := c.RunJob(ctx, &sdk.RunJobRequest{Site: "s1", Job: "nope"}); err == nil {
		t.Fatal("a plugin error must reach the host as an error")
	}
}

// TestProtocolVersions checks what each protocol version carries: version 1
// has no commands and cannot run a local command; version 2 has both.
func TestProtocolVersions(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		version      int
		wantCommands int
		wantRun      string
		wantErr      error
	}{
		"version 1": {version: sdkhost.ProtocolV1, wantErr: sdkhost.ErrNeedsV2},
		"version 2": {version: sdkhost.ProtocolV2, wantCommands: 2, wantRun: "s1 local /k https://x"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := sdktest.ConnectVersion(t, &probe{}, sdktest.NewMemoryHost(), tc.version)
			d, err := c.Describe(t.Context(), &sdk.DescribeRequest{})
			if err != nil || len(d.Commands) != tc.wantCommands || len(d.Operations) != 2 || !d.Operations[1].Query {
				t.Fatalf("Describe: %v, %d commands, want %d", err, len(d.Commands), tc.wantCommands)
			}
			r, err := c.RunCommand(t.Context(), &sdk.RunCommandRequest{Site: "s1", Command: "local", Arguments: map[string]string{"key": "/k"}, Settings: map[string]string{"url": "https://x"}})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RunCommand error %v, want %v", err, tc.wantErr)
			}
			if err == nil && (r.Output != tc.wantRun || string(r.Payload) != `{"ok":true}`) {
				t.Fatalf("RunCommand = %+v, want output %q", r, tc.wantRun)
			}
		})
	}
}

// TestRunCommandWithoutRunner: a plugin that declares a local command but
// does not implement sdk.CommandRunner is refused at Describe (so medgate
// refuses it at launch and check-config reports it), naming the command and
// the method to add, instead of launching and failing only when an operator
// runs the command; a plugin without local commands needs no runner.
func TestRunCommandWithoutRunner(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, plain{&probe{}}, sdktest.NewMemoryHost())
	_, err := c.Describe(t.Context(), &sdk.DescribeRequest{})
	for _, want := range []string{`"probe"`, `local command(s) "local"`, "does not implement sdk.CommandRunner", "add the method RunCommand", "drop Local"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Describe of a plugin with a local command and no runner: %v; want it to say %q", err, want)
		}
	}
	_, err = c.RunCommand(t.Context(), &sdk.RunCommandRequest{Site: "s1", Command: "local"})
	if err == nil || !strings.Contains(err.Error(), "does not implement sdk.CommandRunner") {
		t.Fatalf("RunCommand on a plugin without a runner: %v", err)
	}
	remote := sdktest.Connect(t, plain{noLocal{&probe{}}}, sdktest.NewMemoryHost())
	if d, err := remote.Describe(t.Context(), &sdk.DescribeRequest{}); err != nil || len(d.Commands) != 1 {
		t.Fatalf("Describe of a plugin with no local command and no runner: %v, %+v", err, d)
	}
}

// noLocal is the plugin it wraps without its local commands.
type noLocal struct{ sdk.Plugin }

func (p noLocal) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	d, err := p.Plugin.Describe(ctx, req)
	if err != nil {
		return nil, err
	}
	var cs []sdk.Command
	for _, c := range d.Commands {
		if !c.Local {
			cs = append(cs, c)
		}
	}
	d.Commands = cs
	return d, nil
}

// plain hides every optional interface of the plugin it wraps.
type plain struct{ sdk.Plugin }

func TestDiagnostics(t *testing.T) {
	t.Parallel()
	var ds sdk.Diagnostics
	ds.Warn("$.x", "mismatch", "name differs", "")
	if ds.HasError() {
		t.Fatal("a warning is not an error")
	}
	ds.Error("$.y", "required", "y is required", "send y")
	if !ds.HasError() || ds.String() != "$.x: name differs\n$.y: y is required: send y" {
		t.Fatalf("diagnostics = %q", ds.String())
	}
}

// failing answers every call with a plain Go error, as a vendor's plugin
// does when a call breaks.
type failing struct{ probe }

func (failing) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return nil, errors.New("read the key file /etc/lab/key.pem: permission denied")
}

func (failing) Handle(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return nil, errors.New("lab system answered 503")
}

func (failing) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return nil, errors.New("poll: lab system answered 503")
}

// TestPluginErrorsInPlainWords: an error a plugin's method returns reaches
// the host as the plugin's words, naming the method ("its Handle returned
// an error: lab system answered 503"), not wrapped in gRPC's "rpc error:
// code = Internal desc = …", which check-config, replies and failed jobs
// used to show; the gRPC code is kept for the host's own decisions.
func TestPluginErrorsInPlainWords(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, &failing{}, sdktest.NewMemoryHost())
	_, cerr := c.Configure(t.Context(), &sdk.ConfigureRequest{Site: "s1", Settings: map[string]string{"url": "https://x"}})
	_, herr := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1"})
	_, jerr := c.RunJob(t.Context(), &sdk.RunJobRequest{Site: "s1", Job: "tick"})
	_, rerr := sdktest.Connect(t, plain{&probe{}}, sdktest.NewMemoryHost()).Describe(t.Context(), &sdk.DescribeRequest{})
	cases := map[string]struct {
		err  error
		want string
		code codes.Code
	}{
		"Configure": {cerr, "its Configure returned an error: read the key file /etc/lab/key.pem: permission denied", codes.Internal},
		"Handle":    {herr, "its Handle returned an error: lab system answered 503", codes.Internal},
		"RunJob":    {jerr, "its RunJob returned an error: poll: lab system answered 503", codes.Internal},
		"Describe":  {rerr, `its Describe returned an error: plugin "probe" declares the local command(s) "local"`, codes.FailedPrecondition},
	}
	for name, tc := range cases {
		var pe *sdkhost.PluginError
		if tc.err == nil || !strings.HasPrefix(tc.err.Error(), tc.want) || strings.Contains(tc.err.Error(), "rpc error") ||
			!errors.As(tc.err, &pe) || pe.Method != name || status.Code(tc.err) != tc.code {
			t.Errorf("%s: error %v (code %v); want it to start %q, without gRPC's wording, code %v", name, tc.err, status.Code(tc.err), tc.want, tc.code)
		}
	}
}
