package message

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// sampleReply is a GYD051 reply as the pipeline publishes it.
func sampleReply() *Reply {
	return &Reply{ID: "0f3c9a7e5b2d4c1a8e6f0b9d7c5a3e1f", RequestID: "bench-1764748800000000000-12345", Site: "s1", Type: "workinjury.GYD051",
		Status: StatusOK, External: &External{System: "workinjury", Code: "0", Message: "成功", MsgID: "H35020000120261203073000000123"},
		Payload: []byte(`{"filing_no":"BA350200202612030001","filing_status":"1","aac002":"350203********1234"}`), Attempts: 1,
		CompletedAt: time.Date(2026, 12, 3, 7, 30, 0, 0, time.UTC)}
}

// TestMarshalReply: MarshalReply writes what json.Marshal writes, and
// fails where it fails, for replies of every shape the pipeline makes and
// for the strings and payloads json.Marshal rewrites.
func TestMarshalReply(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 7, 30, 0, 123456789, time.UTC)
	tests := map[string]*Reply{
		"nil":    nil,
		"zero":   {},
		"gyd051": sampleReply(),
		"invalid": {ID: "r", RequestID: "m-1", Site: "s1", Type: "ledger.noop", Status: StatusInvalid, CompletedAt: at,
			Errors: []ReplyError{{Field: "$.payload.seq", Rule: "required", Message: "seq is required"}, {Rule: "size", Message: "too large"}}},
		"warnings":                  {Status: StatusOK, Warnings: []ReplyError{{Rule: "name", Message: "registered as 张三 <zhang@example.com> & co"}}, CompletedAt: at},
		"empty slices and external": {Errors: []ReplyError{}, Warnings: []ReplyError{}, External: &External{}, Payload: json.RawMessage{}, CompletedAt: at},
		"external partly":           {External: &External{Code: "E0001", MsgID: "x"}, CompletedAt: at},
		"escapes in strings":        {ID: "a\"b\\c\b\f\n\r\t\x00\x1f\x7f", Site: "<>&", Type: "\u2028\u2029", Status: "bad \xff\xfe utf-8 \xe2\x80", CompletedAt: at},
		"payload null":              {Payload: json.RawMessage(`null`), CompletedAt: at},
		"payload string":            {Payload: json.RawMessage(`"the filing \"BA1\" is valid\n"`), CompletedAt: at},
		"payload with spaces":       {Payload: json.RawMessage(` { "a" : [1, 2.5e3, true, null] , "b": "x y" } `), CompletedAt: at},
		"payload with html":         {Payload: json.RawMessage(`{"a":"<b>&</b>"}`), CompletedAt: at},
		"payload with U+2028":       {Payload: json.RawMessage("{\"a\":\"x\u2028y\u2029\"}"), CompletedAt: at},
		"payload with other E2":     {Payload: json.RawMessage(`{"a":"…—•"}`), CompletedAt: at},
		"payload with escapes":      {Payload: json.RawMessage(`{"a":"\u00e9\\\"\/","b\n":-0.5E-2}`), CompletedAt: at},
		"payload invalid":           {Payload: json.RawMessage(`{"a":}`), CompletedAt: at},
		"payload two values":        {Payload: json.RawMessage(`1 2`), CompletedAt: at},
		"payload deep":              {Payload: json.RawMessage(strings.Repeat("[", 100) + strings.Repeat("]", 100)), CompletedAt: at},
		"payload invalid utf-8":     {Payload: json.RawMessage("\"\xff\""), CompletedAt: at},
		"zero time":                 {Status: StatusFailed, Attempts: -3},
		"time with offset":          {CompletedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CST", 8*3600))},
		"time with negative offset": {CompletedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", -(9*3600+30*60)))},
		"year 10000":                {CompletedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year -1":                   {CompletedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		"offset 24h":                {CompletedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("Y", 24*3600))},
		"offset with seconds":       {CompletedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 8*3600+5*60+43))},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkMarshalReply(t, r)
		})
	}
}

func checkMarshalReply(t *testing.T, r *Reply) {
	t.Helper()
	want, werr := json.Marshal(r)
	got, gerr := MarshalReply(r)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("MarshalReply error %v, json.Marshal error %v", gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalReply wrote\n%s\njson.Marshal writes\n%s", got, want)
	}
}

// FuzzMarshalReply holds MarshalReply to json.Marshal for any strings,
// payload and time.
func FuzzMarshalReply(f *testing.F) {
	f.Add("m-1", "成功 <&>", "$.a", `{"seq":1}`, int64(1764748800123456789), 8*3600)
	f.Add("\xff\u2028", "\"\\\n", "", ` [1, "a b"] `, int64(-62135596800)*2, -3600*25)
	f.Add("", "", "", "", int64(0), 0)
	f.Fuzz(func(t *testing.T, id, msg, field, payload string, nanos int64, offset int) {
		r := &Reply{ID: id, RequestID: id, Site: msg, Type: field, Status: msg, Attempts: len(msg),
			Errors: []ReplyError{{Field: field, Rule: id, Message: msg}}, Payload: json.RawMessage(payload),
			CompletedAt: time.Unix(0, nanos).In(time.FixedZone("z", offset%(48*3600)))}
		if len(msg)%2 == 0 {
			r.External = &External{Message: msg, MsgID: id}
		}
		checkMarshalReply(t, r)
		if got, want := ValidJSON([]byte(payload)), json.Valid([]byte(payload)); got != want {
			t.Fatalf("ValidJSON(%q) = %v, json.Valid %v", payload, got, want)
		}
	})
}

// TestMarshalReplyAllocatesOnce: encoding a reply of the usual form (a
// compact payload) allocates its result and nothing else; json.Marshal
// allocated a buffer for the time too, and ran reflection on every field.
func TestMarshalReplyAllocatesOnce(t *testing.T) {
	r := sampleReply()
	if n := testing.AllocsPerRun(100, func() {
		if _, err := MarshalReply(r); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Fatalf("MarshalReply allocates %v times per reply; want 1 (the result)", n)
	}
}
