package mllp

import (
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestPayloadDeclaresUTF8: the payload a message reaches the pipeline with
// says in MSH-18 that it is UTF-8, also when the message declared no
// character set and was read in the listener's defaultCharset. Its hex
// escapes (\Xhh…\) are bytes in the character set the listener read the
// message in; a payload without MSH-18 left them to the default of whoever
// read it next — the mapping's charset (GB18030 in the demo) — which read
// the UTF-8 bytes of 王 (E78E8B) as GB 18030.
func TestPayloadDeclaresUTF8(t *testing.T) {
	t.Parallel()
	const head = "MSH|^~\\&|HIS|XMFY|||20261203101500||ADT^A28|H1|P|2.5"
	gb := func(s string) string {
		b, err := hl7.Encode(s, "GB18030")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	testCases := map[string]struct {
		setting string // the listener's defaultCharset
		msg     string
	}{
		"UTF-8, no MSH-18, UTF-8 listener":      {"", head + "\rPID|1||X1||\\XE78E8B\\小梅\r"},
		"UTF-8, no MSH-18, listener says so":    {"UTF-8", head + "\rPID|1||X1||\\XE78E8B\\小梅\r"},
		"GBK, no MSH-18, GB18030 listener":      {"GB18030", gb(head + "\rPID|1||X1||\\XCDF5\\小梅\r")},
		"UTF-8 declared":                        {"GB18030", head + "|||||CHN|UNICODE UTF-8\rPID|1||X1||\\XE78E8B\\小梅\r"},
		"GB 18030 declared":                     {"", gb(head + "|||||CHN|GB 18030-2000\rPID|1||X1||\\XCDF5\\小梅\r")},
		"UTF-8, no MSH-18, short MSH, CR LF":    {"", head[:len(head)-4] + "\r\nPID|1||X1||\\XE78E8B\\小梅\r\n"},
		"UTF-8, empty MSH-18 with MSH-19 after": {"", head + "|||||CHN||ZH\rPID|1||X1||\\XE78E8B\\小梅\r"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.DefaultCharset = tc.setting
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(cfg, proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, s, frame(tc.msg))
			if len(proc.envs) != 1 {
				t.Fatalf("processed %d messages, want 1", len(proc.envs))
			}
			payload := proc.envs[0]["payload"].(string)
			// As a mapping reads it: text, its default character set the
			// mapping's (GB18030 in the demo) or UTF-8.
			for _, def := range []string{"GB18030", ""} {
				m, err := hl7.ParseWith([]byte(payload), hl7.Options{Text: true, DefaultCharset: def})
				if err != nil {
					t.Fatalf("payload %q: %v", payload, err)
				}
				if got := m.Get(hl7.Location{Segment: "PID", Field: 5}); got != "王小梅" {
					t.Errorf("read with default %q: PID-5 %q, want 王小梅 (payload %q)", def, got, payload)
				}
				if got := m.Get(hl7.Location{Segment: "MSH", Field: 10}); got != "H1" {
					t.Errorf("read with default %q: MSH-10 %q, want H1", def, got)
				}
			}
		})
	}
}
