package adapter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// scanHost is a state store that only scans, over sorted keys, and
// records the limit of every scan.
type scanHost struct {
	sdk.Host
	keys   []string
	limits []int
}

func (h *scanHost) Scan(_ context.Context, prefix string, limit int) ([]sdk.Entry, error) {
	h.limits = append(h.limits, limit)
	var out []sdk.Entry
	for i := sort.SearchStrings(h.keys, prefix); i < len(h.keys) && strings.HasPrefix(h.keys[i], prefix); i++ {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, sdk.Entry{Key: h.keys[i], Value: []byte("{}"), Version: 1})
	}
	return out, nil
}

// TestPrefixWalkReadsEveryDraftOnce: the receipt recovery reads every
// stored draft through scans of at most a page (the host's scan has no
// start key). Every draft must be read exactly once, in key order, by
// scans that never ask for more than a page, also when the walk runs out
// of scans and resumes where it stopped; other keys are not read.
func TestPrefixWalkReadsEveryDraftOnce(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	var mixed []string
	for i := range 400 {
		switch i % 4 {
		case 0:
			mixed = append(mixed, fmt.Sprintf("RK202611%02d%04d", 1+rnd.IntN(28), rnd.IntN(100)))
		case 1:
			mixed = append(mixed, fmt.Sprintf("CK%08d", rnd.IntN(100000000)))
		case 2:
			mixed = append(mixed, fmt.Sprintf("RK202611%02d%04d@91350200MA31A%04dX", 1+rnd.IntN(28), rnd.IntN(100), rnd.IntN(20)))
		default:
			mixed = append(mixed, fmt.Sprintf("送货单-%d", rnd.IntN(1000000)))
		}
	}
	var chain []string // every id a prefix of the next
	for i := 1; i <= 25; i++ {
		chain = append(chain, strings.Repeat("A", i))
	}
	var numbered []string
	for i := range 1000 {
		numbered = append(numbered, fmt.Sprintf("RK20261126%04d", i))
	}
	var odd []string // every byte, escaped
	for b := range 256 {
		odd = append(odd, "x"+string([]byte{byte(b)})+"y", string([]byte{byte(b)}))
	}
	tests := map[string]struct {
		ids    []string
		budget int
	}{
		"none":              {},
		"one":               {ids: []string{"RK1"}},
		"a page":            {ids: numbered[:recoveryPage]},
		"a page and one":    {ids: numbered[:recoveryPage+1]},
		"numbered":          {ids: numbered},
		"numbered, resumed": {ids: numbered, budget: 7},
		"prefix chain":      {ids: chain},
		"chain, resumed":    {ids: chain, budget: 1},
		"mixed":             {ids: mixed},
		"mixed, resumed":    {ids: mixed, budget: 13},
		"every byte":        {ids: odd, budget: 50},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &scanHost{keys: []string{"draft", "draftopen/RK1", "drafts/x", "receiptpending/RK1", "draf"}}
			var want []string
			for _, id := range tc.ids {
				k := draftKey(id)
				if !slices.Contains(h.keys, k) {
					h.keys, want = append(h.keys, k), append(want, k)
				}
			}
			sort.Strings(h.keys)
			sort.Strings(want)
			budget := tc.budget
			if budget == 0 {
				budget = recoveryScanBudget
			}
			var got []string
			after := ""
			for run := 1; ; run++ {
				if run > 100000 {
					t.Fatalf("the walk does not finish: %d keys read of %d", len(got), len(want))
				}
				w := prefixWalk{host: h, page: recoveryPage, budget: budget, after: after, fn: func(es []sdk.Entry) error {
					for _, e := range es {
						got = append(got, e.Key)
					}
					return nil
				}}
				done, err := w.walk(t.Context(), "draft/")
				if err != nil {
					t.Fatal(err)
				}
				if w.scans > budget {
					t.Fatalf("run %d made %d scans, budget %d", run, w.scans, budget)
				}
				after = w.after
				if done {
					break
				}
			}
			t.Logf("%d keys, %d scans", len(want), len(h.limits))
			if !slices.Equal(got, want) {
				t.Errorf("read %d keys, want %d\n got %q\nwant %q", len(got), len(want), clip(strings.Join(got, " "), 400), clip(strings.Join(want, " "), 400))
			}
			for _, l := range h.limits {
				if l <= 0 || l > recoveryPage+1 {
					t.Fatalf("a scan asked for %d entries; at most %d", l, recoveryPage+1)
				}
			}
		})
	}
}

// TestEscAlphabet: the walk only narrows to bytes that esc writes; a byte
// esc could write that escAlphabet misses would hide drafts from the
// recovery.
func TestEscAlphabet(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		k := esc(s)
		for i := 0; i < len(k); i++ {
			set := escAlphabet
			if i >= 1 && k[i-1] == '%' || i >= 2 && k[i-2] == '%' {
				set = escHex
			}
			if !strings.ContainsRune(set, rune(k[i])) {
				t.Fatalf("esc(%q) = %q: byte %q at %d is not in the walk's alphabet %q", s, k, k[i], i, set)
			}
		}
	}
	for b := range 256 {
		check(string([]byte{byte(b)}))
		check("%" + string([]byte{byte(b)}) + "%")
	}
	check("送货单-001@91350200MA31A0001X")
	if !sort.StringsAreSorted(strings.Split(escAlphabet, "")) || !sort.StringsAreSorted(strings.Split(escHex, "")) {
		t.Error("the walk's alphabets must be in byte order")
	}
}
