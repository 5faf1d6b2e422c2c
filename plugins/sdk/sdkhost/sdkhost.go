// Package sdkhost is the host side of the plugin protocol: the go-plugin
// plugin sets the host launches plugins with, the client through which it
// calls them, and the gRPC server of the host services a plugin calls back.
// It is host plumbing, kept apart from package sdk (what vendors program
// against) the way terraform-plugin-go keeps tfprotov6 apart from its
// server. Vendors do not import it; sdktest does, to run a plugin in memory.
package sdkhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/internal/pb"
	"github.com/medgate/medgate/plugins/sdk/internal/wire"
)

// Handshake is the go-plugin handshake every medgate plugin answers.
var Handshake = wire.Handshake

// PluginName is the name under which the adapter is dispensed.
const PluginName = wire.PluginName

// DialOptions are the gRPC settings of the host's connection to a plugin,
// for go-plugin's ClientConfig.GRPCDialOptions.
func DialOptions() []grpc.DialOption { return wire.DialOptions() }

// Protocol versions the host speaks.
const (
	ProtocolV1     = wire.V1
	ProtocolV2     = wire.V2
	ProtocolLatest = wire.Latest
)

// ErrNeedsV2 is returned for a call a version-1 plugin cannot answer.
var ErrNeedsV2 = errors.New("the plugin speaks protocol version 1; this needs version 2 (rebuild the plugin with a current SDK)")

// HostServer is implemented by the host: the services of sdk.Host for one
// plugin, with the site passed on every call.
type HostServer interface {
	Get(ctx context.Context, site, key string) (sdk.Entry, error)
	Put(ctx context.Context, site, key string, value []byte) (int64, error)
	CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error)
	Scan(ctx context.Context, site, prefix string, limit int) ([]sdk.Entry, error)
	Delete(ctx context.Context, site, key string) error
	NextSequence(ctx context.Context, site, name string) (int64, error)
	Publish(ctx context.Context, site string, e sdk.Event) error
	Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error)
}

// GapSequenceServer is implemented by a HostServer that answers
// sdk.NextSequenceGaps with blocks of values: it reserves first … last for
// the plugin, which hands them out itself. Without it such a call is
// answered by NextSequence, one value at a time.
type GapSequenceServer interface {
	NextSequenceGaps(ctx context.Context, site, name string) (first, last int64, err error)
}

// KnownScanServer is implemented by a HostServer that answers
// sdk.ScanKnown without reading the values the plugin already holds:
// entries whose version is known[key] come back with key and version
// only. Without it such a scan is answered by Scan, and those values are
// left out of the answer here (read by the host, not sent).
type KnownScanServer interface {
	ScanKnown(ctx context.Context, site, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error)
}

// PagedScanServer is implemented by a HostServer that answers a scan page
// by page, so that it never holds a large prefix whole: ScanPage returns
// the entries under prefix whose key comes after after ("": from the
// first), in key order, at most limit (0: no limit), as many as it
// chooses, with values left out as KnownScanServer does; more says
// entries may follow the last one returned, which must then be at least
// one. The SDK asks again after the last key until more is false. A scan
// of a plugin built before paged scans, and every scan without it, is
// answered whole by Scan or ScanKnown.
type PagedScanServer interface {
	ScanPage(ctx context.Context, site, prefix, after string, limit int, known map[string]int64) (entries []sdk.Entry, more bool, err error)
}

// StateWriteServer is implemented by a HostServer that makes the writes
// of sdk.WriteState in one transaction: every write or none. A write
// whose expectation does not hold is reported as an *sdk.WriteError with
// its Index, Applied 0 and sdk.ErrConflict. Without it the writes are
// made here one by one through Put and CompareAndSet, in order, stopping
// at the first that fails.
type StateWriteServer interface {
	WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error)
}

// MaxStateWrites bounds the writes of one sdk.WriteState call.
const MaxStateWrites = 64

