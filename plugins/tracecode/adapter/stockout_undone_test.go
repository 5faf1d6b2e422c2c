package adapter_test

import (
	"net"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// closedURL returns the address of a port nothing listens on: a request
// to it is never sent.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// TestStockOutThatDidNotHappenHoldsNoCode: a stock-out that did not happen
// — refused by the platform, refused before it was processed (the
// credentials), or never sent (the platform unreachable, whether the host
// retries the message or gives up on it) — leaves its codes in stock, so
// the corrected stock-out of the same codes succeeds; before, only a
// business refusal put them back, and the others kept them "out" for good,
// refusing the correction locally. A stock-out that was sent, or whose
// outcome is unknown, still holds them: the correction is refused naming
// it.
func TestStockOutThatDidNotHappenHoldsNoCode(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// arrange prepares the platform (or the site) for the first
		// stock-out; after undoes it.
		arrange, after func(e *env)
		extraCode      bool // the first stock-out also lists a code the platform refuses
		status         sdk.Status
		released       bool
	}{
		"refused by the platform": {extraCode: true, status: sdk.StatusRejected, released: true},
		"credentials refused": {
			arrange: func(e *env) { e.sim.Fail("upload", tracecode.FailAuth, 2) },
			status:  sdk.StatusRejected, released: true,
		},
		"token refused": {
			arrange: func(e *env) { e.sim.ExpireTokens(); e.sim.Fail("token", tracecode.FailAuth, 1) },
			status:  sdk.StatusRejected, released: true,
		},
		"platform unreachable, never sent": {
			arrange: func(e *env) {
				if ds := e.configure(baseSettings(closedURL(e.t), e.dir)); ds.HasError() {
					e.t.Fatal(ds)
				}
			},
			after: func(e *env) {
				if ds := e.configure(baseSettings(e.url, e.dir)); ds.HasError() {
					e.t.Fatal(ds)
				}
			},
			status: sdk.StatusFailed, released: true,
		},
		// The token request unanswered: the document was never sent, so
		// nothing is to reconcile; before, the token's unknown outcome was
		// taken for the document's and its codes were held for good.
		"token request unanswered, never sent": {
			arrange: func(e *env) { e.sim.ExpireTokens(); e.sim.Fail("token", tracecode.FailHTTP500, 1) },
			status:  sdk.StatusFailed, released: true,
		},
		"token answer lost, never sent": {
			arrange: func(e *env) { e.sim.ExpireTokens(); e.sim.Fail("token", tracecode.FailAfter, 1) },
			status:  sdk.StatusFailed, released: true,
		},
		"token refused, new token unanswered, never sent": {
			arrange: func(e *env) { e.sim.Fail("upload", tracecode.FailAuth, 1); e.sim.Fail("token", tracecode.FailDrop, 1) },
			status:  sdk.StatusFailed, released: true,
		},
		"sent and accepted": {status: sdk.StatusOK},
		"processed, answer lost (outcome unknown)": {
			arrange: func(e *env) { e.sim.Fail("upload", tracecode.FailAfter, 1) },
			status:  sdk.StatusFailed,
		},
		"HTTP 500 (outcome unknown)": {
			arrange: func(e *env) { e.sim.Fail("upload", tracecode.FailHTTP500, 1) },
			status:  sdk.StatusFailed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) { s["consumableCodes"] = "any" })
			c1, c2 := drugCode("8100001", 401), drugCode("8100001", 402)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-U", "102", line(1, "2", c1, c2))), sdk.StatusOK)
			codes := []string{c1, c2}
			if tc.extraCode {
				codes = append(codes, "UDI-0001") // not a drug code nor GS1: the simulator refuses it
			}
			if tc.arrange != nil {
				tc.arrange(e)
			}
			r := e.send(adapter.OpStockOutUpload, bill("CK-U1", "202", line(1, "3", codes...)))
			if r.Status != tc.status {
				t.Fatalf("first stock-out: status %s, want %s: %s", r.Status, tc.status, r.Diagnostics)
			}
			if tc.after != nil {
				tc.after(e)
			}
			r = e.send(adapter.OpStockOutUpload, bill("CK-U2", "202", line(1, "2", c1, c2)))
			if tc.released {
				must[uploadReply](t, r, sdk.StatusOK)
				if w := warnings(r); len(w) > 0 {
					t.Errorf("the codes were not put back as they were: %s", w[0].Message())
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-U1") {
				t.Fatalf("corrected stock-out after %s: status %s, %s; want invalid naming CK-U1", name, r.Status, r.Diagnostics)
			}
		})
	}
}

