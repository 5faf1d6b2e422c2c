package config

import (
	"fmt"
	"testing"
)

// TestMLLPDefaultCharset: defaultCharset is UTF-8 unless set, and the
// names senders and HL7 table 0211 use for GB 18030 become its canonical
// name, the one the listener passes to the HL7 reader.
func TestMLLPDefaultCharset(t *testing.T) {
	t.Parallel()
	for set, want := range map[string]string{
		"":              "UTF-8",
		"UTF-8":         "UTF-8",
		"GB18030":       "GB18030",
		"GBK":           "GB18030",
		"gb 18030-2000": "GB18030",
		"GB2312":        "GB18030",
	} {
		t.Run(set, func(t *testing.T) {
			t.Parallel()
			yaml := "kafka:\n  embedded: {}\nsites:\n  - code: demo\nmllp:\n  listeners:\n    - {address: \"127.0.0.1:2575\", site: demo}\n"
			if set != "" {
				yaml = fmt.Sprintf("kafka:\n  embedded: {}\nsites:\n  - code: demo\nmllp:\n  listeners:\n    - {address: \"127.0.0.1:2575\", site: demo, defaultCharset: %q}\n", set)
			}
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.MLLP.Listeners[0].DefaultCharset; got != want {
				t.Errorf("defaultCharset %q reads as %q, want %q", set, got, want)
			}
		})
	}
}
