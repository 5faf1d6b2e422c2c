package adapter_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/testenv"
)

// loCell is one cell as LibreOffice Calc holds it: its value type
// (string, float, date, time, percentage, currency, boolean; "" when
// empty), its value (the number, or the ISO date) and the text it shows.
type loCell struct {
	Type, Value, Text string
}

// libreOfficeCells opens the workbook at path with LibreOffice Calc and
// returns every sheet's cells, by sheet name, in the order of the sheets,
// read from the flat OpenDocument file LibreOffice saves it as (which
// records each cell's value type).
func libreOfficeCells(t *testing.T, path string) ([]string, map[string][][]loCell) {
	t.Helper()
	soffice := testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation=file://"+filepath.Join(out, "profile"), "--headless",
		"--convert-to", "fods", "--outdir", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("LibreOffice could not open the export: %v\n%s", err, b)
	}
	f, err := os.Open(filepath.Join(out, strings.TrimSuffix(filepath.Base(path), ".xlsx")+".fods"))
	if err != nil {
		t.Fatalf("LibreOffice wrote no flat ODS: %v", err)
	}
	defer f.Close()
	const (
		tableNS  = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
		officeNS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
		textNS   = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
	)
	attr := func(e xml.StartElement, space, local string) string {
		for _, a := range e.Attr {
			if a.Name.Space == space && a.Name.Local == local {
				return a.Value
			}
		}
		return ""
	}
	repeat := func(e xml.StartElement, local string) int {
		n, err := strconv.Atoi(attr(e, tableNS, local))
		if err != nil || n < 1 {
			return 1
		}
		return n
	}
	var order []string
	sheets := map[string][][]loCell{}
	var sheet string
	var row []loCell
	var rowRepeat int
	var cell *loCell
	var cellRepeat int
	var text strings.Builder
	inText := 0
	d := xml.NewDecoder(f)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("LibreOffice's flat ODS: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch {
			case e.Name.Space == tableNS && e.Name.Local == "table":
				sheet = attr(e, tableNS, "name")
				order = append(order, sheet)
			case e.Name.Space == tableNS && e.Name.Local == "table-row":
				row, rowRepeat = nil, repeat(e, "number-rows-repeated")
			case e.Name.Space == tableNS && (e.Name.Local == "table-cell" || e.Name.Local == "covered-table-cell"):
				v := attr(e, officeNS, "value")
				if v == "" {
					v = attr(e, officeNS, "date-value")
				}
				if v == "" {
					v = attr(e, officeNS, "time-value")
				}
				cell, cellRepeat = &loCell{Type: attr(e, officeNS, "value-type"), Value: v}, repeat(e, "number-columns-repeated")
				text.Reset()
			case e.Name.Space == textNS && e.Name.Local == "p" && cell != nil:
				if inText > 0 || text.Len() > 0 {
					text.WriteByte('\n')
				}
				inText++
			}
		case xml.CharData:
			if cell != nil && inText > 0 {
				text.Write(e)
			}
		case xml.EndElement:
			switch {
			case e.Name.Space == textNS && e.Name.Local == "p" && cell != nil:
				inText--
			case e.Name.Space == tableNS && (e.Name.Local == "table-cell" || e.Name.Local == "covered-table-cell"):
				cell.Text = text.String()
				// Trailing runs of empty cells are LibreOffice's padding.
				for range min(cellRepeat, 1024) {
					row = append(row, *cell)
				}
				cell = nil
			case e.Name.Space == tableNS && e.Name.Local == "table-row":
				for len(row) > 0 && row[len(row)-1] == (loCell{}) {
					row = row[:len(row)-1]
				}
				if len(row) > 0 {
					for range rowRepeat {
						sheets[sheet] = append(sheets[sheet], row)
					}
				}
			}
		}
	}
	return order, sheets
}

// loKind is the value type LibreOffice must give the cells of each
// column, by header: dates and times are dates (sortable, filterable by
// day), counts and quantities are numbers, and every code, number-like
// identifier (trace codes, document numbers, result codes, transaction
// codes) and text stays text.
func loKind(header string) string {
	switch header {
	case "行号", "数量", "追溯码数", "耗时(毫秒)", "行数", "调整次数", "包装层级", "包装层级(1=最大)", "包装级别(1=最小)":
		return "float"
	}
	if strings.HasSuffix(header, "日期") || strings.HasSuffix(header, "时间") || strings.HasSuffix(header, "有效期至") {
		return "date"
	}
	return "string"
}

