package adapter

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// deleteHook is a host that runs before once, the first time a key with
// prefix is deleted, before deleting it: what another instance does in
// the moment between a read and the delete.
type deleteHook struct {
	sdk.Host
	prefix string
	before func()
	ran    bool
}

func (h *deleteHook) Delete(ctx context.Context, k string) error {
	if strings.HasPrefix(k, h.prefix) && !h.ran {
		h.ran = true
		h.before()
	}
	return h.Host.Delete(ctx, k)
}

// The deductions downloaded for a visit before its settlement was known
// here (dlvisit/<ykc700>) stayed in the state for good once attached: the
// store grew with every such visit. The list now goes once each deduction
// in it is attached. A stop between attaching and removing (the GYU103's
// effects failing there) leaves it, and the replay attaches nothing twice;
// a deduction added by another download while the list is removed is
// attached all the same, not lost with it.
func TestPendingDeductionsGoOnceAttached(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(11 * 24 * time.Hour)
	c := newChain(t)
	h := hostFor(c.host, testSite)
	ctx := t.Context()
	v, lines := c.stay("ZY0705")
	settle := c.settlementOf(v, "ZY0705", lines)
	c.sim.Inject(wisim.Fault{Code: "GYU103", Kind: wisim.FaultLostReply})
	if r := c.handle("m-settle", "GYU103", settle, false); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("lost answer: status %s (retryable %v): %s", r.Status, r.Retryable, r.Diagnostics)
	}
	var sn string
	for _, s := range c.sim.Settlements("") {
		if s.VisitNo == v {
			sn = s.SettleNo
		}
	}
	if sn == "" {
		t.Fatal("the simulator has no settlement of the visit")
	}
	if err := c.sim.AddDeduction("KN0005", sn, 150, "国家侧扣款", day); err != nil {
		t.Fatal(err)
	}
	c.mustOK(c.send("GYD004", map[string]any{}))
	pending := func() []string {
		t.Helper()
		var nos []string
		if _, err := getJSON(ctx, h, "dlvisit/"+v, &nos); err != nil {
			t.Fatal(err)
		}
		return nos
	}
	if got := pending(); !slices.Equal(got, []string{"KN0005"}) {
		t.Fatalf("pending deductions of the visit %v, want [KN0005]", got)
	}

	// The effects of the reconciled GYU103 stop between attaching and
	// removing the list: it stays whole.
	c.impl.hook = func(p string) error {
		if p == "dlvisit-attached" {
			return errors.New("stopped")
		}
		return nil
	}
	if r := c.handle("m-settle", "GYU103", settle, true); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("effects stopped: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
	}
	c.impl.hook = nil
	if got := pending(); !slices.Equal(got, []string{"KN0005"}) {
		t.Fatalf("after a stop before the list is removed: pending %v, want [KN0005]", got)
	}

	// Another download adds a deduction of the settlement, which it found
	// unknown, just before the list is removed.
	late := dlDeduction{SettleNo: sn, Visit: v, AKB020: hospital, Amount: "20.00", DeductTime: "2025-05-13 10:00:00", At: time.Now().UTC()}
	if err := putJSON(ctx, h, "dldeduct/KN0006", late); err != nil {
		t.Fatal(err)
	}
	dh := &deleteHook{Host: h, prefix: "dlvisit/", before: func() {
		if err := c.impl.pendDownloaded(ctx, h, "KN0006", late); err != nil {
			t.Errorf("pendDownloaded: %v", err)
		}
	}}
	if err := c.impl.attachPending(ctx, dh, v, sn); err != nil {
		t.Fatal(err)
	}
	if !dh.ran {
		t.Fatal("the list was never removed")
	}
	// The replay applies the effects again.
	c.mustOK(c.handle("m-settle", "GYU103", settle, true))
	var s settleState
	if _, err := getJSON(ctx, h, "settle/"+sn, &s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Downloaded, []string{"KN0005", "KN0006"}) {
		t.Errorf("settlement %s counts downloaded deductions %v, want [KN0005 KN0006], each once", sn, s.Downloaded)
	}
	var idx monthIndex
	if _, err := getJSON(ctx, h, "month/"+hospital+"/202505", &idx); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, it := range idx.Items {
		if it.Type == itemDeduction {
			refs = append(refs, it.Ref)
		}
	}
	slices.Sort(refs)
	if !slices.Equal(refs, []string{"KN0005", "KN0006"}) {
		t.Errorf("the month lists deductions %v, want [KN0005 KN0006], each once", refs)
	}
	if e, err := h.Get(ctx, "dlvisit/"+v); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("dlvisit/%s still there (%s, %v) once every deduction in it is attached", v, e.Value, err)
	}
}

// A deduction of another settlement downloaded for a visit whose own
// settlement is known here will never be attached to it: it is not kept
// (dlvisit/<ykc700> would stay for good). One of a visit still without a
// settlement is.
func TestPendingDeductionOfAnotherSettlementIsNotKept(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	h := hostFor(c.host, testSite)
	ctx := t.Context()
	settled, _ := c.settle("ZY0706")
	open, _ := c.stay("ZY0707")
	for v, want := range map[string]bool{settled: false, open: true} {
		dl := dlDeduction{SettleNo: "JSELSEWHERE0001", Visit: v, AKB020: hospital, Amount: "10.00", DeductTime: "2025-05-13 10:00:00"}
		if err := c.impl.pendDownloaded(ctx, h, "KN0007", dl); err != nil {
			t.Fatal(err)
		}
		_, err := h.Get(ctx, "dlvisit/"+v)
		if kept := err == nil; kept != want {
			t.Errorf("visit %s: deduction of another settlement kept %v, want %v (%v)", v, kept, want, err)
		}
	}
}
