package pipeline

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// logBuffer is a bytes.Buffer the processor's goroutines may write to.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsCarryNoPersonalData drives messages with a patient's data
// through the processor logging via medgate's logger (logging.New, as the
// daemon wires it): plugin calls that fail with errors quoting the
// patient, a duplicate, an id reused for another message, a payload that
// is not JSON, a reply too large to publish whole, and checks that no log
// line carries the patient's name, ID number, phone or a token.
func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
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
	quoting := func(req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return nil, errors.New("peer refused patient 11010519491231002X phone 13812345678: token=tk_9f8e7d6c5b4a39281706; body " + string(req.Payload))
	}
	big := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"name":"欧阳娜娜","idNumber":"11010519491231002X","pad":"` + strings.Repeat("x", 4000) + `"}`)}, nil
	}
	h := byID{
		"m-quote": {answers: answers(quoting, quoting, quoting)},
		"m-big":   {answers: answers(big)},
		"m-ok":    {answers: answers(ok)},
	}
	p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
	const payload = `{"name":"欧阳娜娜","idNumber":"11010519491231002X","phone":"13812345678","address":"厦门市湖滨南路55号"}`
	env := func(id string) []byte {
		return []byte(`{"id":"` + id + `","site":"s1","type":"x.do","occurredAt":"` + time.Now().Format(time.RFC3339) + `","payload":` + payload + `}`)
	}
	for _, in := range []Input{
		{Value: env("m-quote"), Key: "11010519491231002X"},
		{Value: env("m-big"), Key: "13812345678"},
		{Value: env("m-ok"), Key: "k"},
		{Value: env("m-ok"), Key: "k"}, // a duplicate
		{Value: []byte(`{"id":"m-ok","site":"s1","type":"x.other","payload":` + payload + `}`), Key: "k"}, // id reused
		{Value: []byte(`{"id":"m-bad","site":"s1","type":"x.do","payload":{"name":"欧阳娜娜","idNumber":11010519491231002X}}`), Key: "k"},
	} {
		if _, err := p.Process(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	got := out.String()
	for _, leak := range []string{"欧阳娜娜", "11010519491231002X", "13812345678", "湖滨南路55号", "tk_9f8e7d6c5b4a39281706"} {
		if strings.Contains(got, leak) {
			t.Errorf("a pipeline log line carries %q:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "plugin call failed") {
		t.Errorf("the failing plugin calls were not logged:\n%s", got)
	}
}
