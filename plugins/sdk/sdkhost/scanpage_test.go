package sdkhost

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/internal/pb"
)

// threeKeys is a HostServer holding k/1, k/2 and k/3 that answers scans
// whole (Scan) or page by page (ScanPage: one entry a page, or with
// empty an empty page that says more follow).
type threeKeys struct {
	empty bool
}

var threeEntries = []sdk.Entry{{Key: "k/1", Value: []byte("1"), Version: 1}, {Key: "k/2", Value: []byte("2"), Version: 1}, {Key: "k/3", Value: []byte("3"), Version: 1}}

func (threeKeys) Scan(context.Context, string, string, int) ([]sdk.Entry, error) {
	return threeEntries, nil
}

func (h threeKeys) ScanPage(_ context.Context, _, _, after string, _ int, _ map[string]int64) ([]sdk.Entry, bool, error) {
	if h.empty {
		return nil, true, nil
	}
	for i, e := range threeEntries {
		if e.Key > after {
			return threeEntries[i : i+1], i < len(threeEntries)-1, nil
		}
	}
	return nil, false, nil
}

var errUnused = errors.New("not used by this test")

func (threeKeys) Get(context.Context, string, string) (sdk.Entry, error) {
	return sdk.Entry{}, errUnused
}
func (threeKeys) Put(context.Context, string, string, []byte) (int64, error) {
	return 0, errUnused
}
func (threeKeys) CompareAndSet(context.Context, string, string, int64, []byte) (int64, error) {
	return 0, errUnused
}
func (threeKeys) Delete(context.Context, string, string) error { return errUnused }
func (threeKeys) NextSequence(context.Context, string, string) (int64, error) {
	return 0, errUnused
}
func (threeKeys) Publish(context.Context, string, sdk.Event) error { return errUnused }
func (threeKeys) Journal(context.Context, string, sdk.Exchange) (int64, error) {
	return 0, errUnused
}

// scanOnlyHost hides ScanPage: a host services implementation built
// before paged scans.
type scanOnlyHost struct{ HostServer }

// TestStateScanPaged: a plugin built before paged scans (no paged in its
// request) gets the whole answer from Scan, never a page it would take
// for everything; a paged request gets a page and more, and the next page
// after the key it names; host services without pages answer a paged
// request whole, with more false; a page with no entry that says more
// follow is refused, so that no plugin loops on it.
func TestStateScanPaged(t *testing.T) {
	t.Parallel()
	keys := func(r *pb.StateScanResponse) (ks []string) {
		for _, e := range r.GetEntries() {
			ks = append(ks, e.Key)
		}
		return ks
	}
	cases := map[string]struct {
		impl HostServer
		req  *pb.StateScanRequest
		keys []string
		more bool
		code codes.Code
	}{
		"old plugin":             {threeKeys{}, &pb.StateScanRequest{Site: "s1", Prefix: "k/"}, []string{"k/1", "k/2", "k/3"}, false, codes.OK},
		"first page":             {threeKeys{}, &pb.StateScanRequest{Site: "s1", Prefix: "k/", Paged: true}, []string{"k/1"}, true, codes.OK},
		"next page":              {threeKeys{}, &pb.StateScanRequest{Site: "s1", Prefix: "k/", Paged: true, After: "k/1"}, []string{"k/2"}, true, codes.OK},
		"last page":              {threeKeys{}, &pb.StateScanRequest{Site: "s1", Prefix: "k/", Paged: true, After: "k/2"}, []string{"k/3"}, false, codes.OK},
		"host without pages":     {scanOnlyHost{threeKeys{}}, &pb.StateScanRequest{Site: "s1", Prefix: "k/", Paged: true}, []string{"k/1", "k/2", "k/3"}, false, codes.OK},
		"empty page, yet more":   {threeKeys{empty: true}, &pb.StateScanRequest{Site: "s1", Prefix: "k/", Paged: true}, nil, false, codes.Internal},
		"old plugin, empty host": {threeKeys{empty: true}, &pb.StateScanRequest{Site: "s1", Prefix: "k/"}, []string{"k/1", "k/2", "k/3"}, false, codes.OK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := (&hostServer{impl: tc.impl}).StateScan(t.Context(), tc.req)
			if status.Code(err) != tc.code {
				t.Fatalf("StateScan: %v, want code %v", err, tc.code)
			}
			if got := keys(r); len(got) != len(tc.keys) || (len(got) > 0 && got[len(got)-1] != tc.keys[len(tc.keys)-1]) || r.GetMore() != tc.more {
				t.Errorf("StateScan = %v, more %v; want %v, more %v", got, r.GetMore(), tc.keys, tc.more)
			}
		})
	}
}
