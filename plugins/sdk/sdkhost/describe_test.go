package sdkhost

import (
	"context"
	"maps"
	"math"
	"math/big"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
)

// describer is a plugin's Adapter that answers Describe with r.
type describer struct {
	pb.AdapterClient
	r *pb.DescribeResponse
}

func (d describer) Describe(context.Context, *pb.DescribeRequest, ...grpc.CallOption) (*pb.DescribeResponse, error) {
	return d.r, nil
}

// TestDescribedJobIntervals: a job's interval comes over the wire in
// milliseconds, from a plugin the host does not trust. One that does not
// fit a time.Duration must not wrap around to a few nanoseconds (the
// scheduler would wake and take a lease without pause), and one under a
// second (MinJobInterval) is refused, as sdk.Job documents.
func TestDescribedJobIntervals(t *testing.T) {
	t.Parallel()
	// k·10⁶ ≡ 64 (mod 2⁶⁴): 10⁶ = 2⁶·15625, so k = 15625⁻¹ mod 2⁵⁸.
	wraps := new(big.Int).ModInverse(big.NewInt(15625), new(big.Int).Lsh(big.NewInt(1), 58)).Int64()
	cases := map[string]struct {
		ms   int64
		want bool // a problem reported
	}{
		"an hour":                      {3600_000, false},
		"a millisecond":                {1, true},
		"just under a second":          {999, true},
		"a second":                     {1000, false},
		"none":                         {0, true},
		"negative":                     {-5, true},
		"wraps around to nanoseconds":  {wraps, true},
		"the largest int64":            {math.MaxInt64, true},
		"the smallest int64":           {math.MinInt64, true},
		"just past a time.Duration":    {math.MaxInt64/1_000_000 + 1, true},
		"the longest a Duration holds": {math.MaxInt64 / 1_000_000, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &Client{c: describer{r: &pb.DescribeResponse{Name: "p", Jobs: []*pb.Job{{Name: "j", IntervalMs: tc.ms}}}}}
			d, err := c.Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if errs := CheckDescription(d); (len(errs) > 0) != tc.want {
				t.Errorf("interval of %d ms read as %v: problems %v; want a problem: %v", tc.ms, d.Jobs[0].Interval, errs, tc.want)
			}
		})
	}
}

// TestDescribedJobMaxRun: a job's bound on a run comes over the wire in
// milliseconds too: 0 is the host's default, a bound of at least a
// second is kept as declared (shorter than the interval too), and one
// under a second, negative or past a time.Duration is refused.
func TestDescribedJobMaxRun(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ms   int64
		want time.Duration // as read; -1: refused
	}{
		"none: the default":         {0, 0},
		"ten minutes of an hour":    {600_000, 10 * time.Minute},
		"a second":                  {1000, time.Second},
		"half a second":             {500, -1},
		"negative":                  {-1, -1},
		"just past a time.Duration": {math.MaxInt64/1_000_000 + 1, -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &Client{c: describer{r: &pb.DescribeResponse{Name: "p", Jobs: []*pb.Job{{Name: "j", IntervalMs: 3600_000, MaxRunMs: tc.ms}}}}}
			d, err := c.Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			errs := CheckDescription(d)
			if tc.want < 0 {
				if len(errs) == 0 {
					t.Errorf("a bound of %d ms read as %v was not refused", tc.ms, d.Jobs[0].MaxRun)
				}
				return
			}
			if len(errs) > 0 || d.Jobs[0].MaxRun != tc.want {
				t.Errorf("a bound of %d ms read as %v, problems %v; want %v and none", tc.ms, d.Jobs[0].MaxRun, errs, tc.want)
			}
		})
	}
}

// TestDescribedColumnCodes: a column's Codes cross the plugin boundary in
// the declarations; a plugin built before Codes sends none, and its
// columns are shown as they always were (Shown gives the value as it is).
func TestDescribedColumnCodes(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		decl      string
		wantCodes map[string]string
		wantShown string
	}{
		"with codes": {`{"forms":[{"name":"scan","operation":"p.scan","result":{"fields":[{"field":"result","title":"结果","codes":{"expired":"二维码已过期"}}]}}]}`,
			map[string]string{"expired": "二维码已过期"}, "二维码已过期 (expired)"},
		"an older plugin": {`{"forms":[{"name":"scan","operation":"p.scan","result":{"fields":[{"field":"result","title":"结果"}]}}]}`,
			nil, "expired"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &Client{c: describer{r: &pb.DescribeResponse{Name: "p", Operations: []*pb.Operation{{Type: "p.scan"}}, Declarations: []byte(tc.decl)}}}
			d, err := c.Describe(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if errs := CheckDescription(d); len(errs) > 0 {
				t.Fatalf("CheckDescription = %v", errs)
			}
			col := d.Forms[0].Result.Fields[0]
			if !maps.Equal(col.Codes, tc.wantCodes) {
				t.Errorf("Codes = %v, want %v", col.Codes, tc.wantCodes)
			}
			if got := col.Shown("expired", "expired"); got != tc.wantShown {
				t.Errorf("shown as %q, want %q", got, tc.wantShown)
			}
		})
	}
}
