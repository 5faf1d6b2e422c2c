package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
	"github.com/medgate/medgate/plugins/sdk/internal/wire"
)

// This file is the plugin side of the protocol. The host side is in
// package sdkhost; neither is part of what vendors program against.

func init() {
	wire.PluginServer = func(impl any, version int) wire.Server {
		return &pluginSide{impl: impl.(Plugin), version: version}
	}
}

// pluginSets returns what a plugin serves: every protocol version up to
// ProtocolVersion.
func pluginSets(impl Plugin) map[int]plugin.PluginSet {
	sets := map[int]plugin.PluginSet{}
	for v := wire.V1; v <= ProtocolVersion; v++ {
		sets[v] = plugin.PluginSet{wire.PluginName: &pluginSide{impl: impl, version: v}}
	}
	return sets
}

// pluginSide is the go-plugin glue of one protocol version in the plugin
// process.
type pluginSide struct {
	plugin.NetRPCUnsupportedPlugin
	impl    Plugin
	version int
}

func (p *pluginSide) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterAdapterServer(s, &adapterServer{impl: p.impl, broker: broker, version: p.version})
	return nil
}

func (p *pluginSide) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the plugin side has no client; the host uses package sdkhost")
}

type adapterServer struct {
	pb.UnimplementedAdapterServer
	impl    Plugin
	broker  *plugin.GRPCBroker
	version int

	mu   sync.Mutex
	host pb.HostClient

	seqs seqBlocks // blocks of NextSequenceGaps, by site and name
	// noWrites is set once the host answered Host.StateWrite as
	// unimplemented (an older host): WriteState then writes one by one.
	noWrites atomic.Bool
}

// seqBlocks holds the blocks of sequence values the host gave this plugin
// process for NextSequenceGaps.
type seqBlocks struct {
	mu sync.Mutex
	m  map[string]*seqBlock
}

// seqBlock is the rest of a block: next … last are still to hand out.
type seqBlock struct {
	mu         sync.Mutex
	next, last int64
}

func (b *seqBlocks) get(site, name string) *seqBlock {
	k := site + "\x00" + name
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*seqBlock{}
	}
	sb := b.m[k]
	if sb == nil {
		sb = &seqBlock{}
		b.m[k] = sb
	}
	return sb
}

func (s *adapterServer) Init(_ context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	conn, err := s.broker.DialWithOptions(req.HostBrokerId, wire.DialOptions()...)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial host services: %v", err)
	}
	s.mu.Lock()
	s.host = pb.NewHostClient(conn)
	s.mu.Unlock()
	return &pb.InitResponse{HandleStream: true}, nil
}

func (s *adapterServer) hostFor(site string) Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.host == nil {
		return unavailableHost{}
	}
	return &hostClient{c: s.host, site: site, seqs: &s.seqs, noWrites: &s.noWrites}
}

// declarations is the JSON of DescribeResponse.declarations.
type declarations struct {
	Schemas       map[string][]byte `json:"schemas,omitempty"`
	Commands      []Command         `json:"commands,omitempty"`
	Forms         []Form            `json:"forms,omitempty"`
	WorkListViews []WorkListView    `json:"workListViews,omitempty"`
	Documents     []DocumentView    `json:"documents,omitempty"`
}

func (s *adapterServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx, &DescribeRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	if d == nil {
		return &pb.DescribeResponse{}, nil
	}
	if err := s.checkRunner(d); err != nil {
		return nil, err
	}
	out := &pb.DescribeResponse{Name: d.Name, Version: d.Version, Description: d.Description}
	for _, o := range d.Operations {
		out.Operations = append(out.Operations, &pb.Operation{Type: o.Type, Schema: o.Schema, Summary: o.Summary, Upload: o.Upload, Query: o.Query})
	}
	for _, j := range d.Jobs {
		out.Jobs = append(out.Jobs, &pb.Job{Name: j.Name, IntervalMs: j.Interval.Milliseconds(), Summary: j.Summary, MaxRunMs: j.MaxRun.Milliseconds()})
	}
	for _, st := range d.Settings {
		out.Settings = append(out.Settings, &pb.Setting{Name: st.Name, Type: st.Type, Required: st.Required, Default: st.Default, Description: st.Description, Example: st.Example, Enum: st.Enum})
	}
	for _, w := range d.WorkLists {
		out.WorkLists = append(out.WorkLists, &pb.WorkList{Name: w.Name, Title: w.Title, ListOperation: w.ListOperation, Description: w.Description})
	}
	if s.version >= wire.V2 && len(d.Schemas)+len(d.Commands)+len(d.Forms)+len(d.WorkListViews)+len(d.Documents) > 0 {
		decl := declarations{Schemas: d.Schemas, Commands: d.Commands, Forms: d.Forms, WorkListViews: d.WorkListViews, Documents: d.Documents}
		if out.Declarations, err = json.Marshal(decl); err != nil {
			return nil, status.Errorf(codes.Internal, "encode declarations: %v", err)
		}
	}
	return out, nil
}

