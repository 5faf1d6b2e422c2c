package adapter

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestImportPendingVerifyCertTypeByName: a list whose 证件类型 column
// shows the type by its name (居民身份证), as lists exported for people
// to read do, made -verify send that name as psn_cert_type to 4208, which
// matched nothing, and report the uploaded visit absent on the platform,
// "upload it again". A type that is not a code is left out of the search
// (the ID number finds the visit) and the platform column says so; a code
// is still sent.
func TestImportPendingVerifyCertTypeByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "ct-up-1", upload("ZY1", 2), 1), sdk.StatusOK)
	list := "医药机构就诊ID,姓名,证件类型,身份证号,入院时间\n" +
		"ZY1,张三,居民身份证,350203198001011234,2025-03-25 10:00:00\n" +
		"ZY1,张三,居民身份证（户口簿）,350203198001011234,2025-03-25 10:00:00\n" +
		"ZY1,张三,01,350203198001011234,2025-03-25 10:00:00\n"
	r := e.must(OpImportPending, "ct-imp", map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": true}, 1)
	wantStatus(t, r, sdk.StatusOK)
	for i, p := range payloadOf(t, r)["patients"].([]any) {
		row := p.(map[string]any)
		platform := fmt.Sprint(row["platform"])
		if row["status"] != "uploaded" || !strings.HasPrefix(platform, "complete") {
			t.Errorf("row %d: %v", i+2, row)
		}
		if named := i < 2; named != strings.Contains(platform, "not a code") {
			t.Errorf("row %d: platform %q (a type by name searched by the ID number alone says so)", i+2, platform)
		}
	}
}