// TestStockOutNotSentIsTakenAgainByItsRetry: a stock-out not sent (the
// platform unreachable) put its codes back; the retry of the same message
// takes them again before it sends, so another document cannot take them
// after it.
func TestStockOutNotSentIsTakenAgainByItsRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := drugCode("8100001", 501)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-V", "102", line(1, "1", c))), sdk.StatusOK)
	if ds := e.configure(baseSettings(closedURL(t), e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	if r := e.sendID("retry-1", adapter.OpStockOutUpload, bill("CK-V1", "202", line(1, "1", c)), false); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("status %s (retryable %v), want a retryable failure: %s", r.Status, r.Retryable, r.Diagnostics)
	}
	if ds := e.configure(baseSettings(e.url, e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	r := e.sendID("retry-1", adapter.OpStockOutUpload, bill("CK-V1", "202", line(1, "1", c)), false)
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("warnings: %s", w[0].Message())
	}
	r = e.send(adapter.OpStockOutUpload, bill("CK-V2", "202", line(1, "1", c)))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c, "CK-V1") {
		t.Fatalf("code stocked out twice: status %s, %s", r.Status, r.Diagnostics)
	}
}

// TestStockOutFailedOnThePlatformReleasesTheEarlierAttempt: a stock-out
// reaches the platform, which fails to process it (status 4), and the
// answer is lost; the document is then sent with other content under its
// number. Reconciled as failed, it puts back the codes of both: before,
// only the second's were put back, and a code only the first listed
// stayed out for good.
func TestStockOutFailedOnThePlatformReleasesTheEarlierAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c1, c2 := drugCode("8100001", 601), drugCode("8100001", 602)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-W", "102", line(1, "2", c1, c2))), sdk.StatusOK)
	e.sim.Fail("upload", tracecode.FailProcessing, 1)
	if r := e.send(adapter.OpStockOutUpload, bill("CK-W1", "202", line(1, "2", c1, c2))); r.Status != sdk.StatusFailed {
		t.Fatalf("lost answer: %s %s", r.Status, r.Diagnostics)
	}
	if r := e.send(adapter.OpStockOutUpload, bill("CK-W1", "202", line(1, "1", c1))); r.Status != sdk.StatusRejected {
		t.Fatalf("reconciled as failed on the platform: %s %s", r.Status, r.Diagnostics)
	}
	r := e.send(adapter.OpStockOutUpload, bill("CK-W2", "202", line(1, "2", c1, c2)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("warnings: %s", w[0].Message())
	}
}

// TestStockOutNotOnThePlatformReleasesTheEarlierAttempt: a stock-out
// never reached the platform (no answer), and the document is then sent
// with fewer codes under its number. Reconciled as not on the platform,
// the earlier attempt did not happen: a code only it listed is back in
// stock, so another document takes it; before, it stayed out for good,
// held by a document that never listed it on the platform.
func TestStockOutNotOnThePlatformReleasesTheEarlierAttempt(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fail string // how the first attempt got no answer
	}{
		"HTTP 500, not processed": {fail: tracecode.FailHTTP500},
		"connection dropped":      {fail: tracecode.FailDrop},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c1, c2 := drugCode("8100001", 701), drugCode("8100001", 702)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-X", "102", line(1, "2", c1, c2))), sdk.StatusOK)
			e.sim.Fail("upload", tc.fail, 1)
			if r := e.send(adapter.OpStockOutUpload, bill("CK-X1", "202", line(1, "2", c1, c2))); r.Status != sdk.StatusFailed {
				t.Fatalf("no answer: %s %s", r.Status, r.Diagnostics)
			}
			must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-X1", "202", line(1, "1", c1))), sdk.StatusOK)
			r := e.send(adapter.OpStockOutUpload, bill("CK-X2", "202", line(1, "1", c2)))
			must[uploadReply](t, r, sdk.StatusOK)
			if w := warnings(r); len(w) > 0 {
				t.Errorf("code %s was not put back as it was: %s", c2, w[0].Message())
			}
			if u, ok := e.sim.Uploaded("CK-X2"); !ok || len(u.Codes) != 1 || u.Codes[0] != c2 {
				t.Errorf("the platform has CK-X2 = %+v (%v), want it with %s", u, ok, c2)
			}
		})
	}
}
