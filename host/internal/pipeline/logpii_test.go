package pipeline

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestExternalRefusalTextNotInLogs: external answers quoting a person (an
// ID number, a name after 姓名 and 患者, an old 15-digit ID number, a
// social-security card number, a birth date) come back from plugins as a
// rejected reply, as retryable failures until the message is given up
// (the retry WARNs and the DLQ), and as an error of the call; with the
// daemon's logger (logging.New at debug), no log line carries them, while
// the rejected reply keeps the external message.
func TestExternalRefusalTextNotInLogs(t *testing.T) {
	t.Parallel()
	const text = "身份证号 350203198001011234 的人员无有效备案；患者张三丰（姓名张三丰，旧证号350203800101123，社保卡号D15629456，出生日期1980-01-01）"
	var out logBuffer
	log, err := logging.New(&out, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub := &memPub{}
	p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: log,
		MaxPayloadBytes: 1 << 10, MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		CallTimeout: time.Second, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ext := &sdk.External{System: "tracecode", Code: "E1", Message: text}
	rejected := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return &sdk.HandleResponse{Status: sdk.StatusRejected, External: ext,
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "refused", Detail: "code E1: " + text}}}, nil
	}
	retryable := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, External: ext,
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "not trusted", Detail: text}}}, nil
	}
	erring := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return nil, errors.New("external answer: " + text)
	}
	h := byID{
		"m-rejected":  {answers: answers(rejected)},
		"m-retryable": {answers: repeat(3, retryable)},
		"m-err":       {answers: repeat(3, erring)},
	}
	p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
	for _, id := range []string{"m-rejected", "m-retryable", "m-err"} {
		in := Input{Key: "k-" + id, Value: []byte(`{"id":"` + id + `","site":"s1","type":"x.do","occurredAt":"` + time.Now().Format(time.RFC3339) + `","payload":{}}`)}
		if _, err := p.Process(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	got := out.String()
	for _, leak := range []string{"350203198001011234", "张三丰", "三丰", "350203800101123", "D15629456", "15629456", "1980-01-01"} {
		if strings.Contains(got, leak) {
			t.Errorf("a pipeline log line carries %q:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "plugin call failed") {
		t.Errorf("the failing calls were not logged:\n%s", got)
	}
	var kept bool
	for _, r := range pub.on("replies") {
		kept = kept || strings.Contains(string(r.value), "张三丰")
	}
	if !kept {
		t.Errorf("no reply keeps the external message")
	}
}
