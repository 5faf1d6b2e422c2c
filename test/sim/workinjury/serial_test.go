package workinjury

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// TestSerialRequired: a request without a serial (报文流水号), missing,
// empty or of white space alone (spaces, full-width spaces U+3000, tabs
// and line breaks, a zero-width space), is refused with E0003 and not
// recorded: sent again it is refused the same way, not as a duplicate
// (E0002), and the transaction is not processed. A serial with more than
// white space in it is a serial.
func TestSerialRequired(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		serial  string
		want    string // answer code
		wantMsg string // in the refusal's message
	}{
		"empty":            {serial: "", want: "E0003", wantMsg: "缺少报文流水号"},
		"ASCII spaces":     {serial: "   ", want: "E0003", wantMsg: "只有空白字符"},
		"full-width space": {serial: "\u3000\u3000", want: "E0003", wantMsg: "只有空白字符"},
		"tabs and CRLF":    {serial: "\t\r\n", want: "E0003", wantMsg: "只有空白字符"},
		"zero-width space": {serial: "\u200b", want: "E0003", wantMsg: "只有空白字符"},
		"content":          {serial: " T1\u3000", want: "0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, nil)
			for try := 1; try <= 2; try++ {
				code, msg := sendSerial(t, c, "GYU000", tc.serial, gyu000)
				if try == 2 && tc.want == "0" {
					if code != "E0002" {
						t.Fatalf("a serial sent twice: %s, want E0002", code)
					}
					break
				}
				if code != tc.want || !strings.Contains(msg, tc.wantMsg) {
					t.Fatalf("try %d: answered %s %q, want %s with %q", try, code, msg, tc.want, tc.wantMsg)
				}
			}
			c.srv.mu.Lock()
			logged := len(c.srv.txlog)
			c.srv.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[tc.want == "0"]; logged != want {
				t.Errorf("%d transactions recorded, want %d", logged, want)
			}
		})
	}
}

// sendSerial sends plain as transaction code under serial and returns the
// answer's code ("0" for success) and message.
func sendSerial(t *testing.T, c *client, code, serial string, plain []byte) (string, string) {
	t.Helper()
	env, err := smenvelope.Seal(c.opts, c.keys, map[string]string{"infno": code, "msgid": serial}, plain)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
	}
	_, _, err = smenvelope.Open(c.opts, c.keys, rec.Body.Bytes())
	var be *smenvelope.BusinessError
	if errors.As(err, &be) {
		return be.Code, be.Message
	}
	if err != nil {
		t.Fatalf("open the answer: %v", err)
	}
	return "0", ""
}
