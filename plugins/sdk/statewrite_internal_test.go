package sdk

import (
	"context"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
)

// olderHost is the gRPC client of a host that does not serve StateWrite.
type olderHost struct {
	pb.HostClient
	batches, puts, cas int
}

func (h *olderHost) StateWrite(context.Context, *pb.StateWriteRequest, ...grpc.CallOption) (*pb.StateWriteResponse, error) {
	h.batches++
	return nil, status.Error(codes.Unimplemented, "unknown method StateWrite")
}

func (h *olderHost) StatePut(_ context.Context, r *pb.StatePutRequest, _ ...grpc.CallOption) (*pb.StateEntry, error) {
	h.puts++
	return &pb.StateEntry{Key: r.Key, Version: 1}, nil
}

func (h *olderHost) StateCompareAndSet(_ context.Context, r *pb.StateCASRequest, _ ...grpc.CallOption) (*pb.StateEntry, error) {
	h.cas++
	return &pb.StateEntry{Key: r.Key, Version: r.Expect + 1}, nil
}

// TestWriteStateOlderHost: a host older than Host.StateWrite answers it
// Unimplemented; the writes are then made one by one, and the plugin
// process does not ask again.
func TestWriteStateOlderHost(t *testing.T) {
	c := &olderHost{}
	var no atomic.Bool
	ws := []StateWrite{{Key: "a", Value: []byte("1"), Put: true}, {Key: "b", Value: []byte("2"), Expect: 4}}
	for range 2 {
		h := &hostClient{c: c, site: "s1", noWrites: &no}
		vs, err := WriteState(t.Context(), h, ws)
		if err != nil || len(vs) != 2 || vs[0] != 1 || vs[1] != 5 {
			t.Fatalf("WriteState = %v, %v; want [1 5]", vs, err)
		}
	}
	if c.batches != 1 || c.puts != 2 || c.cas != 2 {
		t.Fatalf("%d StateWrite, %d StatePut, %d StateCompareAndSet calls; want 1, 2, 2", c.batches, c.puts, c.cas)
	}
}