// checkRunner refuses a description that declares local commands of a
// plugin that cannot run them: without sdk.CommandRunner each of them would
// fail only when an operator runs it, after the plugin launched and
// check-config accepted it. The host refuses the plugin at launch with
// this error, which names the commands and what to add.
func (s *adapterServer) checkRunner(d *DescribeResponse) error {
	if s.version < wire.V2 {
		return nil // version 1 carries no commands
	}
	if _, ok := s.impl.(CommandRunner); ok {
		return nil
	}
	var local []string
	for _, c := range d.Commands {
		if c.Local {
			local = append(local, strconv.Quote(c.Name))
		}
	}
	if len(local) == 0 {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition,
		"plugin %q declares the local command(s) %s but does not implement sdk.CommandRunner, so none of them could run: "+
			"add the method RunCommand(ctx context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) to the type sdk.Serve is given "+
			"(on the pointer receiver if the other methods are), or drop Local from those commands",
		d.Name, strings.Join(local, ", "))
}

func (s *adapterServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	r, err := s.impl.Configure(ctx, &ConfigureRequest{Site: req.Site, Settings: req.Settings, Host: s.hostFor(req.Site)})
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		r = &ConfigureResponse{}
	}
	out := &pb.ConfigureResponse{Diagnostics: diagsToPB(r.Diagnostics)}
	if s.version >= wire.V2 {
		out.Schemas = r.Schemas
	}
	return out, nil
}

func (s *adapterServer) Handle(ctx context.Context, req *pb.HandleRequest) (*pb.HandleResponse, error) {
	host := s.hostFor(req.Site)
	var held *heldJournal
	if hc, ok := host.(*hostClient); ok && req.JournalInResponse && req.MessageId != "" {
		held = &heldJournal{id: req.MessageId}
		hc.held = held
		// A Handle that fails or panics sends what it holds as before:
		// the host still stores it before the message is tried again.
		defer held.release(context.WithoutCancel(ctx), hc)
	}
	r, err := s.impl.Handle(ctx, &HandleRequest{
		Site:       req.Site,
		Type:       req.Type,
		MessageID:  req.MessageId,
		Key:        req.Key,
		OccurredAt: wire.FromMS(req.OccurredAtUnixMs),
		ReceivedAt: wire.FromMS(req.ReceivedAtUnixMs),
		Format:     req.Format,
		Payload:    req.Payload,
		Attempt:    int(req.Attempt),
		Recovering: req.Recovering,
		Deadline:   wire.FromMS(req.DeadlineUnixMs),
		TraceID:    req.TraceId,
		Host:       host,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		return nil, status.Error(codes.Internal, "plugin returned no response")
	}
	out := &pb.HandleResponse{
		Status:      string(r.Status),
		Retryable:   r.Retryable,
		Waiting:     r.Waiting,
		Diagnostics: diagsToPB(r.Diagnostics),
		Payload:     r.Payload,
		Journal:     held.forResponse(ctx),
	}
	if r.External != nil {
		out.External = &pb.External{System: r.External.System, Code: r.External.Code, Message: r.External.Message, MsgId: r.External.MsgID}
	}
	return out, nil
}

func (s *adapterServer) RunJob(ctx context.Context, req *pb.RunJobRequest) (*pb.RunJobResponse, error) {
	r, err := s.impl.RunJob(ctx, &RunJobRequest{Site: req.Site, Job: req.Job, Now: wire.FromMS(req.NowUnixMs), TraceID: req.TraceId, Host: s.hostFor(req.Site)})
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		r = &RunJobResponse{}
	}
	return &pb.RunJobResponse{Diagnostics: diagsToPB(r.Diagnostics), Summary: r.Summary, Processed: r.Processed}, nil
}