// ArtifactServer is implemented by a HostServer that keeps artifacts
// (protocol 2). Without it a plugin's PutArtifact fails as unimplemented.
type ArtifactServer interface {
	PutArtifact(ctx context.Context, site string, a sdk.Artifact, r io.Reader) (sdk.ArtifactRef, error)
}

// PluginSets returns the versioned plugin sets for go-plugin's
// ClientConfig.VersionedPlugins: every protocol version the host speaks,
// each serving host to the plugin. A nil host serves errors: local commands
// run without host services.
func PluginSets(host HostServer) map[int]plugin.PluginSet {
	sets := map[int]plugin.PluginSet{}
	for v := wire.V1; v <= wire.Latest; v++ {
		sets[v] = plugin.PluginSet{PluginName: &hostSide{host: host, version: v}}
	}
	return sets
}

// InMemory returns one go-plugin plugin that is both sides of protocol
// version for impl, for plugin.TestPluginGRPCConn: sdktest uses it to call
// a plugin over real gRPC without a process.
func InMemory(impl sdk.Plugin, host HostServer, version int) plugin.Plugin {
	return &inMemory{server: wire.PluginServer(impl, version), hostSide: hostSide{host: host, version: version}}
}

type inMemory struct {
	server wire.Server
	hostSide
}

func (m *inMemory) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	return m.server.GRPCServer(b, s)
}

// hostSide is the go-plugin glue of one protocol version in the host.
type hostSide struct {
	plugin.NetRPCUnsupportedPlugin
	host    HostServer
	version int
}

func (p *hostSide) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("sdkhost: the host side serves no adapter; plugins serve with sdk.Serve")
}

// GRPCClient serves the host's services on the broker, tells the plugin
// where to find them and returns a *Client.
func (p *hostSide) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	host := p.host
	if host == nil {
		host = noHost{}
	}
	id := broker.NextId()
	go broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := wire.NewServer(opts)
		pb.RegisterHostServer(s, &hostServer{impl: host})
		return s
	})
	client := pb.NewAdapterClient(c)
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := client.Init(ictx, &pb.InitRequest{HostBrokerId: id})
	if err != nil {
		return nil, fmt.Errorf("sdkhost: init plugin: %w", err)
	}
	a := &Client{c: client, version: p.version, host: p.host}
	if r.HandleStream {
		a.streams = &handleStreams{c: client}
	}
	return a, nil
}

// Client is the host's view of one plugin process. It implements
// sdk.Plugin and sdk.CommandRunner.
type Client struct {
	c       pb.AdapterClient
	version int
	// host takes the journal entries a plugin returns with its Handle
	// response (nil: the plugin sends them by Host.Journal).
	host HostServer
	// streams carries the Handle calls when the plugin serves
	// HandleStream (nil: a plugin built before it; each call is unary).
	streams *handleStreams
}

// Version returns the negotiated protocol version.
func (a *Client) Version() int { return a.version }

