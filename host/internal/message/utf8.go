package message

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// notUTF8Error is the error of a request that is JSON but not UTF-8 text:
// a platform that writes its JSON in GBK or GB 18030. encoding/json reads
// such a string with U+FFFD for every byte it cannot read, so without this
// check the request went on with its Chinese texts (names, diagnoses, fee
// items) turned into "����", and an external system got them so. The
// error names the first string that is not UTF-8 (never its bytes: they
// may be a patient's name).
func notUTF8Error(data []byte) ReplyError {
	field := notUTF8Path(data)
	where := "a string of the message"
	if field != "$" {
		where = "the string at " + field
	}
	return ReplyError{Field: field, Rule: "encoding",
		Message: "消息不是 UTF-8 文本（" + field + " 处的字符多半是 GBK 或 GB 18030 编码），未处理：请以 UTF-8 发送（JSON 须为 UTF-8，RFC 8259），" +
			"用新的消息 ID。the message is not UTF-8 text: " + where + " has bytes that are not UTF-8 " +
			"(GBK or GB 18030, most likely), so its characters would have been lost; nothing was processed. " +
			"Send the request in UTF-8 (JSON text is UTF-8, RFC 8259) under a new id"}
}

// notUTF8Path returns the JSON path of the first string value of data
// whose bytes are not UTF-8 (of the object holding it, for a member name),
// or "$" when there is none to name (the invalid bytes are outside the
// strings, or data is not JSON).
func notUTF8Path(data []byte) string {
	type level struct {
		object bool
		atKey  bool   // in an object: the next string is a member name
		key    string // in an object: the member being read
		index  int    // in an array: the element being read
	}
	var stack []level
	path := func(levels []level) string {
		var b strings.Builder
		b.WriteString("$")
		for _, l := range levels {
			if l.object {
				writeKey(&b, l.key)
			} else {
				b.WriteString("[" + strconv.Itoa(l.index) + "]")
			}
		}
		return b.String()
	}
	// done moves the innermost level past the value just read.
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].atKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "$"
		}
		n := len(stack)
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, atKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:n-1]
			done()
			continue
		}
		s, isString := tok.(string)
		key := n > 0 && stack[n-1].object && stack[n-1].atKey
		if isString && !utf8.Valid(data[before:dec.InputOffset()]) {
			if key {
				return path(stack[:n-1]) // a member name: the object holding it
			}
			return path(stack)
		}
		if key {
			stack[n-1].key, stack[n-1].atKey = s, false
			continue
		}
		done()
	}
}

// writeKey writes a member step of a path: .name, or ["name"] when name
// is not an identifier.
func writeKey(b *strings.Builder, key string) {
	ident := key != ""
	for i, r := range key {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			ident = false
			break
		}
	}
	if ident {
		b.WriteString("." + key)
		return
	}
	b.WriteString("[" + strconv.Quote(key) + "]")
}