func (s *adapterServer) RunCommand(ctx context.Context, req *pb.RunCommandRequest) (*pb.RunCommandResponse, error) {
	if s.version < wire.V2 {
		return nil, status.Error(codes.Unimplemented, "RunCommand needs protocol version 2")
	}
	runner, ok := s.impl.(CommandRunner)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "the plugin does not implement sdk.CommandRunner, so it runs no local command such as %q: add the method RunCommand to the type sdk.Serve is given", req.Command)
	}
	r, err := runner.RunCommand(ctx, &RunCommandRequest{Site: req.Site, Command: req.Command, Settings: req.Settings, Arguments: req.Arguments})
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		r = &RunCommandResponse{}
	}
	return &pb.RunCommandResponse{Diagnostics: diagsToPB(r.Diagnostics), Output: r.Output, Payload: r.Payload}, nil
}

// hostClient is the plugin's view of the host services for one site.
type hostClient struct {
	c    pb.HostClient
	site string
	seqs *seqBlocks
	// noWrites: the host does not serve Host.StateWrite (shared by the
	// plugin process's clients; nil: not known).
	noWrites *atomic.Bool
	// held, when set, keeps the journal entry of the handled message for
	// the Handle response (HandleRequest.journal_in_response).
	held *heldJournal
}

// heldJournal is the journal entry of the message a Handle call is
// handling, kept for its response instead of a Host.Journal call of its
// own: one gRPC round trip into the host less per external call on the
// path of the message (0.4–0.6 ms at p50 for a GYD051 on the shared
// 2-CPU machine). The host stores an entry that comes with the response as
// one that came by Journal during the call: with the message's outcome.
//
// At most one entry is held, the last: an earlier one is sent by Journal
// when the next comes, so a plugin process that dies during a Handle loses
// at most the entry of its last external call, made just before it
// returns (a Journal call made at that point would have been lost just
// the same a moment earlier). A Handle that returns an error or panics,
// or whose call was cancelled or has less than journalMargin left before
// its deadline, sends the held entry by Journal before it returns, and an
// entry made after that goes by Journal at once: the host then stores it
// on its own, as it did every entry that came after the call returned.
//
// SendJournal starts sending the held entry ahead, while the plugin makes
// its next external call; it then reaches the host no later than it would
// have otherwise (see send).
type heldJournal struct {
	id   string // the handled message
	mu   sync.Mutex
	x    *pb.JournalRequest
	done bool // the response was built: nothing more is held
	// sent is the entry send took, nil when none is being sent; its
	// Journal call has returned once sentDone is closed, with sentErr.
	sent     *pb.JournalRequest
	sentDone chan struct{}
	sentErr  error
}

// send starts sending the held entry by Journal in the background, when
// one is held: the caller makes another external call for the message
// next, so the entry would be sent when that call's entry comes (hold).
// The next hostClient.Journal call, forResponse and release wait for it
// first (waitSent), and so go on only once the host has answered for the
// entry, as when hostClient.Journal sent it: at each point of the Handle where the entry was in the
// host before, it is in the host now; it only gets there sooner.
func (j *heldJournal) send(ctx context.Context, h *hostClient) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done || j.x == nil || j.sentDone != nil {
		return
	}
	x, done := j.x, make(chan struct{})
	j.x, j.sent, j.sentDone = nil, x, done
	go func() {
		_, err := h.c.Journal(ctx, x)
		j.mu.Lock()
		j.sentErr = err
		j.mu.Unlock()
		close(done)
	}()
}

// waitSent waits until an entry send started has been answered and
// returns it with the error of its Journal call (nil, nil: none).
func (j *heldJournal) waitSent() (*pb.JournalRequest, error) {
	if j == nil {
		return nil, nil
	}
	j.mu.Lock()
	done := j.sentDone
	j.mu.Unlock()
	if done == nil {
		return nil, nil
	}
	<-done
	j.mu.Lock()
	defer j.mu.Unlock()
	x, err := j.sent, j.sentErr
	j.sent, j.sentDone, j.sentErr = nil, nil, nil
	return x, err
}

