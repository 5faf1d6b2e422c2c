package adapter

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// Samples of real file heads.
var (
	headPDF  = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")
	headJPEG = []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01")
	headPNG  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	headGIF  = []byte("GIF89a\x01\x00\x01\x00")
	headBMP  = []byte("BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00")
	headTIFF = []byte("II*\x00\x08\x00\x00\x00")
	headZIP  = []byte("PK\x03\x04\x14\x00\x06\x00") // a .docx, .ofd, …
	headText = []byte("康复方案 张三 2025-05-01")
)

func TestFormatMismatch(t *testing.T) {
	t.Parallel()
	// A PDF header after leading junk, within the 1024 bytes readers allow.
	lateHeader := append([]byte(strings.Repeat(" ", 1000)), headPDF...)
	tooLate := append([]byte(strings.Repeat(" ", 1100)), headPDF...)
	cases := map[string]struct {
		format  string
		head    []byte
		looks   string // "" when the content matches
		checked bool
	}{
		"pdf":                    {format: "pdf", head: headPDF, checked: true},
		"pdf, upper case":        {format: "PDF", head: headPDF, checked: true},
		"pdf after junk":         {format: "pdf", head: lateHeader, checked: true},
		"pdf header too far":     {format: "pdf", head: tooLate, looks: "text", checked: true},
		"jpg":                    {format: "jpg", head: headJPEG, checked: true},
		"jpeg":                   {format: "jpeg", head: headJPEG, checked: true},
		"png":                    {format: "png", head: headPNG, checked: true},
		"gif":                    {format: "gif", head: headGIF, checked: true},
		"bmp":                    {format: "bmp", head: headBMP, checked: true},
		"tif":                    {format: "tif", head: headTIFF, checked: true},
		"png declared pdf":       {format: "pdf", head: headPNG, looks: "a PNG image", checked: true},
		"pdf declared jpg":       {format: "jpg", head: headPDF, looks: "a PDF document", checked: true},
		"jpeg declared png":      {format: "png", head: headJPEG, looks: "a JPEG image", checked: true},
		"zip declared pdf":       {format: "pdf", head: headZIP, looks: "application/zip, starting 50 4B 03 04", checked: true},
		"text declared pdf":      {format: "pdf", head: headText, looks: "text (text/plain; charset=utf-8)", checked: true},
		"empty declared png":     {format: "png", head: nil, looks: "empty", checked: true},
		"unknown format, zip":    {format: "ofd", head: headZIP},
		"unknown format, pdf":    {format: "doc", head: headPDF},
		"unknown format, text":   {format: "txt", head: headText},
		"format with blanks pdf": {format: " pdf ", head: headPDF, checked: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			looks, checked := formatMismatch(tc.format, tc.head)
			if checked != tc.checked {
				t.Fatalf("checked %v, want %v", checked, tc.checked)
			}
			if tc.looks == "" && looks != "" || !strings.HasPrefix(looks, tc.looks) {
				t.Fatalf("looks %q, want %q", looks, tc.looks)
			}
			if tc.looks == "text" && !strings.HasPrefix(looks, "text (") {
				t.Fatalf("looks %q, want text", looks)
			}
		})
	}
	// Text content is described, never shown: it may be personal data.
	if looks, _ := formatMismatch("pdf", headText); strings.Contains(looks, "张三") || strings.Contains(looks, "E5") {
		t.Fatalf("the description shows the content: %q", looks)
	}
}

// A GYU002 item whose content is not the declared file_format is refused
// before anything is sent, inline or fetched from file_url, with an error
// naming the item, the declared format and what the content is.
func TestAttachmentFormatChecked(t *testing.T) {
	t.Parallel()
	inline := func(format string, items ...[]byte) map[string]any {
		var atts []any
		for _, c := range items {
			atts = append(atts, map[string]any{"attachment_type": "01", "file_name": "认定书." + format, "file_format": format,
				"file_size": len(c), "file_content": base64.StdEncoding.EncodeToString(c)})
		}
		return map[string]any{"biz_type": "1", "biz_no": "LOCAL0001", "attachments": atts}
	}
	png := append(append([]byte{}, headPNG...), "rest of the image"...)
	d := newDocStore(t, png)
	linked := linkedUpload(d.srv.URL+"/docs/a.pdf", len(png))
	cases := map[string]struct {
		settings []string
		doc      map[string]any
		// field and says: the error wanted; none when ok.
		field, says string
	}{
		"pdf":                 {doc: inline("pdf", headPDF)},
		"jpg":                 {doc: inline("jpg", headJPEG)},
		"png":                 {doc: inline("png", headPNG)},
		"png sent as pdf":     {doc: inline("pdf", headPNG), field: "$.attachments[0].file_format", says: "declares file_format pdf, but its content is a PNG image"},
		"second item of two":  {doc: inline("jpg", headJPEG, headPDF), field: "$.attachments[1].file_format", says: "attachment $.attachments[1] declares file_format jpg, but its content is a PDF document"},
		"a docx sent as pdf":  {doc: inline("pdf", headZIP), field: "$.attachments[0].file_format", says: "application/zip"},
		"linked png, pdf":     {settings: []string{setAttachmentSources, d.srv.URL + "/docs/"}, doc: linked, field: "$.attachments[0].file_format", says: "declares file_format pdf, but its content is a PNG image"},
		"a text file as jpg":  {doc: inline("jpg", headText), field: "$.attachments[0].file_format", says: "but its content is text"},
		"pdf after some junk": {doc: inline("pdf", append([]byte("\r\n"), headPDF...))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSettings(tc.settings...))
			r := e.send("GYU002", tc.doc)
			if tc.field == "" {
				e.mustOK(r)
				return
			}
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid: %s", r.Status, r.Diagnostics)
			}
			if n := len(e.sim.Received("GYU002")); n != 0 {
				t.Fatalf("the national system received %d GYU002 requests, want none", n)
			}
			if !hasField(r, tc.field, "consistency") {
				t.Fatalf("no consistency error at %s: %s", tc.field, r.Diagnostics)
			}
			for _, dg := range r.Diagnostics {
				if dg.Field == tc.field && !strings.Contains(dg.Summary, tc.says) {
					t.Fatalf("%s says %q, want %q", tc.field, dg.Summary, tc.says)
				}
			}
		})
	}
}
