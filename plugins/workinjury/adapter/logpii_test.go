package adapter

import (
	"strings"
	"testing"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// refusalText is a refusal as the external systems word them, quoting a
// person: an ID number, a name after 姓名 and after 患者, an old 15-digit
// ID number, a social-security card number and a birth date.
const refusalText = "身份证号 350203198001011234 的人员无有效备案；患者张三丰（姓名张三丰，旧证号350203800101123，社保卡号D15629456，出生日期1980-01-01）"

// refusalLeaks are the parts of refusalText no log line may carry.
var refusalLeaks = []string{"350203198001011234", "张三丰", "三丰", "350203800101123", "D15629456", "15629456", "1980-01-01"}

// TestRefusalTextNotInLogs: a national refusal quoting a person reaches
// the adapter's log lines (the WARNs of a refused and of an untrusted
// download feedback, retried) and the job's result the host logs masked: no ID
// number, name, card number or birth date in them.
func TestRefusalTextNotInLogs(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		kind  wisim.FaultKind
		times int
	}{
		"signed refusal, every try": {wisim.FaultBusiness, feedbackRefusedTries},
		"unsigned refusal, once":    {wisim.FaultUnsigned, 1},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSettings(setFeedbackBackoff, "10ms"), withSeed(func(s *wisim.Server) {
				s.AddApplication(wisim.SampleApplication("LP", 1, "350200"))
			}))
			logs := &logBuffer{}
			e.connectLogged(logs)
			e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: tc.kind, Times: tc.times, ErrCode: "E2001", ErrMessage: refusalText})
			r := e.runJob(JobFilingApplications)
			if logs.count("GYU008") == 0 && logs.count("feedback") == 0 {
				t.Fatalf("the refused feedback was not logged:\n%s", logs.buf.String())
			}
			seen := logs.buf.String() + "\n" + r.Summary + "\n" + r.Diagnostics.String()
			for _, leak := range refusalLeaks {
				if strings.Contains(seen, leak) {
					t.Errorf("%q reaches the logs or the job's error:\n%s", leak, seen)
				}
			}
		})
	}
}
