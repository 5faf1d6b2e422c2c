package schemas

import (
	"bytes"
	"encoding/json"
	"testing"
	"testing/fstest"
)

// decodeJSON decodes a JSON document the way the host does: numbers as
// json.Number.
func decodeJSON(tb testing.TB, s string) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode test JSON %q: %v", s, err)
	}
	return v
}

// testFS is a small schema directory exercising every field type.
var testFS = fstest.MapFS{
	"test/codes/sex.yaml": {Data: []byte(`name: sex
label: 性别
source: test
codes:
  "1": 男
  "2": 女
`)},
	"test/T001.yaml": {Data: []byte(`code: T001
name: 测试交易
system: test
direction: upload
batchLimit: 500
batchField: fee
source: test
input:
  - name: name
    label: 姓名
    type: string
    maxLength: 4
    required: true
    example: 张三
  - name: nameb
    label: 字节姓名
    type: string
    maxLength: 6
    lengthUnit: bytes
    example: 张三
  - name: code
    label: 性别
    type: enum
    codes: sex
    example: "1"
  - name: inline
    type: enum
    codes:
      "A": 甲
      "B": 乙
    example: A
  - name: count
    label: 次数
    type: integer
    maxLength: 3
    example: 12
  - name: amount
    label: 金额
    type: decimal(6,2)
    example: 1234.50
  - name: day
    label: 日期
    type: date
    example: "2025-04-01"
  - name: day8
    type: date
    format: "20060102"
    example: "20250401"
  - name: at
    label: 时间
    type: datetime
    example: "2025-04-01 08:30:00"
  - name: flag
    type: boolean
    example: true
  - name: patient
    type: object
    fields:
      - name: id
        label: 病人号
        type: string
        required: true
        example: P1
  - name: fee
    label: 费用明细
    type: array
    required: true
    minItems: 1
    fields:
      - name: qty
        label: 数量
        type: decimal(8,2)
        required: true
        example: 1
      - name: item
        type: string
        maxLength: 10
        example: X1
output:
  - name: ok
    type: boolean
    required: true
    example: true
`)},
	"test/T002.yaml": {Data: []byte(`code: T002
name: 附件
system: test
direction: upload
batchLimit: 10
batchField: attachments
source: test
input:
  - name: attachments
    type: array
    fields:
      - name: file
        type: string
        required: true
        example: a.pdf
`)},
	"test/T003.yaml": {Data: []byte(`code: T003
name: 下载
system: test
direction: download
batchLimit: 500
batchField: output.records
source: test
input: []
output:
  - name: records
    type: array
    fields:
      - name: id
        type: string
        required: true
        example: R1
`)},
}

func testSet(tb testing.TB) *Set {
	tb.Helper()
	s, err := Load(testFS)
	if err != nil {
		tb.Fatalf("load test schemas: %v", err)
	}
	return s
}

func testSchema(tb testing.TB, code string) *Schema {
	tb.Helper()
	s, ok := testSet(tb).Get("test", code)
	if !ok {
		tb.Fatalf("test schema %s missing", code)
	}
	return s
}
