package console

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCellTextOfAListOfTexts: a result field or cell holding a list of
// texts, such as an e-card's linked temporary cards on the 电子卡查询 page,
// shows its items joined by 、, each masked like any text, and an empty
// list nothing (the field is then left out); before, the page showed the
// JSON, ["99000123"] and [], to the cashier. Other values are shown as
// before.
func TestCellTextOfAListOfTexts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`["99000123"]`, "99000123"},
		{`["99000123","99000124"]`, "99000123、99000124"},
		{`[]`, ""},
		{`null`, ""},
		{`["13812345678"]`, "138****5678"},
		{`[1,2]`, "[1,2]"},
		{`"99000123"`, "99000123"},
	} {
		if got := cellText(json.RawMessage(tc.in), time.UTC); got != tc.want {
			t.Errorf("cellText(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A long list is cut like any long cell.
	long, _ := json.Marshal(strings.Split(strings.Repeat("99000123,", 40), ","))
	if got := cellText(long, time.UTC); utf8.RuneCountInString(got) != 201 || !strings.HasSuffix(got, "…") || strings.Contains(got, `"`) {
		t.Errorf("cellText of a list of 40 cards = %q (%d characters), want its first 200 characters and …", got, utf8.RuneCountInString(got))
	}
}
