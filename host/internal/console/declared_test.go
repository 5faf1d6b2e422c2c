package console

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// vendorSchema marks fullName (input) and holder_nm (output) personal:
// keys pii.PersonalKey does not know.
const vendorSchema = `code: register
name: 登记
system: vendorx
direction: upload
source: the console's tests
input:
  - name: fullName
    label: 姓名
    type: string
    personal: true
  - name: nickname
    label: 昵称
    type: string
output:
  - name: holder_nm
    label: 持卡人
    type: string
    personal: true
`

// TestDeclaredPersonalFieldsMaskedOnMessagePage: a vendor plugin declares
// fields personal under keys medgate's list does not know (its schema's
// personal: true on fullName and holder_nm, its work list's
// Column.Personal on patient_nm); the message page shows their values
// masked in the request and the reply, and an undeclared field as it is.
func TestDeclaredPersonalFieldsMaskedOnMessagePage(t *testing.T) {
	t.Parallel()
	logging.Declare("vendorx", &sdk.DescribeResponse{Name: "vendorx",
		Operations: []sdk.Operation{{Type: "vendorx.register", Schema: "vendorx/register"}, {Type: "vendorx.list"}},
		Schemas:    map[string][]byte{"vendorx/register.yaml": []byte(vendorSchema)},
		WorkLists:  []sdk.WorkList{{Name: "patients", Title: "patients", ListOperation: "vendorx.list"}},
		WorkListViews: []sdk.WorkListView{{List: "patients", Columns: []sdk.Column{
			{Field: "patient_nm", Title: "患者", Personal: true}, {Field: "bed", Title: "床位"}}}},
	}, nil)
	f, c := traceFixture(t)
	now := f.clock.now()
	f.b.st.msgs = append(f.b.st.msgs,
		store.Message{ID: "vx-register", Site: "s1", Type: "vendorx.register", Key: "P001", Status: store.StatusDone, Outcome: "ok", Attempts: 1,
			Request:    []byte(`{"id":"vx-register","site":"s1","type":"vendorx.register","format":"json","payload":{"fullName":"司马相如","nickname":"小明同学"}}`),
			Reply:      []byte(`{"id":"r1","requestId":"vx-register","site":"s1","type":"vendorx.register","status":"ok","payload":{"holder_nm":"诸葛孔明"}}`),
			ReceivedAt: now.Add(-time.Minute), UpdatedAt: now.Add(-time.Minute)},
		store.Message{ID: "vx-list", Site: "s1", Type: "vendorx.list", Key: "P002", Status: store.StatusDone, Outcome: "ok", Attempts: 1,
			Request:    []byte(`{"id":"vx-list","site":"s1","type":"vendorx.list","format":"json","payload":{}}`),
			Reply:      []byte(`{"id":"r2","requestId":"vx-list","site":"s1","type":"vendorx.list","status":"ok","payload":{"items":[{"patient_nm":"欧阳修文","bed":"三床甲"}]}}`),
			ReceivedAt: now.Add(-time.Minute), UpdatedAt: now.Add(-time.Minute)},
	)
	tests := map[string]struct {
		id     string
		hidden []string
		shown  []string
	}{
		"schema input and output": {id: "vx-register", hidden: []string{"司马相如", "诸葛孔明"}, shown: []string{`"fullName": "司***"`, `"holder_nm": "诸***"`, "小明同学"}},
		"work list column":        {id: "vx-list", hidden: []string{"欧阳修文"}, shown: []string{`"patient_nm": "欧***"`, "三床甲"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := c.get("/console/message?id=" + tc.id)
			if r.code != http.StatusOK {
				t.Fatalf("%d %s", r.code, r.body)
			}
			body := html.UnescapeString(r.body)
			for _, h := range tc.hidden {
				if strings.Contains(body, h) {
					t.Errorf("the message page shows %q, the value of a field the plugin declares personal", h)
				}
			}
			for _, s := range tc.shown {
				if !strings.Contains(body, s) {
					t.Errorf("the message page lacks %q", s)
				}
			}
		})
	}
}

// TestDeclaredPersonalFieldsMaskedInUndeclaredFormReply: a form that
// declares no display shows its reply as JSON; the values of the output
// fields the operation's schema declares personal (holder_nm, a key
// medgate's list does not know) are masked there as on the message page.
func TestDeclaredPersonalFieldsMaskedInUndeclaredFormReply(t *testing.T) {
	t.Parallel()
	logging.Declare("ecard", &sdk.DescribeResponse{Name: "ecard",
		Operations: []sdk.Operation{{Type: "ecard.holder", Schema: "ecardtest/holder"}},
		Schemas: map[string][]byte{"ecardtest/holder.yaml": []byte("code: holder\nname: 持卡人\nsystem: ecardtest\ndirection: query\nsource: the console's tests\n" +
			"output:\n  - name: holder_nm\n    label: 持卡人\n    type: string\n    personal: true\n")},
	}, nil)
	f := newFixture(t, testToken)
	f.b.plugins[0].Views.Forms = []sdk.Form{{Name: "holder", Title: "持卡人 Holder", Operation: "ecard.holder", Key: "cardNo",
		Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}}}}
	f.b.handlers["ecard.holder"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"cardNo": "880100000000013", "holder_nm": "诸葛孔明", "nickname": "小明同学"})
	}
	c := f.client()
	c.login("收费员 01")
	r := c.post("/console/form/ecard/holder", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "csrf": {c.csrf}})
	body := html.UnescapeString(r.body)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, body)
	}
	if strings.Contains(body, "诸葛孔明") {
		t.Errorf("the form's reply shows %q, the value of a field the plugin declares personal", "诸葛孔明")
	}
	for _, want := range []string{`"holder_nm": "诸***"`, "小明同学"} {
		if !strings.Contains(body, want) {
			t.Errorf("the form's reply lacks %q", want)
		}
	}
}
