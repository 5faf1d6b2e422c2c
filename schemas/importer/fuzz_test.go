package importer

import (
	"bytes"
	"testing"

	"github.com/medgate/medgate/schemas"
)

// FuzzImportCSV feeds arbitrary bytes to the CSV importer: it must never
// panic and every schema it returns must be writable.
func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(specCSV))
	f.Add([]byte("GYU101\n参数名,类型,长度\na,数值型,\"99,99\"\nb,日期时间,17\n输出 节点标识：x 列表\nc,数组,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := Import(bytes.NewReader(data), "csv", "workinjury")
		for _, s := range got {
			if err := schemas.WriteYAML(&bytes.Buffer{}, s); err != nil {
				t.Fatalf("WriteYAML: %v", err)
			}
		}
	})
}