// hold keeps x if it is the handled message's and the call is still on,
// and returns the entry the caller must send by Journal now: an earlier
// held one, or x itself.
func (j *heldJournal) hold(x *pb.JournalRequest) *pb.JournalRequest {
	if j == nil || x.MessageId != j.id {
		return x
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done {
		return x
	}
	prev := j.x
	j.x = x
	return prev
}

// journalMargin: a held entry goes with the response only while the call
// has at least this much time left before its deadline.
const journalMargin = time.Second

// forResponse returns the held entry for the Handle response, or nil when
// the host may no longer take that response: the call was cancelled or
// its deadline is near, so the response could arrive after the host gave
// up on it. The entry is then left for release, which sends it by Journal
// (stored at once when the host is no longer waiting for the call).
func (j *heldJournal) forResponse(ctx context.Context) []*pb.JournalRequest {
	if j == nil {
		return nil
	}
	if x, err := j.waitSent(); err != nil {
		Logger("sdk").Warn("cannot journal an exchange", "message", x.MessageId, "system", x.System, "code", x.Code, "serial", x.Serial, "err", err)
	}
	if ctx.Err() != nil {
		return nil
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < journalMargin {
		return nil
	}
	return j.take()
}

// take ends holding and returns the held entry.
func (j *heldJournal) take() []*pb.JournalRequest {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done = true
	x := j.x
	j.x = nil
	if x == nil {
		return nil
	}
	return []*pb.JournalRequest{x}
}

// release ends holding and sends an entry not taken for a response by
// Journal: the Handle failed or panicked, or its response might come too
// late for the host (see forResponse).
func (j *heldJournal) release(ctx context.Context, h *hostClient) {
	if x, err := j.waitSent(); err != nil {
		Logger("sdk").Warn("cannot journal an exchange of a failed call", "message", x.MessageId, "system", x.System, "code", x.Code, "serial", x.Serial, "err", err)
	}
	x := j.take()
	for _, e := range x {
		if _, err := h.c.Journal(ctx, e); err != nil {
			Logger("sdk").Warn("cannot journal an exchange of a failed call", "message", e.MessageId, "system", e.System, "code", e.Code, "serial", e.Serial, "err", err)
		}
	}
}

func (h *hostClient) Get(ctx context.Context, key string) (Entry, error) {
	r, err := h.c.StateGet(ctx, &pb.StateKey{Site: h.site, Key: key})
	if err != nil {
		return Entry{}, fromStatus("state get", err)
	}
	return Entry{Key: r.Key, Value: r.Value, Version: r.Version}, nil
}

func (h *hostClient) Put(ctx context.Context, key string, value []byte) (int64, error) {
	r, err := h.c.StatePut(ctx, &pb.StatePutRequest{Site: h.site, Key: key, Value: value})
	if err != nil {
		return 0, fromStatus("state put", err)
	}
	return r.Version, nil
}

func (h *hostClient) CompareAndSet(ctx context.Context, key string, expect int64, value []byte) (int64, error) {
	r, err := h.c.StateCompareAndSet(ctx, &pb.StateCASRequest{Site: h.site, Key: key, Expect: expect, Value: value})
	if err != nil {
		return 0, fromStatus("state compare-and-set", err)
	}
	return r.Version, nil
}

func (h *hostClient) Scan(ctx context.Context, prefix string, limit int) ([]Entry, error) {
	return h.ScanKnown(ctx, prefix, limit, nil)
}

// ScanKnown implements [KnownScanHost]: the versions the caller holds go
// with the scan request (StateScanRequest.known), and the host leaves
// those values out of its answer. An older host ignores them and sends
// every value.
//
// The scan is read page by page (StateScanRequest.paged): the host
// answers with as many entries as fit its page and says whether more
// follow, and the next request asks for the keys after the last one got,
// with only the known versions of those keys. So a large prefix never
// crosses in one message, nor sits whole in the host's memory; the caller
// gets every entry, in key order, as from one answer. An older host
// answers whole and never says more follow.
func (h *hostClient) ScanKnown(ctx context.Context, prefix string, limit int, known map[string]int64) ([]Entry, error) {
	var out []Entry
	after := ""
	for {
		req := &pb.StateScanRequest{Site: h.site, Prefix: prefix, Limit: int32(limit), Known: knownAfter(known, after), Paged: true, After: after}
		if limit > 0 {
			req.Limit = int32(limit - len(out))
		}
		r, err := h.c.StateScan(ctx, req)
		if err != nil {
			return nil, fromStatus("state scan", err)
		}
		for _, e := range r.Entries {
			if after != "" && e.Key <= after {
				return nil, fmt.Errorf("sdk: host state scan of prefix %q: entry %q does not come after %q, the last key of the previous page; the host's pages are out of order", prefix, e.Key, after)
			}
			out = append(out, Entry{Key: e.Key, Value: e.Value, Version: e.Version})
			after = e.Key
		}
		if !r.More || len(r.Entries) == 0 || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
	}
}

// knownAfter is the part of known a scan page after the key after needs:
// the versions of keys after it.
func knownAfter(known map[string]int64, after string) map[string]int64 {
	if after == "" || len(known) == 0 {
		return known
	}
	out := make(map[string]int64)
	for k, v := range known {
		if k > after {
			out[k] = v
		}
	}
	return out
}

var _ KnownScanHost = (*hostClient)(nil)

// WriteState implements [StateWriteHost]: the writes go in one
// Host.StateWrite call. A host that does not serve it (older than the
// call) answers Unimplemented once; from then on the writes of this plugin
// process are made one by one.
func (h *hostClient) WriteState(ctx context.Context, writes []StateWrite) ([]int64, error) {
	if (h.noWrites != nil && h.noWrites.Load()) || len(writes) > maxStateWrites {
		return writeOneByOne(ctx, h, writes)
	}
	req := &pb.StateWriteRequest{Site: h.site, Writes: make([]*pb.StateWriteOp, len(writes))}
	for i, w := range writes {
		req.Writes[i] = &pb.StateWriteOp{Key: w.Key, Value: w.Value, Expect: w.Expect, Put: w.Put}
	}
	r, err := h.c.StateWrite(ctx, req)
	if status.Code(err) == codes.Unimplemented {
		if h.noWrites != nil {
			h.noWrites.Store(true)
		}
		return writeOneByOne(ctx, h, writes)
	}
	if err != nil {
		return nil, &WriteError{Index: -1, Applied: -1, Err: fromStatus("state write", err)}
	}
	if c := int(r.Conflict); c > 0 {
		if c > len(writes) || int(r.Applied) >= c {
			return nil, &WriteError{Index: -1, Applied: -1, Err: fmt.Errorf("sdk: host state write: conflict at write %d, %d made, of %d writes", c, r.Applied, len(writes))}
		}
		return nil, &WriteError{Index: c - 1, Applied: int(r.Applied), Err: ErrConflict}
	}
	if len(r.Versions) != len(writes) {
		return nil, &WriteError{Index: -1, Applied: -1, Err: fmt.Errorf("sdk: host state write: %d versions for %d writes", len(r.Versions), len(writes))}
	}
	return r.Versions, nil
}

var _ StateWriteHost = (*hostClient)(nil)

func (h *hostClient) Delete(ctx context.Context, key string) error {
	_, err := h.c.StateDelete(ctx, &pb.StateKey{Site: h.site, Key: key})
	return fromStatus("state delete", err)
}

func (h *hostClient) NextSequence(ctx context.Context, name string) (int64, error) {
	r, err := h.c.NextSequence(ctx, &pb.SequenceRequest{Site: h.site, Name: name})
	if err != nil {
		return 0, fromStatus("next sequence", err)
	}
	return r.Value, nil
}

// NextSequenceGaps implements [GapSequenceHost]: values come from the
// block the host last gave this plugin process for the site and name; a
// new block is asked for when it is used up (one call to the host per
// block). A host that gives no blocks answers each call with one value.
func (h *hostClient) NextSequenceGaps(ctx context.Context, name string) (int64, error) {
	b := h.seqs.get(h.site, name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == 0 || b.next > b.last {
		r, err := h.c.NextSequence(ctx, &pb.SequenceRequest{Site: h.site, Name: name, Gaps: true})
		if err != nil {
			return 0, fromStatus("next sequence", err)
		}
		b.next, b.last = r.Value, max(r.Last, r.Value)
	}
	v := b.next
	b.next++
	return v, nil
}

func (h *hostClient) Publish(ctx context.Context, e Event) error {
	_, err := h.c.Publish(ctx, &pb.PublishRequest{
		Site: h.site, Id: e.ID, Type: e.Type, Key: e.Key, Payload: e.Payload,
		Headers: e.Headers, OccurredAtUnixMs: wire.ToMS(e.OccurredAt),
	})
	return fromStatus("publish", err)
}

func (h *hostClient) Journal(ctx context.Context, x Exchange) (int64, error) {
	req := &pb.JournalRequest{
		Site: h.site, MessageId: x.MessageID, System: x.System, Code: x.Code, Serial: x.Serial,
		Request: x.Request, Response: x.Response, Status: x.Status, Error: x.Error,
		DurationMs: x.Duration.Milliseconds(),
	}
	// An entry sent ahead (SendJournal) is answered before the next one
	// is taken, as when hold sends it below; its error is this call's.
	_, prevErr := h.held.waitSent()
	e := h.held.hold(req)
	if e == nil {
		if prevErr != nil {
			return 0, fromStatus("journal the previous exchange of this message", prevErr)
		}
		return 0, nil // held for the Handle response; stored with the outcome
	}
	r, err := h.c.Journal(ctx, e)
	if err == nil && prevErr != nil {
		return 0, fromStatus("journal the previous exchange of this message", prevErr)
	}
	switch {
	case err != nil && e != req:
		return 0, fromStatus("journal the previous exchange of this message", err)
	case err != nil:
		return 0, fromStatus("journal", err)
	case e != req:
		return 0, nil // the previous entry went; this one is held
	}
	return r.Id, nil
}

// artifactChunk is the size of the chunks PutArtifact streams.
const artifactChunk = 64 << 10

func (h *hostClient) PutArtifact(ctx context.Context, a Artifact, r io.Reader) (ArtifactRef, error) {
	stream, err := h.c.PutArtifact(ctx)
	if err != nil {
		return ArtifactRef{}, fromStatus("put artifact", err)
	}
	first := &pb.ArtifactChunk{Site: h.site, Name: a.Name, ContentType: a.ContentType}
	buf := make([]byte, artifactChunk)
	for {
		n, rerr := r.Read(buf)
		if n > 0 || first != nil {
			c := first
			if c == nil {
				c = &pb.ArtifactChunk{}
			}
			c.Data = append([]byte(nil), buf[:n]...)
			first = nil
			if err := stream.Send(c); err != nil {
				_, err = stream.CloseAndRecv()
				if status.Code(err) == codes.Unimplemented {
					return ArtifactRef{}, ErrNoArtifacts
				}
				return ArtifactRef{}, fromStatus("put artifact", err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			_ = stream.CloseSend()
			return ArtifactRef{}, fmt.Errorf("sdk: put artifact %s: read: %w", a.Name, rerr)
		}
	}
	ref, err := stream.CloseAndRecv()
	if status.Code(err) == codes.Unimplemented {
		return ArtifactRef{}, ErrNoArtifacts
	}
	if err != nil {
		return ArtifactRef{}, fromStatus("put artifact", err)
	}
	return ArtifactRef{ID: ref.Id, Name: ref.Name, Size: ref.Size, SHA256: ref.Sha256}, nil
}

var errNoHost = errors.New("sdk: host services are not connected")

type unavailableHost struct{}

func (unavailableHost) Get(context.Context, string) (Entry, error)         { return Entry{}, errNoHost }
func (unavailableHost) Put(context.Context, string, []byte) (int64, error) { return 0, errNoHost }
func (unavailableHost) CompareAndSet(context.Context, string, int64, []byte) (int64, error) {
	return 0, errNoHost
}
func (unavailableHost) Scan(context.Context, string, int) ([]Entry, error)  { return nil, errNoHost }
func (unavailableHost) Delete(context.Context, string) error                { return errNoHost }
func (unavailableHost) NextSequence(context.Context, string) (int64, error) { return 0, errNoHost }
func (unavailableHost) Publish(context.Context, Event) error                { return errNoHost }
func (unavailableHost) Journal(context.Context, Exchange) (int64, error)    { return 0, errNoHost }
func (unavailableHost) PutArtifact(context.Context, Artifact, io.Reader) (ArtifactRef, error) {
	return ArtifactRef{}, errNoHost
}

// toStatus turns an error of the plugin into a gRPC status for the host.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// fromStatus turns the host's answer to a service call back into the SDK's
// errors.
func fromStatus(op string, err error) error {
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.NotFound:
		return ErrNotFound
	case codes.Aborted:
		return ErrConflict
	case codes.ResourceExhausted:
		// gRPC's size limit, on either end of the connection.
		if strings.Contains(status.Convert(err).Message(), "larger than max") {
			return fmt.Errorf("sdk: host %s: %w in one call; keep large data in an artifact (PutArtifact) and only its reference in state, events and the journal, or split the writes into several calls: %w", op, ErrTooLarge, err)
		}
	}
	return fmt.Errorf("sdk: host %s: %w", op, err)
}

func diagsToPB(ds Diagnostics) []*pb.Diagnostic {
	out := make([]*pb.Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = &pb.Diagnostic{Severity: int32(d.Severity), Field: d.Field, Rule: d.Rule, Summary: d.Summary, Detail: d.Detail}
	}
	return out
}
