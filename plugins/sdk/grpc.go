package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
)

// Handshake is the go-plugin handshake shared by host and plugins. The
// cookie only keeps people from running a plugin by hand; it is not
// security.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "MEDGATE_PLUGIN",
	MagicCookieValue: "4f1c2a7e-medgate-adapter",
}

// PluginName is the name under which the adapter is dispensed.
const PluginName = "adapter"

// HostServer is implemented by the host: the services of [Host] for one
// plugin, with the site passed on every call.
type HostServer interface {
	Get(ctx context.Context, site, key string) (Entry, error)
	Put(ctx context.Context, site, key string, value []byte) (int64, error)
	CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error)
	Scan(ctx context.Context, site, prefix string, limit int) ([]Entry, error)
	Delete(ctx context.Context, site, key string) error
	NextSequence(ctx context.Context, site, name string) (int64, error)
	Publish(ctx context.Context, site string, e Event) error
	Journal(ctx context.Context, site string, x Exchange) (int64, error)
}

// GRPCPlugin is the go-plugin glue. The plugin side sets Impl; the host
// side sets Host. Vendors do not use it directly: see [Serve].
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Plugin
	Host HostServer
}

// PluginSets returns the versioned plugin sets for go-plugin's
// VersionedPlugins. The host passes its HostServer; plugins pass their Impl.
func PluginSets(impl Plugin, host HostServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {PluginName: &GRPCPlugin{Impl: impl, Host: host}},
	}
}

// GRPCServer registers the adapter on the plugin side.
func (p *GRPCPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterAdapterServer(s, &adapterServer{impl: p.Impl, broker: broker})
	return nil
}

// GRPCClient returns the host-side client. It serves the host's services on
// the broker and tells the plugin where to find them.
func (p *GRPCPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	if p.Host == nil {
		return nil, errors.New("sdk: host side needs a HostServer")
	}
	id := broker.NextId()
	go broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(opts...)
		pb.RegisterHostServer(s, &hostServer{impl: p.Host})
		return s
	})
	client := pb.NewAdapterClient(c)
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.Init(ictx, &pb.InitRequest{HostBrokerId: id}); err != nil {
		return nil, fmt.Errorf("sdk: init plugin: %w", err)
	}
	return &adapterClient{c: client}, nil
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// ---- plugin side ----

type adapterServer struct {
	pb.UnimplementedAdapterServer
	impl   Plugin
	broker *plugin.GRPCBroker

	mu   sync.Mutex
	host pb.HostClient
}

func (s *adapterServer) Init(ctx context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	conn, err := s.broker.Dial(req.HostBrokerId)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial host services: %v", err)
	}
	s.mu.Lock()
	s.host = pb.NewHostClient(conn)
	s.mu.Unlock()
	return &pb.InitResponse{}, nil
}

func (s *adapterServer) hostFor(site string) Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.host == nil {
		return unavailableHost{}
	}
	return &hostClient{c: s.host, site: site}
}

func (s *adapterServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx, &DescribeRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	return describeToPB(d), nil
}

func (s *adapterServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	r, err := s.impl.Configure(ctx, &ConfigureRequest{Site: req.Site, Settings: req.Settings, Host: s.hostFor(req.Site)})
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		r = &ConfigureResponse{}
	}
	return &pb.ConfigureResponse{Diagnostics: diagsToPB(r.Diagnostics)}, nil
}

func (s *adapterServer) Handle(ctx context.Context, req *pb.HandleRequest) (*pb.HandleResponse, error) {
	r, err := s.impl.Handle(ctx, &HandleRequest{
		Site:       req.Site,
		Type:       req.Type,
		MessageID:  req.MessageId,
		Key:        req.Key,
		OccurredAt: fromMS(req.OccurredAtUnixMs),
		Format:     req.Format,
		Payload:    req.Payload,
		Attempt:    int(req.Attempt),
		Recovering: req.Recovering,
		Deadline:   fromMS(req.DeadlineUnixMs),
		TraceID:    req.TraceId,
		Host:       s.hostFor(req.Site),
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
		Diagnostics: diagsToPB(r.Diagnostics),
		Payload:     r.Payload,
	}
	if r.External != nil {
		out.External = &pb.External{System: r.External.System, Code: r.External.Code, Message: r.External.Message, MsgId: r.External.MsgID}
	}
	return out, nil
}

func (s *adapterServer) RunJob(ctx context.Context, req *pb.RunJobRequest) (*pb.RunJobResponse, error) {
	r, err := s.impl.RunJob(ctx, &RunJobRequest{Site: req.Site, Job: req.Job, Now: fromMS(req.NowUnixMs), TraceID: req.TraceId, Host: s.hostFor(req.Site)})
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		r = &RunJobResponse{}
	}
	return &pb.RunJobResponse{Diagnostics: diagsToPB(r.Diagnostics), Summary: r.Summary, Processed: r.Processed}, nil
}