// Describe calls the plugin's Describe; with protocol 2 the answer includes
// schema documents and declarations.
func (a *Client) Describe(ctx context.Context, _ *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	r, err := a.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, returned("Describe", err)
	}
	out := &sdk.DescribeResponse{Name: r.Name, Version: r.Version, Description: r.Description}
	for _, o := range r.Operations {
		out.Operations = append(out.Operations, sdk.Operation{Type: o.Type, Schema: o.Schema, Summary: o.Summary, Upload: o.Upload, Query: o.Query})
	}
	for _, j := range r.Jobs {
		out.Jobs = append(out.Jobs, sdk.Job{Name: j.Name, Interval: intervalFromMS(j.IntervalMs), Summary: j.Summary, MaxRun: intervalFromMS(j.MaxRunMs)})
	}
	for _, s := range r.Settings {
		out.Settings = append(out.Settings, sdk.Setting{Name: s.Name, Type: s.Type, Required: s.Required, Default: s.Default, Description: s.Description, Example: s.Example, Enum: s.Enum})
	}
	for _, w := range r.WorkLists {
		out.WorkLists = append(out.WorkLists, sdk.WorkList{Name: w.Name, Title: w.Title, ListOperation: w.ListOperation, Description: w.Description})
	}
	if len(r.Declarations) > 0 {
		var d struct {
			Schemas       map[string][]byte  `json:"schemas"`
			Commands      []sdk.Command      `json:"commands"`
			Forms         []sdk.Form         `json:"forms"`
			WorkListViews []sdk.WorkListView `json:"workListViews"`
			Documents     []sdk.DocumentView `json:"documents"`
		}
		if err := json.Unmarshal(r.Declarations, &d); err != nil {
			return nil, fmt.Errorf("plugin %q: its declarations are not readable (%w); rebuild it with the current SDK", r.Name, err)
		}
		out.Schemas, out.Commands, out.Forms, out.WorkListViews = d.Schemas, d.Commands, d.Forms, d.WorkListViews
		out.Documents = d.Documents
	}
	return out, nil
}

// intervalFromMS is a job interval or run bound sent in milliseconds, or
// -1 (refused by CheckDescription) for one no time.Duration holds:
// multiplied as it is, it could wrap around to a few nanoseconds.
func intervalFromMS(ms int64) time.Duration {
	if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// Configure calls the plugin's Configure.
func (a *Client) Configure(ctx context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	r, err := a.c.Configure(ctx, &pb.ConfigureRequest{Site: req.Site, Settings: req.Settings})
	if err != nil {
		return nil, returned("Configure", err)
	}
	return &sdk.ConfigureResponse{Diagnostics: diagsFromPB(r.Diagnostics), Schemas: r.Schemas}, nil
}

// Handle calls the plugin's Handle. The plugin returns the journal entry
// of the handled message with its response instead of calling
// Host.Journal for it (a gRPC round trip back into the host less per
// external call); Handle hands it to the host's Journal here, in this
// process, before it returns, so the host keeps it exactly as one that
// came by a Journal call during the Handle. A plugin built with an older
// SDK ignores the request and calls Journal as before.
func (a *Client) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	preq := &pb.HandleRequest{
		Site: req.Site, Type: req.Type, MessageId: req.MessageID, Key: req.Key,
		OccurredAtUnixMs: wire.ToMS(req.OccurredAt), ReceivedAtUnixMs: wire.ToMS(req.ReceivedAt), Format: req.Format, Payload: req.Payload,
		Attempt: int32(req.Attempt), Recovering: req.Recovering, DeadlineUnixMs: wire.ToMS(req.Deadline),
		TraceId: req.TraceID, JournalInResponse: a.host != nil,
	}
	var (
		r   *pb.HandleResponse
		err error
	)
	if a.streams != nil {
		r, err = a.streams.handle(ctx, preq)
	}
	if a.streams == nil || errors.Is(err, errTooLargeForStream) {
		r, err = a.c.Handle(ctx, preq)
	}
	if err != nil {
		return nil, returned("Handle", err)
	}
	if a.host == nil {
		r.Journal = nil // not asked for; a plugin does not send them unasked
	}
	for _, j := range r.Journal {
		// The entry is of the request's site, whatever the plugin says,
		// and is kept even if ctx ended meanwhile: the call was made.
		if _, err := a.host.Journal(context.WithoutCancel(ctx), req.Site, exchangeFromPB(j)); err != nil {
			return nil, fmt.Errorf("journal the %s %s exchange (serial %s) of message %s: %w", j.System, j.Code, j.Serial, req.MessageID, err)
		}
	}
	out := &sdk.HandleResponse{Status: sdk.Status(r.Status), Retryable: r.Retryable, Waiting: r.Waiting, Diagnostics: diagsFromPB(r.Diagnostics), Payload: r.Payload}
	if r.External != nil {
		out.External = &sdk.External{System: r.External.System, Code: r.External.Code, Message: r.External.Message, MsgID: r.External.MsgId}
	}
	return out, nil
}

