package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/plugins/sdk"
)

const (
	maskID     = "11010519491231002X"
	maskMobile = "13812345678"
	maskName   = "张三丰"
)

// TestShownValuesMasked: every value a command prints from a payload is
// masked as the console masks a cell (ID and mobile numbers, a name after
// 姓名, whatever column holds them; console cellText), not only those of
// columns declared personal, and a payload the command declares nothing
// for is printed masked as the console shows such a result
// (logging.MaskJSON: values of personal keys too); with -reveal granted
// they are shown as they came.
func TestShownValuesMasked(t *testing.T) {
	t.Parallel()
	payload := `{"headline":"持卡人手机 ` + maskMobile + `","note":"姓名：` + maskName + `","name":"` + maskName + `",` +
		`"rows":[{"doc":"D1","reason":"证件号 ` + maskID + ` 不符"}]}`
	declared := sdk.Display{Headline: "headline", Fields: []sdk.Column{{Field: "note", Title: "备注"}},
		Rows: "rows", Columns: []sdk.Column{{Field: "doc", Title: "单据"}, {Field: "reason", Title: "原因"}}}
	for name, tc := range map[string]struct {
		display sdk.Display
		reveal  bool
		want    []string
		hidden  []string
	}{
		"headline, field and table": {display: declared, want: []string{"138****5678", "110***********002X", "D1"},
			hidden: []string{maskMobile, maskID, maskName}},
		"nothing declared": {want: []string{"138****5678", "110***********002X", `"name": "张**"`},
			hidden: []string{maskMobile, maskID, maskName}},
		"revealed, declared":         {display: declared, reveal: true, want: []string{maskMobile, maskID, maskName}},
		"revealed, nothing declared": {reveal: true, want: []string{maskMobile, maskID, maskName}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := showPayload(&out, tc.display, []byte(payload), tc.reveal); err != nil {
				t.Fatal(err)
			}
			checkShown(t, out.String(), tc.want, tc.hidden)
		})
	}
}

// TestLocalCommandOutputMasked: what a local command's plugin writes (its
// output and its diagnostics) is its own text and may quote a patient:
// masked as the console masks a plugin's words (logging.Mask), shown as
// it came with -reveal granted.
func TestLocalCommandOutputMasked(t *testing.T) {
	t.Parallel()
	r := &sdk.RunCommandResponse{Output: "imported 1 row: 姓名：" + maskName + " 证件号 " + maskID + "\n"}
	r.Diagnostics.Warn("phone", "format", "手机 "+maskMobile+" looks wrong", "check the row")
	for name, tc := range map[string]struct {
		reveal bool
		want   []string
		hidden []string
	}{
		"masked":   {want: []string{"imported 1 row", "110***********002X", "138****5678", "warning: phone"}, hidden: []string{maskID, maskMobile, maskName}},
		"revealed": {reveal: true, want: []string{maskID, maskMobile, maskName}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if err := showLocal(&out, &errOut, "acme", "import", "s1", sdk.Display{}, r, tc.reveal); err != nil {
				t.Fatal(err)
			}
			checkShown(t, out.String()+errOut.String(), tc.want, tc.hidden)
		})
	}
}

// TestProgressLinesMasked: a command's progress lines are the plugin's
// words: masked as the console masks them, shown as they came with
// -reveal granted; lines of other messages are not shown.
func TestProgressLinesMasked(t *testing.T) {
	t.Parallel()
	p := sdk.Progress{Event: "acme.progress", Match: "id", Line: "line", Done: "done"}
	events := []string{
		`{"type":"acme.progress","payload":{"id":"other","line":"other message"}}`,
		`{"type":"acme.progress","payload":{"id":"m1","line":"row 1: 手机 ` + maskMobile + `"}}`,
		`{"type":"acme.progress","payload":{"id":"m1","line":"证件号 ` + maskID + ` written","done":true}}`,
	}
	for name, tc := range map[string]struct {
		reveal bool
		want   []string
		hidden []string
	}{
		"masked":   {want: []string{"row 1", "138****5678", "110***********002X"}, hidden: []string{maskMobile, maskID, "other message"}},
		"revealed": {reveal: true, want: []string{maskMobile, maskID}, hidden: []string{"other message"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			i := 0
			next := func(context.Context) (*bus.Message, error) {
				if i == len(events) {
					return nil, io.EOF
				}
				i++
				return &bus.Message{Value: []byte(events[i-1])}, nil
			}
			var out bytes.Buffer
			done := make(chan struct{})
			followProgress(t.Context(), next, p, "m1", &out, tc.reveal, done)
			select {
			case <-done:
			default:
				t.Error("done not closed after the event marked done")
			}
			checkShown(t, out.String(), tc.want, tc.hidden)
		})
	}
}

func checkShown(t *testing.T, got string, want, hidden []string) {
	t.Helper()
	for _, v := range hidden {
		if strings.Contains(got, v) {
			t.Errorf("printed %q:\n%s", v, got)
		}
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}