// hostClient is the plugin's view of the host services for one site.
type hostClient struct {
	c    pb.HostClient
	site string
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
	r, err := h.c.StateScan(ctx, &pb.StateScanRequest{Site: h.site, Prefix: prefix, Limit: int32(limit)})
	if err != nil {
		return nil, fromStatus("state scan", err)
	}
	out := make([]Entry, len(r.Entries))
	for i, e := range r.Entries {
		out[i] = Entry{Key: e.Key, Value: e.Value, Version: e.Version}
	}
	return out, nil
}

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

func (h *hostClient) Publish(ctx context.Context, e Event) error {
	_, err := h.c.Publish(ctx, &pb.PublishRequest{
		Site: h.site, Id: e.ID, Type: e.Type, Key: e.Key, Payload: e.Payload,
		Headers: e.Headers, OccurredAtUnixMs: toMS(e.OccurredAt),
	})
	return fromStatus("publish", err)
}

func (h *hostClient) Journal(ctx context.Context, x Exchange) (int64, error) {
	r, err := h.c.Journal(ctx, &pb.JournalRequest{
		Site: h.site, MessageId: x.MessageID, System: x.System, Code: x.Code, Serial: x.Serial,
		Request: x.Request, Response: x.Response, Status: x.Status, Error: x.Error,
		DurationMs: x.Duration.Milliseconds(),
	})
	if err != nil {
		return 0, fromStatus("journal", err)
	}
	return r.Id, nil
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

// ---- host side ----

// adapterClient is the host's view of a plugin.
type adapterClient struct {
	c pb.AdapterClient
}

func (a *adapterClient) Describe(ctx context.Context, _ *DescribeRequest) (*DescribeResponse, error) {
	r, err := a.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, err
	}
	return describeFromPB(r), nil
}

func (a *adapterClient) Configure(ctx context.Context, req *ConfigureRequest) (*ConfigureResponse, error) {
	r, err := a.c.Configure(ctx, &pb.ConfigureRequest{Site: req.Site, Settings: req.Settings})
	if err != nil {
		return nil, err
	}
	return &ConfigureResponse{Diagnostics: diagsFromPB(r.Diagnostics)}, nil
}

func (a *adapterClient) Handle(ctx context.Context, req *HandleRequest) (*HandleResponse, error) {
	r, err := a.c.Handle(ctx, &pb.HandleRequest{
		Site: req.Site, Type: req.Type, MessageId: req.MessageID, Key: req.Key,
		OccurredAtUnixMs: toMS(req.OccurredAt), Format: req.Format, Payload: req.Payload,
		Attempt: int32(req.Attempt), Recovering: req.Recovering, DeadlineUnixMs: toMS(req.Deadline),
		TraceId: req.TraceID,
	})
	if err != nil {
		return nil, err
	}
	out := &HandleResponse{Status: Status(r.Status), Retryable: r.Retryable, Diagnostics: diagsFromPB(r.Diagnostics), Payload: r.Payload}
	if r.External != nil {
		out.External = &External{System: r.External.System, Code: r.External.Code, Message: r.External.Message, MsgID: r.External.MsgId}
	}
	return out, nil
}