// RunJob calls the plugin's RunJob.
func (a *Client) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	r, err := a.c.RunJob(ctx, &pb.RunJobRequest{Site: req.Site, Job: req.Job, NowUnixMs: wire.ToMS(req.Now), TraceId: req.TraceID})
	if err != nil {
		return nil, returned("RunJob", err)
	}
	return &sdk.RunJobResponse{Diagnostics: diagsFromPB(r.Diagnostics), Summary: r.Summary, Processed: r.Processed}, nil
}

// RunCommand runs a local command in the plugin (protocol 2).
func (a *Client) RunCommand(ctx context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) {
	if a.version < wire.V2 {
		return nil, ErrNeedsV2
	}
	r, err := a.c.RunCommand(ctx, &pb.RunCommandRequest{Site: req.Site, Command: req.Command, Settings: req.Settings, Arguments: req.Arguments})
	if err != nil {
		return nil, returned("RunCommand", err)
	}
	return &sdk.RunCommandResponse{Diagnostics: diagsFromPB(r.Diagnostics), Output: r.Output, Payload: r.Payload}, nil
}

// hostServer serves a HostServer over gRPC.
type hostServer struct {
	pb.UnimplementedHostServer
	impl HostServer
}

func (s *hostServer) StateGet(ctx context.Context, r *pb.StateKey) (*pb.StateEntry, error) {
	e, err := s.impl.Get(ctx, r.Site, r.Key)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StateEntry{Key: e.Key, Value: e.Value, Version: e.Version}, nil
}

func (s *hostServer) StatePut(ctx context.Context, r *pb.StatePutRequest) (*pb.StateEntry, error) {
	v, err := s.impl.Put(ctx, r.Site, r.Key, r.Value)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StateEntry{Key: r.Key, Version: v}, nil
}

func (s *hostServer) StateCompareAndSet(ctx context.Context, r *pb.StateCASRequest) (*pb.StateEntry, error) {
	v, err := s.impl.CompareAndSet(ctx, r.Site, r.Key, r.Expect, r.Value)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StateEntry{Key: r.Key, Version: v}, nil
}

func (s *hostServer) StateScan(ctx context.Context, r *pb.StateScanRequest) (*pb.StateScanResponse, error) {
	var es []sdk.Entry
	var more bool
	var err error
	ps, paged := s.impl.(PagedScanServer)
	switch ks, known := s.impl.(KnownScanServer); {
	case paged && r.Paged:
		es, more, err = ps.ScanPage(ctx, r.Site, r.Prefix, r.After, int(r.Limit), r.Known)
		if err == nil && more && len(es) == 0 {
			return nil, status.Errorf(codes.Internal, "state scan of prefix %q after %q: the host's page has no entry yet says more follow; this is a bug in the host services", r.Prefix, r.After)
		}
	case known && len(r.Known) > 0:
		es, err = ks.ScanKnown(ctx, r.Site, r.Prefix, int(r.Limit), r.Known)
	default:
		es, err = s.impl.Scan(ctx, r.Site, r.Prefix, int(r.Limit))
	}
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.StateScanResponse{Entries: make([]*pb.StateEntry, len(es)), More: more}
	for i, e := range es {
		pe := &pb.StateEntry{Key: e.Key, Value: e.Value, Version: e.Version}
		if v, ok := r.Known[e.Key]; ok && v == e.Version {
			pe.Value = nil // the plugin holds it (sdk.ScanKnown)
		}
		out.Entries[i] = pe
	}
	return out, nil
}

