package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestCodesShownWithTheirMeaning: a value whose column declares its code
// (sdk.Column.Codes) is shown as "meaning (code)" wherever the console
// shows declared columns: a form's result (accepted and refused), a work
// list's cells, a document's header, lines and history. The meaning is
// escaped like any other text, a value the column does not declare is
// shown as it is.
func TestCodesShownWithTheirMeaning(t *testing.T) {
	t.Parallel()
	results := map[string]string{"expired": "二维码已过期 <b>expired</b>", "ok": "有效 valid"}
	statuses := map[string]string{"active": "有效 active", "open": "待审核 open"}
	ops := map[string]string{"setQty": "改数量 set quantity"}
	scan := sdk.Form{Name: "scan", Title: "扫码 Scan", Operation: "ecard.scan", Scanner: true,
		Fields: []sdk.Argument{{Name: "text", Type: sdk.SettingString, Required: true}},
		Result: sdk.Display{Fields: []sdk.Column{{Field: "result", Title: "结果 result", Codes: results}, {Field: "cardNo", Title: "卡号"}}}}
	cards := recentCards
	cards.Columns = append(slices.Clone(recentCards.Columns), sdk.Column{Field: "status", Title: "状态 status", Codes: statuses})
	doc := draftDoc
	doc.Header = append(slices.Clone(draftDoc.Header), sdk.Column{Field: "status", Title: "状态", Codes: statuses})
	doc.LineColumns = append(slices.Clone(draftDoc.LineColumns), sdk.Column{Field: "unit", Title: "单位", Codes: map[string]string{"盒": "盒子 box"}})
	history := *draftDoc.History
	history.Columns = slices.Clone(history.Columns)
	history.Columns[2].Codes = ops
	doc.History = &history
	scanReply := func(status, result string) func(json.RawMessage) *message.Reply {
		return func(json.RawMessage) *message.Reply {
			b, _ := json.Marshal(map[string]any{"result": result, "cardNo": "880100000000013"})
			r := &message.Reply{Status: status, Payload: b}
			if status != "ok" {
				r.Errors = []message.ReplyError{{Field: "$.text", Rule: result, Message: "the code has expired"}}
			}
			return r
		}
	}
	tests := map[string]struct {
		status, result string // the scan's reply
		get            func(c *client) resp
		want           []string
		not            []string
	}{
		"accepted scan": {status: "ok", result: "ok",
			get: func(c *client) resp {
				return c.post("/console/form/ecard/scan", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "text": {"MGE1X"}})
			},
			want: []string{"有效 valid (ok)"}},
		"refused scan, meaning escaped": {status: "invalid", result: "expired",
			get: func(c *client) resp {
				return c.post("/console/form/ecard/scan", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "text": {"MGE1X"}})
			},
			want: []string{"二维码已过期 &lt;b&gt;expired&lt;/b&gt; (expired)"}, not: []string{"<b>expired"}},
		"code not declared": {status: "invalid", result: "tampered",
			get: func(c *client) resp {
				return c.post("/console/form/ecard/scan", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "text": {"MGE1X"}})
			},
			want: []string{">tampered<"}, not: []string{"(tampered)"}},
		"work list cell": {
			get:  func(c *client) resp { return c.get("/console/worklists?plugin=ecard&list=recent-cards") },
			want: []string{"有效 active (active)"}},
		"document header, line and history": {
			get:  func(c *client) resp { return c.get("/console/document/tracecode/draft?site=s1&id=SUP-001") },
			want: []string{"待审核 open (open)", "盒子 box (盒)", "改数量 set quantity (setQty)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.plugins[0].Views.Forms = append(f.b.plugins[0].Views.Forms, scan)
			f.b.plugins[0].Views.WorkListViews = []sdk.WorkListView{cards}
			f.b.plugins[1].Views.Documents = []sdk.DocumentView{doc}
			f.b.handlers["ecard.scan"] = scanReply(tc.status, tc.result)
			c := f.client()
			c.login("cash01")
			r := tc.get(c)
			if r.code != http.StatusOK {
				t.Fatalf("status %d:\n%s", r.code, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("the page lacks %q:\n%s", w, r.body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(r.body, n) {
					t.Errorf("the page shows %q", n)
				}
			}
		})
	}
}
