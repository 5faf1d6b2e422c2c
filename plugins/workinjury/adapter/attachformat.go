package adapter

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
)

// A GYU002 item declares its file_format (code table fileFormat: pdf, jpg,
// png in medgate's reconstruction) beside its content, given inline
// (file_content) or fetched from file_url. A content that is not what the
// item declares (a Word file sent as pdf, a PNG as jpg) would be stored by
// the national system under the wrong format, and staff opening the
// attachment there could not read it. So the first bytes of the content
// are compared with the declared format before anything is sent.
//
// Only formats whose signature is well defined are checked (fileKinds). A
// format of the code table without one here – a site's overlay of
// codes/fileFormat.yaml may add ofd, doc, … – is sent unchecked: the code
// table is medgate's reconstruction, and refusing a format medgate cannot
// recognise would block uploads the national system may well accept.

// fileKind is a file format recognised by its first bytes.
type fileKind struct {
	name  string // what the content is, for messages
	match func(head []byte) bool
}

// pdfHeaderWindow is how far into a file the %PDF- header may start:
// Adobe's PDF Reference (Appendix H, implementation notes) says its readers
// need the header only somewhere within the first 1024 bytes.
const pdfHeaderWindow = 1024

// sniffLen is how many of the content's first bytes the check reads.
const sniffLen = pdfHeaderWindow + len("%PDF-")

var (
	kindPDF  = fileKind{"a PDF document", func(b []byte) bool { return bytes.Contains(b[:min(len(b), sniffLen)], []byte("%PDF-")) }}
	kindJPEG = fileKind{"a JPEG image", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }}
	kindPNG  = fileKind{"a PNG image", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }}
	kindGIF  = fileKind{"a GIF image", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}}
	kindBMP = fileKind{"a BMP image", func(b []byte) bool {
		// "BM", the file size, then 4 reserved bytes that are zero.
		return len(b) >= 14 && bytes.HasPrefix(b, []byte("BM")) && bytes.Equal(b[6:10], []byte{0, 0, 0, 0})
	}}
	kindTIFF = fileKind{"a TIFF image", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
	}}
)

// fileKinds maps a declared file_format (lower case) to the kind its
// content must be.
var fileKinds = map[string]fileKind{
	"pdf": kindPDF, "jpg": kindJPEG, "jpeg": kindJPEG, "png": kindPNG,
	"gif": kindGIF, "bmp": kindBMP, "tif": kindTIFF, "tiff": kindTIFF,
}

// sniffOrder is the order in which a content's kind is looked for, to
// say what it is: the most specific signatures first.
var sniffOrder = []fileKind{kindPNG, kindJPEG, kindGIF, kindTIFF, kindPDF, kindBMP}

// formatMismatch compares the first bytes of a content (head, at least
// sniffLen of them when the content is that long) with the declared
// format. It returns what the content looks like when it is not of that
// format, or "" when it is, or when the format has no known signature
// (checked false).
func formatMismatch(format string, head []byte) (looks string, checked bool) {
	k, ok := fileKinds[strings.ToLower(strings.TrimSpace(format))]
	if !ok {
		return "", false
	}
	if k.match(head) {
		return "", true
	}
	return describeContent(head), true
}

// describeContent says what a content looks like from its first bytes:
// a known kind, else the MIME type net/http sniffs, with the first bytes
// in hex for binary content (text is not shown: it may be personal data).
func describeContent(head []byte) string {
	if len(head) == 0 {
		return "empty"
	}
	for _, k := range sniffOrder {
		if k.match(head) {
			return k.name
		}
	}
	ct := http.DetectContentType(head)
	if strings.HasPrefix(ct, "text/") {
		return "text (" + ct + ")"
	}
	n := min(len(head), 8)
	return fmt.Sprintf("%s, starting % X", ct, head[:n])
}

// lineBreaks removes CR and LF.
var lineBreaks = strings.NewReplacer("\r", "", "\n", "")

// unwrapContents removes the line breaks (CR, LF) from the file_content of
// each GYU002 item and reports whether it changed one. Base64 wrapped in
// lines (MIME, RFC 2045: 76 characters a line, as many encoders write it)
// is the same bytes without them; Go's decoder, which the rules use,
// skips them, but the national system's decoder is strict and refuses the
// request. Nothing signs or hashes the content as the platform gave it
// (the national request is signed as sent; a linked document's SHA-256 is
// of its decoded bytes), so the content is sent in the canonical form, one
// line. Any other character that is not base64 (a space, a tab) is still
// refused by the rules (file_content is not standard base64).
func unwrapContents(doc map[string]any) bool {
	atts, _ := doc["attachments"].([]any)
	changed := false
	for _, x := range atts {
		att, _ := x.(map[string]any)
		s, ok := att["file_content"].(string)
		if !ok || !strings.ContainsAny(s, "\r\n") {
			continue
		}
		att["file_content"] = lineBreaks.Replace(s)
		changed = true
	}
	return changed
}