// StateWrite serves sdk.WriteState: in one transaction when the host
// services can (StateWriteServer), else one by one.
func (s *hostServer) StateWrite(ctx context.Context, r *pb.StateWriteRequest) (*pb.StateWriteResponse, error) {
	if len(r.Writes) > MaxStateWrites {
		return nil, status.Errorf(codes.InvalidArgument, "state write: %d writes in one call, at most %d", len(r.Writes), MaxStateWrites)
	}
	ws := make([]sdk.StateWrite, len(r.Writes))
	for i, w := range r.Writes {
		ws[i] = sdk.StateWrite{Key: w.Key, Value: w.Value, Expect: w.Expect, Put: w.Put}
	}
	var vs []int64
	var err error
	if wsrv, ok := s.impl.(StateWriteServer); ok {
		vs, err = wsrv.WriteState(ctx, r.Site, ws)
	} else {
		vs, err = WriteOneByOne(ctx, s.impl, r.Site, ws)
	}
	var we *sdk.WriteError
	if errors.As(err, &we) && we.Index >= 0 && we.Index < len(ws) && we.Applied >= 0 && we.Applied <= we.Index && errors.Is(we.Err, sdk.ErrConflict) {
		return &pb.StateWriteResponse{Conflict: int32(we.Index + 1), Applied: int32(we.Applied)}, nil
	}
	if err != nil {
		return nil, toStatus(err)
	}
	if len(vs) != len(ws) {
		return nil, status.Errorf(codes.Internal, "state write: %d versions for %d writes", len(vs), len(ws))
	}
	return &pb.StateWriteResponse{Versions: vs}, nil
}

// WriteOneByOne makes writes through h's Put and CompareAndSet, in order,
// stopping at the first that fails (a *sdk.WriteError says which): the
// state writes of sdk.WriteState for a host whose store cannot make them
// in one transaction.
func WriteOneByOne(ctx context.Context, h HostServer, site string, writes []sdk.StateWrite) ([]int64, error) {
	out := make([]int64, len(writes))
	for i, w := range writes {
		var err error
		if w.Put {
			out[i], err = h.Put(ctx, site, w.Key, w.Value)
		} else {
			out[i], err = h.CompareAndSet(ctx, site, w.Key, w.Expect, w.Value)
		}
		if err != nil {
			return nil, &sdk.WriteError{Index: i, Applied: i, Err: err}
		}
	}
	return out, nil
}

func (s *hostServer) StateDelete(ctx context.Context, r *pb.StateKey) (*pb.Empty, error) {
	if err := s.impl.Delete(ctx, r.Site, r.Key); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *hostServer) NextSequence(ctx context.Context, r *pb.SequenceRequest) (*pb.SequenceResponse, error) {
	if gs, ok := s.impl.(GapSequenceServer); ok && r.Gaps {
		first, last, err := gs.NextSequenceGaps(ctx, r.Site, r.Name)
		if err != nil {
			return nil, toStatus(err)
		}
		return &pb.SequenceResponse{Value: first, Last: last}, nil
	}
	v, err := s.impl.NextSequence(ctx, r.Site, r.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SequenceResponse{Value: v}, nil
}

func (s *hostServer) Publish(ctx context.Context, r *pb.PublishRequest) (*pb.Empty, error) {
	err := s.impl.Publish(ctx, r.Site, sdk.Event{ID: r.Id, Type: r.Type, Key: r.Key, Payload: r.Payload, Headers: r.Headers, OccurredAt: wire.FromMS(r.OccurredAtUnixMs)})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *hostServer) Journal(ctx context.Context, r *pb.JournalRequest) (*pb.JournalResponse, error) {
	id, err := s.impl.Journal(ctx, r.Site, exchangeFromPB(r))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.JournalResponse{Id: id}, nil
}

// exchangeFromPB is the journal entry of a Journal call or of a Handle
// response.
func exchangeFromPB(r *pb.JournalRequest) sdk.Exchange {
	return sdk.Exchange{
		MessageID: r.MessageId, System: r.System, Code: r.Code, Serial: r.Serial,
		Request: r.Request, Response: r.Response, Status: r.Status, Error: r.Error,
		Duration: time.Duration(r.DurationMs) * time.Millisecond,
	}
}

func (s *hostServer) PutArtifact(stream pb.Host_PutArtifactServer) error {
	as, ok := s.impl.(ArtifactServer)
	if !ok {
		return status.Error(codes.Unimplemented, "this host keeps no artifacts")
	}
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "put artifact: no first chunk: %v", err)
	}
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(first.Data); err != nil {
			return
		}
		for {
			c, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				pw.Close()
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := pw.Write(c.Data); err != nil {
				return
			}
		}
	}()
	ref, err := as.PutArtifact(stream.Context(), first.Site, sdk.Artifact{Name: first.Name, ContentType: first.ContentType}, pr)
	pr.CloseWithError(errors.New("artifact stored"))
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&pb.ArtifactRef{Id: ref.ID, Name: ref.Name, Size: ref.Size, Sha256: ref.SHA256})
}

