package sdk

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
	"github.com/medgate/medgate/plugins/sdk/internal/wire"
)

// HandleStream serves the host's Handle calls multiplexed on one stream
// (see wire.MaxStreamMessage and sdkhost). Each call runs as a unary
// Handle would: under a context that ends at the call's time bound or
// when the host gives the call up, with the held journal entry in its
// response, and a panic still ends the process. Results go back as the
// calls finish, in any order.
//
// The calls run on a few workers that live as long as the stream, as
// gRPC's stream workers do for unary calls (wire.NewServer): a worker
// keeps its grown stack. A call that finds every worker busy gets a
// goroutine of its own, so calls never queue behind each other. Workers
// and such goroutines start with the room of a call (growStack).
func (s *adapterServer) HandleStream(st pb.Adapter_HandleStreamServer) error {
	var (
		sendMu  sync.Mutex
		mu      sync.Mutex
		cancels = map[uint64]context.CancelFunc{}
		running sync.WaitGroup
		work    = make(chan func())
		workers sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			growStack(0)
			for f := range work {
				f()
			}
		})
	}
	defer func() {
		// The stream is over (the host went away or the connection
		// broke): end every call still running and wait for them, since
		// nothing may be sent on the stream once this returns.
		mu.Lock()
		for _, cancel := range cancels {
			cancel()
		}
		mu.Unlock()
		running.Wait()
		close(work)
		workers.Wait()
	}()
	for {
		call, err := st.Recv()
		if err != nil {
			return nil
		}
		if call.Request == nil {
			mu.Lock()
			if cancel := cancels[call.Id]; cancel != nil {
				cancel()
			}
			mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(st.Context())
		if call.TimeoutNs > 0 {
			ctx, cancel = context.WithTimeout(st.Context(), time.Duration(call.TimeoutNs))
		}
		mu.Lock()
		if prev := cancels[call.Id]; prev != nil {
			mu.Unlock()
			cancel()
			// The host never reuses an id while its call runs.
			return status.Errorf(codes.InvalidArgument, "handle stream: call id %d sent again while its call runs", call.Id)
		}
		cancels[call.Id] = cancel
		mu.Unlock()
		running.Add(1)
		f := func() {
			defer running.Done()
			resp, err := s.Handle(ctx, call.Request)
			mu.Lock()
			delete(cancels, call.Id)
			mu.Unlock()
			cancel()
			res := streamResult(call.Id, resp, err)
			sendMu.Lock()
			defer sendMu.Unlock()
			_ = st.Send(res) // a broken stream ends the Recv loop too
		}
		select {
		case work <- f:
		default:
			go func() {
				growStack(0)
				f()
			}()
		}
	}
}

// streamResult is the HandleResult of call id: its response, or the
// status of its error. A response too large for the stream is refused
// as gRPC refuses such a unary response at the host ("received message
// larger than max"), so that it fails its own call and not the stream.
func streamResult(id uint64, resp *pb.HandleResponse, err error) *pb.HandleResult {
	if err != nil {
		st := status.Convert(err)
		return &pb.HandleResult{Id: id, Code: int32(st.Code()), Message: st.Message()}
	}
	res := &pb.HandleResult{Id: id, Response: resp}
	if n := proto.Size(res); n > wire.MaxStreamMessage {
		return &pb.HandleResult{Id: id, Code: int32(codes.ResourceExhausted),
			Message: fmt.Sprintf("grpc: received message larger than max (%d vs. %d): the plugin's Handle response is too large for the host", n, wire.MaxStreamMessage)}
	}
	return res
}

// stackReserve is the stack room growStack makes for a Handle call: a
// new goroutine's stack grows from 2 KiB to 16 KiB at once, which holds a
// work-injury call (its SM2/SM4 sealing, JSON and HTTP client).
const stackReserve = 8 << 10

// growStack grows the calling goroutine's stack, if it has less than
// stackReserve free, in one copy while the stack is shallow. Left to grow
// on demand, a call's goroutine was copied up to three times, the last
// deep in the adapter, where a copy walks and adjusts every frame:
// 1.5–1.6 % of the work-injury plugin's CPU samples in the bench's GYD051
// row (16 clients, so most calls on goroutines of their own), 0.5–0.6 %
// with growStack (TestHandleStreamCallsStartWithRoom). i is 0; it is a
// parameter so that the compiler keeps the array.
//
//go:noinline
func growStack(i int) byte {
	var room [stackReserve]byte
	return room[i]
}
