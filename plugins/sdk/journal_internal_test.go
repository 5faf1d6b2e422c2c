package sdk

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
)

// journalHost is the host's services as the plugin side sees them; it
// records Journal calls.
type journalHost struct {
	pb.HostClient
	got []*pb.JournalRequest
}

func (h *journalHost) Journal(_ context.Context, in *pb.JournalRequest, _ ...grpc.CallOption) (*pb.JournalResponse, error) {
	h.got = append(h.got, in)
	return &pb.JournalResponse{Id: int64(len(h.got))}, nil
}

// oneExchange journals one exchange of the handled message.
type oneExchange struct{ Plugin }

func (oneExchange) Handle(ctx context.Context, req *HandleRequest) (*HandleResponse, error) {
	if _, err := req.Host.Journal(ctx, Exchange{MessageID: req.MessageID, System: "x", Code: "C1", Serial: "S1"}); err != nil {
		return nil, err
	}
	return &HandleResponse{Status: StatusOK}, nil
}

// TestJournalInResponseOnlyWhenAsked: a host that does not set
// journal_in_response (one built before it existed) gets the entry by a
// Journal call, never in a response field it would ignore.
func TestJournalInResponseOnlyWhenAsked(t *testing.T) {
	for _, asked := range []bool{false, true} {
		h := &journalHost{}
		s := &adapterServer{impl: oneExchange{}, host: h}
		out, err := s.Handle(t.Context(), &pb.HandleRequest{Site: "s1", Type: "x.do", MessageId: "m1", JournalInResponse: asked})
		if err != nil {
			t.Fatal(err)
		}
		inResponse, called := len(out.Journal), len(h.got)
		if asked && (inResponse != 1 || called != 0) || !asked && (inResponse != 0 || called != 1) {
			t.Errorf("journal_in_response %v: %d entries in the response, %d Journal calls", asked, inResponse, called)
		}
		if asked && inResponse == 1 && out.Journal[0].Site != "s1" {
			t.Errorf("entry site %q, want s1", out.Journal[0].Site)
		}
	}
}