func (a *adapterClient) RunJob(ctx context.Context, req *RunJobRequest) (*RunJobResponse, error) {
	r, err := a.c.RunJob(ctx, &pb.RunJobRequest{Site: req.Site, Job: req.Job, NowUnixMs: toMS(req.Now), TraceId: req.TraceID})
	if err != nil {
		return nil, err
	}
	return &RunJobResponse{Diagnostics: diagsFromPB(r.Diagnostics), Summary: r.Summary, Processed: r.Processed}, nil
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
	es, err := s.impl.Scan(ctx, r.Site, r.Prefix, int(r.Limit))
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.StateScanResponse{Entries: make([]*pb.StateEntry, len(es))}
	for i, e := range es {
		out.Entries[i] = &pb.StateEntry{Key: e.Key, Value: e.Value, Version: e.Version}
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
	v, err := s.impl.NextSequence(ctx, r.Site, r.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SequenceResponse{Value: v}, nil
}

func (s *hostServer) Publish(ctx context.Context, r *pb.PublishRequest) (*pb.Empty, error) {
	err := s.impl.Publish(ctx, r.Site, Event{ID: r.Id, Type: r.Type, Key: r.Key, Payload: r.Payload, Headers: r.Headers, OccurredAt: fromMS(r.OccurredAtUnixMs)})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *hostServer) Journal(ctx context.Context, r *pb.JournalRequest) (*pb.JournalResponse, error) {
	id, err := s.impl.Journal(ctx, r.Site, Exchange{
		MessageID: r.MessageId, System: r.System, Code: r.Code, Serial: r.Serial,
		Request: r.Request, Response: r.Response, Status: r.Status, Error: r.Error,
		Duration: time.Duration(r.DurationMs) * time.Millisecond,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.JournalResponse{Id: id}, nil
}

// ---- conversions ----

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

func fromStatus(op string, err error) error {
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.NotFound:
		return ErrNotFound
	case codes.Aborted:
		return ErrConflict
	}
	return fmt.Errorf("sdk: host %s: %w", op, err)
}

func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func diagsToPB(ds Diagnostics) []*pb.Diagnostic {
	out := make([]*pb.Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = &pb.Diagnostic{Severity: int32(d.Severity), Field: d.Field, Rule: d.Rule, Summary: d.Summary, Detail: d.Detail}
	}
	return out
}

func diagsFromPB(ds []*pb.Diagnostic) Diagnostics {
	if len(ds) == 0 {
		return nil
	}
	out := make(Diagnostics, len(ds))
	for i, d := range ds {
		out[i] = Diagnostic{Severity: Severity(d.Severity), Field: d.Field, Rule: d.Rule, Summary: d.Summary, Detail: d.Detail}
	}
	return out
}

func describeToPB(d *DescribeResponse) *pb.DescribeResponse {
	if d == nil {
		return &pb.DescribeResponse{}
	}
	out := &pb.DescribeResponse{Name: d.Name, Version: d.Version, Description: d.Description}
	for _, o := range d.Operations {
		out.Operations = append(out.Operations, &pb.Operation{Type: o.Type, Schema: o.Schema, Summary: o.Summary, Upload: o.Upload})
	}
	for _, j := range d.Jobs {
		out.Jobs = append(out.Jobs, &pb.Job{Name: j.Name, IntervalMs: j.Interval.Milliseconds(), Summary: j.Summary})
	}
	for _, s := range d.Settings {
		out.Settings = append(out.Settings, &pb.Setting{Name: s.Name, Type: s.Type, Required: s.Required, Default: s.Default, Description: s.Description, Example: s.Example, Enum: s.Enum})
	}
	for _, w := range d.WorkLists {
		out.WorkLists = append(out.WorkLists, &pb.WorkList{Name: w.Name, Title: w.Title, ListOperation: w.ListOperation, Description: w.Description})
	}
	return out
}

func describeFromPB(d *pb.DescribeResponse) *DescribeResponse {
	out := &DescribeResponse{Name: d.Name, Version: d.Version, Description: d.Description}
	for _, o := range d.Operations {
		out.Operations = append(out.Operations, Operation{Type: o.Type, Schema: o.Schema, Summary: o.Summary, Upload: o.Upload})
	}
	for _, j := range d.Jobs {
		out.Jobs = append(out.Jobs, Job{Name: j.Name, Interval: time.Duration(j.IntervalMs) * time.Millisecond, Summary: j.Summary})
	}
	for _, s := range d.Settings {
		out.Settings = append(out.Settings, Setting{Name: s.Name, Type: s.Type, Required: s.Required, Default: s.Default, Description: s.Description, Example: s.Example, Enum: s.Enum})
	}
	for _, w := range d.WorkLists {
		out.WorkLists = append(out.WorkLists, WorkList{Name: w.Name, Title: w.Title, ListOperation: w.ListOperation, Description: w.Description})
	}
	return out
}
