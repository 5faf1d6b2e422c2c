package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// killPluginOf SIGKILLs the plugin processes running binary exe whose
// parent is the medgate started with the configuration in cfgDir (other
// tests run the same binary), and returns how many it killed.
func killPluginOf(exe, cfgDir string) int {
	dirs, _ := os.ReadDir("/proc")
	n := 0
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err != nil || target != exe {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut after ")".
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", fields[1], "cmdline"))
		if !strings.Contains(string(cmdline), cfgDir) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// TestWorkInjuryKilledBetweenSendAndOutcome kills the plugin while the
// national system has processed an upload and its answer is on the way, for
// the admission, a batch of fee lines, the settlement, a deduction and the
// monthly settlement: after the restart each is reconciled (GYD053) and the
// national ledger holds it exactly once.
func TestWorkInjuryKilledBetweenSendAndOutcome(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the plugin process through /proc, which only Linux has")
	}
	t.Parallel()
	e := startHIS(t)
	const akb020 = "H35020300123"
	p := e.newPatient(hisSite, "KILL", 7, akb020, "1", "1")
	admitted := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := feeLines(p, admitted.Add(time.Minute), 1, 50)
	s := totals(lines)
	var ykc700 string

	killDuring := func(code string, req harness.Request) harness.Reply {
		t.Helper()
		reconciled := len(e.sim.Received("GYD053"))
		f := e.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultHold, After: true})
		e.p.Send(p.inpatientNo, req)
		// Wait until the national system processed it; a reply first means
		// it never got there (refused by medgate, say): nothing to kill.
		harness.Eventually(t, 2*time.Minute, code+" processed by the national system", func() bool {
			select {
			case <-f.Reached():
				return true
			default:
			}
			msgs, _ := harness.ReadTopic(e.cfg.Brokers, e.cfg.Topics().Replies, 0, 10*time.Second)
			for _, m := range msgs {
				var r harness.Reply
				if json.Unmarshal(m.Value, &r) == nil && r.RequestID == req.ID {
					t.Fatalf("%s: replied %s before the national system processed it: %+v %+v", code, r.Status, r.Errors, r.External)
				}
			}
			return false
		})
		if n := killPluginOf(e.bins.Plugins["workinjury"], e.cfg.Dir); n != 1 {
			t.Fatalf("%s: killed %d plugin processes, want 1", code, n)
		}
		f.Release()
		r := e.p.Replies([]string{req.ID}, 3*time.Minute)[req.ID]
		expect(t, r, "ok")
		if !e.sim.Seen(func(q wisim.Request) bool { return q.Code == "GYD053" && q.Input["orig_code"] == code }) || len(e.sim.Received("GYD053")) == reconciled {
			t.Errorf("%s: no GYD053 reconciliation after the kill", code)
		}
		return r
	}

	r := killDuring("GYU101", e.hl7(e.id("kill-admit"), "GYU101", admitHL7(p, admitted)))
	ykc700, _ = expect(t, r, "ok")["ykc700"].(string)
	if adm := e.sim.Admissions(akb020, p.inpatientNo); len(adm) != 1 || adm[0].VisitNo != ykc700 {
		t.Fatalf("national admissions after the kill: %+v, want exactly one, %s", adm, ykc700)
	}

	r = killDuring("GYU102", e.hl7(e.id("kill-fees"), "GYU102", chargesHL7(p, ykc700, time.Now(), lines)))
	expect(t, r, "ok")
	if d := e.sim.Details(ykc700); len(d) != len(lines) {
		t.Fatalf("national fee lines after the kill: %d, want exactly %d", len(d), len(lines))
	}

	settledAt := time.Now().Truncate(time.Second)
	r = killDuring("GYU103", e.hl7(e.id("kill-settle"), "GYU103", dischargeHL7(p, ykc700, admitted, settledAt, s)))
	settleNo, _ := expect(t, r, "ok")["settle_no"].(string)
	if sts := e.sim.Settlements(p.aac002); len(sts) != 1 || sts[0].SettleNo != settleNo {
		t.Fatalf("national settlements after the kill: %+v, want exactly one, %s", sts, settleNo)
	}

	deductedAt := stamp(time.Now())
	killDuring("GYU004", e.raw(hisSite, e.id("kill-deduct"), "GYU004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KKKILL0000001",
		"settle_no": settleNo, "akb020": akb020, "deduct_amount": "5.00", "deduct_reason": "重复收费", "deduct_time": deductedAt}},
		"aae011": "社保审核员", "aae036": deductedAt}))
	if ds := e.sim.Deductions(settleNo); len(ds) != 1 || int64(ds[0].Amount) != 500 {
		t.Fatalf("national deductions after the kill: %+v, want exactly one of 5.00", ds)
	}

	var month monthOf
	month.settled(settleNo, p.aac002, s, settledAt)
	month.deduction("3", "KKKILL0000001", settleNo, 500, deductedAt)
	r = killDuring("GYU003", e.raw(hisSite, e.id("kill-monthly"), "GYU003", month.input(akb020)))
	monthNo, _ := expect(t, r, "ok")["month_settle_no"].(string)
	if ms := e.sim.Monthlies(akb020, ""); len(ms) != 1 || ms[0].MonthlyNo != monthNo {
		t.Fatalf("national monthly settlements after the kill: %+v, want exactly one, %s", ms, monthNo)
	}
}
