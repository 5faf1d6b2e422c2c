package transforms

import (
	"testing"
	"testing/fstest"

	"github.com/medgate/medgate/schemas"
)

// testSchema is a transaction with one field of every kind, for engine
// tests that do not depend on the shipped schemas.
const testSchema = `code: T1
name: test transaction
system: t
direction: upload
batchLimit: 3
batchField: lines
source: engine tests
input:
  - {name: id, label: 编号, type: string, maxLength: 20, required: true}
  - {name: name, type: string, maxLength: 8}
  - {name: amount, label: 金额, type: "decimal(10,2)"}
  - {name: qty, type: integer}
  - {name: at, type: datetime}
  - {name: day, type: date, format: "20060102"}
  - {name: flag, type: boolean}
  - {name: kind, type: enum, codes: {"1": a, "2": b}}
  - name: lines
    type: array
    fields:
      - {name: no, type: string, required: true}
      - {name: amount, type: "decimal(10,2)"}
      - name: diags
        type: array
        fields:
          - {name: code, type: string, required: true}
  - name: obj
    type: object
    fields:
      - {name: a, type: string}
      - {name: b, type: string}
`

func testSchemas(t testing.TB) *schemas.Set {
	t.Helper()
	sch, err := schemas.Load(fstest.MapFS{"t/T1.yaml": {Data: []byte(testSchema)}})
	if err != nil {
		t.Fatalf("test schema: %v", err)
	}
	return sch
}

// loadFiles loads mapping files given as path → content against the test
// schema (and the shipped ones).
func loadFiles(t testing.TB, files map[string]string) (*Set, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(data)}
	}
	sch, err := schemas.Embedded().OverlayFS(fstest.MapFS{"t/T1.yaml": {Data: []byte(testSchema)}})
	if err != nil {
		t.Fatalf("test schema: %v", err)
	}
	return LoadWithSchemas(fsys, sch)
}

// mustLoad is loadFiles failing the test on an error.
func mustLoad(t testing.TB, files map[string]string) *Set {
	t.Helper()
	s, err := loadFiles(t, files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}
