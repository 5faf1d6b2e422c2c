package api

import (
	"context"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// declaredStore holds one message of the vendor plugin vendory whose
// reply quotes fields the plugin declares personal.
type declaredStore struct {
	store.Store // only the methods below are called
}

func (declaredStore) declared(id string) store.Message {
	return store.Message{ID: id, Site: "s1", Type: "vendory.register", Key: "P001", Status: store.StatusDone, Outcome: "ok",
		Reply: []byte(`{"requestId":"` + id + `","type":"vendory.register","status":"ok","payload":{"holder_nm":"诸葛孔明","cards":[{"patient_nm":"司马相如"}],"nickname":"小明同学"}}`)}
}

func (s declaredStore) ListMessages(context.Context, string, string, string, int) ([]store.Message, error) {
	return []store.Message{s.declared("vy-1")}, nil
}

func (s declaredStore) GetMessage(_ context.Context, id string) (*store.Message, error) {
	m := s.declared(id)
	return &m, nil
}

// TestDeclaredPersonalFieldsMaskedInAdminMessages: GET /admin/messages and
// /admin/messages/{id} show the values of the fields a vendor plugin
// declares personal under keys medgate's list does not know (its
// schema's output field holder_nm, its work list's Column.Personal
// patient_nm) masked, and an undeclared field as it is.
func TestDeclaredPersonalFieldsMaskedInAdminMessages(t *testing.T) {
	t.Parallel()
	logging.Declare("vendory", &sdk.DescribeResponse{Name: "vendory",
		Operations: []sdk.Operation{{Type: "vendory.register", Schema: "vendory/register"}},
		Schemas: map[string][]byte{"vendory/register.yaml": []byte("code: register\nname: 登记\nsystem: vendory\ndirection: query\nsource: the api's tests\n" +
			"output:\n  - name: holder_nm\n    label: 持卡人\n    type: string\n    personal: true\n")},
		WorkLists:     []sdk.WorkList{{Name: "cards", Title: "cards", ListOperation: "vendory.register"}},
		WorkListViews: []sdk.WorkListView{{List: "cards", Columns: []sdk.Column{{Field: "patient_nm", Title: "患者", Personal: true}}}},
	}, nil)
	b := &storeBackend{fakeBackend: *okBackend()}
	f := newFixture(t, &declaredBackend{storeBackend: b}, Options{})
	for name, path := range map[string]string{"list": "/admin/messages?site=s1", "one": "/admin/messages/vy-1"} {
		t.Run(name, func(t *testing.T) {
			code, _, body := f.do(t, req{"GET", path, "", nil})
			if code != 200 {
				t.Fatalf("HTTP %d %s", code, body)
			}
			for _, h := range []string{"诸葛孔明", "司马相如"} {
				if strings.Contains(body, h) {
					t.Errorf("%s shows %q, the value of a field the plugin declares personal: %s", path, h, body)
				}
			}
			for _, s := range []string{`"holder_nm":"诸***"`, `"patient_nm":"司***"`, "小明同学"} {
				if !strings.Contains(body, s) {
					t.Errorf("%s lacks %q: %s", path, s, body)
				}
			}
		})
	}
}

// declaredBackend serves declaredStore.
type declaredBackend struct{ *storeBackend }

func (declaredBackend) Store() store.Store { return declaredStore{} }
