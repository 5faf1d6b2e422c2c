package mllp

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
)

// lockedBuffer is a bytes.Buffer the server's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsCarryNoPatientData sends HL7 messages with a PID segment, good
// and broken (a name split by an unescaped line break, bytes that are not
// UTF-8, a processing error that quotes the patient), to a listener that
// logs through medgate's logger (logging.New, as the daemon wires it), and
// checks that no log line carries the patient's name, ID or phone.
func TestLogsCarryNoPatientData(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	log, err := logging.New(&out, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
		if strings.Contains(env["payload"].(string), "13912345678") {
			return nil, errors.New("store: message of patient 11010519491231002X (phone 13912345678) not recorded")
		}
		return status(message.StatusOK)(env)
	}}
	s, err := New(listenerConfig(), proc, fakeMaps{}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	const msh = "MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|%s|P|2.5\r"
	frames := [][]byte{
		frame(strings.Replace(a28, "%s", "1", 1)),
		frame(strings.Replace(msh, "%s", "2", 1) + "PID|1||11010519491231002X^^^CHN^NN||欧阳\r娜娜||19491231|F\r"),
		frame(strings.Replace(msh, "%s", "3", 1) + "PID|1||110105\r19491231002X||王小梅\r"),
		frame(strings.Replace(msh, "%s", "4", 1) + "PID|1||11010519491231002X||王小梅||19491231|F|||厦门市湖滨南路55号||13912345678\r"),
		frame(strings.Replace(msh, "%s", "5", 1) + "PID|1||11010519491231002X||\xcd\xf5\xd0\xa1\xc3\xb7\r"), // 王小梅 in GBK, no MSH-18
	}
	exchange(t, s, frames...)
	got := out.String()
	for _, leak := range []string{"欧阳", "娜娜", "王小梅", "11010519491231002X", "19491231002X", "13912345678", "湖滨南路", "\\ufffd\\ufffd"} {
		if strings.Contains(got, leak) {
			t.Errorf("an MLLP log line carries %q:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "not acknowledged") {
		t.Errorf("the processing error was not logged at all:\n%s", got)
	}
}