// errNoHostServices answers a plugin's service calls during a local command.
var errNoHostServices = errors.New("host services are not available to local commands; do this from Handle or RunJob")

type noHost struct{}

func (noHost) Get(context.Context, string, string) (sdk.Entry, error) {
	return sdk.Entry{}, errNoHostServices
}
func (noHost) Put(context.Context, string, string, []byte) (int64, error) {
	return 0, errNoHostServices
}
func (noHost) CompareAndSet(context.Context, string, string, int64, []byte) (int64, error) {
	return 0, errNoHostServices
}
func (noHost) Scan(context.Context, string, string, int) ([]sdk.Entry, error) {
	return nil, errNoHostServices
}
func (noHost) Delete(context.Context, string, string) error { return errNoHostServices }
func (noHost) NextSequence(context.Context, string, string) (int64, error) {
	return 0, errNoHostServices
}
func (noHost) Publish(context.Context, string, sdk.Event) error { return errNoHostServices }
func (noHost) Journal(context.Context, string, sdk.Exchange) (int64, error) {
	return 0, errNoHostServices
}

func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sdk.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, sdk.ErrConflict):
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

func diagsFromPB(ds []*pb.Diagnostic) sdk.Diagnostics {
	if len(ds) == 0 {
		return nil
	}
	out := make(sdk.Diagnostics, len(ds))
	for i, d := range ds {
		out[i] = sdk.Diagnostic{Severity: sdk.Severity(d.Severity), Field: d.Field, Rule: d.Rule, Summary: d.Summary, Detail: d.Detail}
	}
	return out
}

var (
	_ sdk.Plugin        = (*Client)(nil)
	_ sdk.CommandRunner = (*Client)(nil)
	_ HostServer        = noHost{}
)

// PluginError is an error a plugin's method returned instead of a response
// (the SDK sends a plain Go error as gRPC Internal, and its own refusals,
// such as local commands without a runner, as FailedPrecondition). Its
// message is the plugin's own words, without gRPC's "rpc error: code =
// Internal desc =" around them, for the operator and the vendor who read
// it in check-config, a reply or a job's failure; it keeps the status, so
// status.Code still tells it from a broken connection.
type PluginError struct {
	Method string // Describe, Configure, Handle, RunJob or RunCommand
	st     *status.Status
}

func (e *PluginError) Error() string {
	return "its " + e.Method + " returned an error: " + e.st.Message()
}

// NewPluginError is the error of a plugin's method that answered with
// st (a host's own wrapper or test making the error sdkhost.Client makes).
func NewPluginError(method string, st *status.Status) *PluginError {
	return &PluginError{Method: method, st: st}
}

// GRPCStatus keeps the status the plugin answered with.
func (e *PluginError) GRPCStatus() *status.Status { return e.st }

// returned makes err a *PluginError when the plugin's method answered with
// an error of its own; a broken or timed-out call stays as it is.
func returned(method string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unknown, codes.Internal, codes.FailedPrecondition:
		return &PluginError{Method: method, st: st}
	}
	return err
}
