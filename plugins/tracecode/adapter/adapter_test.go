package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/schemas"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := adapter.New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "tracecode" || len(d.Operations) != 15 || len(d.Jobs) != 2 {
		t.Fatalf("describe = %s with %d operations, %d jobs", d.Name, len(d.Operations), len(d.Jobs))
	}
	var queries []string
	for _, op := range d.Operations {
		if !strings.HasPrefix(op.Type, "tracecode.") || op.Summary == "" {
			t.Errorf("operation %+v", op)
		}
		if op.Query {
			queries = append(queries, op.Type)
		}
		if op.Schema != "" {
			sys, code, _ := strings.Cut(op.Schema, "/")
			if _, ok := schemas.Embedded().Get(sys, code); !ok {
				t.Errorf("%s names schema %s, which is not embedded", op.Type, op.Schema)
			}
		}
	}
	// Only the reads are pure queries: uploads, the token, the stock-in
	// fetch (it stores documents and creates drafts), draft changes and
	// the export (it writes a file) are not.
	wantQueries := []string{adapter.OpDraftsList, adapter.OpDraftGet, adapter.OpCodesByBill, adapter.OpCodesSmallest, adapter.OpCodeSmallest, adapter.OpHeldList}
	if fmt.Sprint(queries) != fmt.Sprint(wantQueries) {
		t.Errorf("operations declared Query: %v, want %v", queries, wantQueries)
	}
	seen := map[string]bool{}
	for _, s := range d.Settings {
		if seen[s.Name] {
			t.Errorf("setting %s declared twice", s.Name)
		}
		seen[s.Name] = true
		if s.Description == "" {
			t.Errorf("setting %s has no description", s.Name)
		}
	}
	if diff := cmp.Diff([]sdk.WorkList{{Name: "draft-receipts", Title: "待审核入库单 (draft receipts)", ListOperation: "tracecode.drafts.list",
		Description: d.WorkLists[0].Description}, {Name: "held-stockouts", Title: "结果未知的出库单 (held stock-outs)", ListOperation: "tracecode.stockouts.held",
		Description: d.WorkLists[1].Description}}, d.WorkLists); diff != "" {
		t.Errorf("work lists (-want +got):\n%s", diff)
	}
}

func TestConfigureListsEveryProblem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ds := e.configure(map[string]string{"baseUrl": "ftp://x", "appId": "a", "appSecret": "", "orgCode": "o", "exportDir": e.dir,
		"paths": "teleport=/x", "fieldNames": "a=x,b=x", "consumableCodes": "udi", "pageSize": "0", "productItemMap": "81=YP",
		"miEnabled": "true", "miBaseURL": "", "miFixmedinsCode": "short"})
	for _, want := range []string{"appSecret", "paths", "fieldNames", "consumableCodes", "pageSize", "productItemMap", "miBaseURL", "miFixmedinsCode"} {
		found := false
		for _, d := range ds {
			if d.Field == want && d.Severity == sdk.SeverityError {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s in:\n%s", want, ds)
		}
	}
	// The previous configuration stays in force.
	r := e.send(adapter.OpToken, map[string]any{})
	must[map[string]any](t, r, sdk.StatusOK)
}

func TestTokenOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.send(adapter.OpToken, map[string]any{})
	out := must[map[string]any](t, r, sdk.StatusOK)
	if out["refreshed"] != true || out["expiresAt"] == nil {
		t.Fatalf("token reply %v", out)
	}
	if len(out) != 2 {
		t.Errorf("the token reply carries more than the expiry: %v", out)
	}
	r = e.send(adapter.OpToken, map[string]any{})
	if out := must[map[string]any](t, r, sdk.StatusOK); out["refreshed"] != false {
		t.Errorf("second token request refreshed: %v", out)
	}
	r = e.send(adapter.OpToken, map[string]any{"force": true})
	if out := must[map[string]any](t, r, sdk.StatusOK); out["refreshed"] != true {
		t.Errorf("forced token request did not refresh: %v", out)
	}
	logs := e.state("log/token/")
	if len(logs) != 2 {
		t.Fatalf("%d token log records, want 2 (issue, forced refresh)", len(logs))
	}
	var first map[string]any
	_ = json.Unmarshal(logs[0].Value, &first)
	if first["action"] != "issue" || first["ok"] != true || first["trigger"] != adapter.OpToken {
		t.Errorf("first token log record %v", first)
	}
	if n := len(e.state("count/token/20261126")); n != 1 {
		t.Errorf("token log not counted by day: %d counters", n)
	}
	e.assertNoSecrets(r.Payload)
	if e.sim.Stats().TokensIssued != 2 {
		t.Errorf("tokens issued = %d, want 2", e.sim.Stats().TokensIssued)
	}
}

func TestTokenRefreshedBeforeExpiryAndAfterAuthError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	up := func(no string) {
		t.Helper()
		r := e.send(adapter.OpStockInUpload, bill(no, "102", line(1, "1", drugCode("8100001", len(no)*1000+int(no[len(no)-1])))))
		must[map[string]any](t, r, sdk.StatusOK)
	}
	up("A1")
	e.clock.Add(56 * time.Minute) // the 1h token is within 5 minutes of expiry
	up("A2")
	e.sim.ExpireTokens() // the platform drops the token early
	up("A3")
	var got []string
	for _, l := range e.state("log/token/") {
		var m map[string]any
		_ = json.Unmarshal(l.Value, &m)
		got = append(got, m["action"].(string)+"/"+m["reason"].(string))
	}
	want := []string{"issue/first use", "refresh/expires soon", "invalidate/authentication error", "refresh/authentication error"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token log (-want +got):\n%s", diff)
	}
	st := e.sim.Stats()
	if st.NoToken != 0 || st.Uploads != 3 {
		t.Errorf("stats %+v: want 3 uploads and no call without a token", st)
	}
	e.assertNoSecrets()
}

func TestUnknownTypeAndFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.send("tracecode.nope", map[string]any{})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.type", "enum") {
		t.Errorf("unknown type: %+v", r)
	}
	r, err := e.plugin.Handle(context.Background(), &sdk.HandleRequest{Site: "other", Type: adapter.OpToken, MessageID: "x", Payload: []byte("{}")})
	if err != nil || r.Status != sdk.StatusFailed || !r.Retryable {
		t.Errorf("unconfigured site: %+v %v", r, err)
	}
}