// TestExportCellTypesInLibreOffice opens exports with LibreOffice Calc and
// checks what the pharmacy sees there beyond the texts: every sheet in
// order, its Chinese header, every row (the reply's count per sheet), and
// the type of every cell: dates as dates whose value is the day and time
// shown, numbers as numbers, codes as text. One export is of the seeded
// exchanges, the other a large one (20,000 trace codes of 20 documents,
// 1,000 hierarchy nodes, smallest sub-codes), produced by a host that
// makes the stored records on the fly.
func TestExportCellTypesInLibreOffice(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	cases := map[string]struct {
		export    func(t *testing.T) exportReply
		wantCodes int64
	}{
		"seeded exchanges": {export: func(t *testing.T) exportReply {
			e := newEnv(t, nil)
			seed(t, e)
			return must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26"}), sdk.StatusOK)
		}},
		"20,000 trace codes": {wantCodes: 20_000, export: func(t *testing.T) exportReply {
			a := adapter.New(adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			p := sdktest.Connect(t, a, newSynthHost([]string{"20261126"}, 20, 2, 2))
			ctx := context.Background()
			d, _ := p.Describe(ctx, &sdk.DescribeRequest{})
			s := map[string]string{}
			for _, decl := range d.Settings {
				s[decl.Name] = decl.Default
			}
			for k, v := range baseSettings("http://127.0.0.1:1", t.TempDir()) {
				s[k] = v
			}
			if r, err := p.Configure(ctx, &sdk.ConfigureRequest{Site: site, Settings: s}); err != nil || r.Diagnostics.HasError() {
				t.Fatalf("configure: %v %s", err, r.Diagnostics)
			}
			r, err := p.Handle(ctx, &sdk.HandleRequest{Site: site, Type: adapter.OpExport, MessageID: "lo-large", Format: "json",
				Payload: []byte(`{"from":"2026-11-26","to":"2026-11-26"}`)})
			if err != nil || r.Status != sdk.StatusOK {
				t.Fatalf("export: %v %+v", err, r)
			}
			var rep exportReply
			if err := json.Unmarshal(r.Payload, &rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rep := tc.export(t)
			if tc.wantCodes != 0 && rep.Rows["codes"] != tc.wantCodes {
				t.Fatalf("the export has %d trace-code rows, want %d", rep.Rows["codes"], tc.wantCodes)
			}
			order, cells := libreOfficeCells(t, rep.Path)
			if diff := cmp.Diff(sheetOrder, order); diff != "" {
				t.Fatalf("sheets in LibreOffice (-want +got):\n%s", diff)
			}
			for _, sheet := range sheetOrder {
				rows := cells[sheet]
				if len(rows) == 0 {
					t.Errorf("%s: LibreOffice shows nothing", sheet)
					continue
				}
				var hdr []string
				for _, c := range rows[0] {
					hdr = append(hdr, c.Text)
				}
				if diff := cmp.Diff(headers[sheet], hdr); diff != "" {
					t.Errorf("%s: header in LibreOffice (-want +got):\n%s", sheet, diff)
				}
				if got, want := int64(len(rows)-1), rep.Rows[keys[sheet]]; got != want {
					t.Errorf("%s: LibreOffice shows %d rows, the export wrote %d", sheet, got, want)
				}
				bad := 0
				for i, row := range rows[1:] {
					for j, c := range row {
						if c.Type == "" || j >= len(hdr) {
							continue
						}
						want := loKind(hdr[j])
						problem := ""
						switch {
						case c.Type != want:
							problem = fmt.Sprintf("is a %s cell, want %s", c.Type, want)
						case want == "date" && !sameMoment(c.Value, c.Text):
							problem = fmt.Sprintf("holds the date %s but shows %q", c.Value, c.Text)
						case want == "float" && c.Value != c.Text:
							problem = fmt.Sprintf("holds %s but shows %q", c.Value, c.Text)
						}
						if problem != "" {
							if bad++; bad <= 5 {
								t.Errorf("%s row %d column %s (%q) %s", sheet, i+2, hdr[j], c.Text, problem)
							}
						}
					}
				}
				if bad > 5 {
					t.Errorf("%s: %d cells in all have the wrong type or value", sheet, bad)
				}
			}
		})
	}
}

// sameMoment reports whether LibreOffice's ISO date value (2026-11-26 or
// 2026-11-26T10:00:00) is the day and time the cell shows
// (2026-11-26 or 2026-11-26 10:00:00).
func sameMoment(value, text string) bool {
	return strings.Replace(value, "T", " ", 1) == text
}
