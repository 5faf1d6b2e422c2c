package card

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/medgate/medgate/test/qrscan"
)

// decodeQR reads the QR code in a PNG as a scanner app does.
func decodeQR(tb testing.TB, b []byte) (string, image.Image) {
	tb.Helper()
	text, img, err := qrscan.DecodePNG(b)
	if err != nil {
		tb.Fatalf("decode QR: %v", err)
	}
	return text, img
}

func TestQRPNGRoundTrip(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		cardNo string
		size   int
	}{
		"small 128px":  {cardNo: "88010000000003X", size: 128},
		"typical 256":  {cardNo: "88010000000003X", size: 256},
		"print 600":    {cardNo: "8801234567890123", size: 600},
		"odd size 301": {cardNo: "1", size: 301},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
			text, _, err := s.Seal(tc.cardNo, 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := QRPNG(text, tc.size)
			if err != nil {
				t.Fatalf("QRPNG: %v", err)
			}
			got, img := decodeQR(t, b)
			if diff := cmp.Diff(text, got); diff != "" {
				t.Fatalf("decoded text (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(image.Rect(0, 0, tc.size, tc.size), img.Bounds()); diff != "" {
				t.Errorf("bounds (-want +got):\n%s", diff)
			}
			c, err := s.Open(got)
			if err != nil {
				t.Fatalf("Open decoded text: %v", err)
			}
			if c.CardNo != tc.cardNo {
				t.Errorf("CardNo = %q, want %q", c.CardNo, tc.cardNo)
			}
		})
	}
}

func TestQRPNGErrors(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		text string
		size int
		want string
	}{
		"too small":        {text: "MGE1ABC", size: 10, want: "between 64 and 4096"},
		"too large":        {text: "MGE1ABC", size: 5000, want: "between 64 and 4096"},
		"modules too fine": {text: strings.Repeat("A", 300), size: 100, want: "too small for a"},
		"text too long":    {text: strings.Repeat("x", 5000), size: 256, want: "encode QR code"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := QRPNG(tc.text, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("QRPNG error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()
	shanghai := time.FixedZone("Asia/Shanghai", 8*3600)
	exp := time.Date(2026, 11, 29, 12, 0, 59, 0, time.UTC)
	testCases := map[string]struct {
		name string
		loc  *time.Location
		want LabelText
	}{
		"two-char name, Shanghai": {name: "张三", loc: shanghai, want: LabelText{
			CardNo: "88010000000003X", Name: "张*", Expires: "2026-11-29 20:00",
			ValidUntil: "有效期至 2026-11-29 20:00", ValidUntilASCII: "VALID UNTIL 2026-11-29 20:00",
		}},
		"nil location means UTC+8": {name: "欧阳娜娜", loc: nil, want: LabelText{
			CardNo: "88010000000003X", Name: "欧**娜", Expires: "2026-11-29 20:00",
			ValidUntil: "有效期至 2026-11-29 20:00", ValidUntilASCII: "VALID UNTIL 2026-11-29 20:00",
		}},
		"UTC": {name: "李", loc: time.UTC, want: LabelText{
			CardNo: "88010000000003X", Name: "李", Expires: "2026-11-29 12:00",
			ValidUntil: "有效期至 2026-11-29 12:00", ValidUntilASCII: "VALID UNTIL 2026-11-29 12:00",
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := Label("88010000000003X", tc.name, exp, tc.loc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Label (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tc.want.CardNo, tc.want.Name, tc.want.ValidUntil}, got.Lines()); diff != "" {
				t.Errorf("Lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLabelPNG(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		size      int
		wantWidth int
	}{
		"128px grows to fit the text": {size: 128, wantWidth: 16*6 + 2*12},
		"256px":                       {size: 256, wantWidth: 256},
		"512px":                       {size: 512, wantWidth: 512},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
			text, exp, err := s.Seal("88010000000003X", 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := LabelPNG(text, Label("88010000000003X", "张三", exp, nil), tc.size)
			if err != nil {
				t.Fatalf("LabelPNG: %v", err)
			}
			got, img := decodeQR(t, b)
			if got != text {
				t.Fatalf("decoded %q, want %q", got, text)
			}
			bounds := img.Bounds()
			if bounds.Dx() < tc.size || bounds.Dy() <= tc.size {
				t.Errorf("bounds %v, want at least %d wide and taller than %d", bounds, tc.size, tc.size)
			}
			if tc.size >= 256 && bounds.Dx() != tc.wantWidth {
				t.Errorf("width %d, want %d", bounds.Dx(), tc.wantWidth)
			}
			// The text area must contain ink.
			ink := 0
			for y := tc.size; y < bounds.Dy(); y++ {
				for x := 0; x < bounds.Dx(); x++ {
					if r, _, _, _ := img.At(x, y).RGBA(); r == 0 {
						ink++
					}
				}
			}
			if ink == 0 {
				t.Error("no text drawn below the QR code")
			}
		})
	}
}

func TestLabelPNGErrors(t *testing.T) {
	t.Parallel()
	l := Label("88010000000003X", "张三", testT0, nil)
	testCases := map[string]struct {
		label LabelText
		size  int
		want  string
	}{
		"non-ASCII card number": {label: LabelText{CardNo: "卡1", Expires: l.Expires}, size: 256, want: "cannot draw"},
		"size too small":        {label: l, size: 10, want: "between 64 and 4096"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := LabelPNG("MGE1ABCDEFGH", tc.label, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LabelPNG error = %v, want %q", err, tc.want)
			}
		})
	}
}

func BenchmarkQRPNG(b *testing.B) {
	s := newTestSealer(b, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	text, _, err := s.Seal("88010000000003X", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := QRPNG(text, 256); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLabelWithNewborn: a newborn's label gets a line with its birth order
// and sex (none for an unknown or unspecified gender), between the name
// and the validity, and the ASCII label image one more line.
func TestLabelWithNewborn(t *testing.T) {
	t.Parallel()
	l := Label("88010000000003X", "李梅之女", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), nil)
	testCases := map[string]struct {
		order           int
		gender          string
		want, wantASCII string
	}{
		"first twin, girl": {order: 1, gender: "2", want: "新生儿 胎次 1 女", wantASCII: "NEWBORN 1 F"},
		"second twin, boy": {order: 2, gender: "1", want: "新生儿 胎次 2 男", wantASCII: "NEWBORN 2 M"},
		"unknown gender":   {order: 1, gender: "0", want: "新生儿 胎次 1", wantASCII: "NEWBORN 1"},
		"unspecified (9)":  {order: 3, gender: "9", want: "新生儿 胎次 3", wantASCII: "NEWBORN 3"},
	}
	plain, err := LabelPNG("MGE1ABCDEFGH", l, 256)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := l.WithNewborn(tc.order, tc.gender)
			if got.Newborn != tc.want || got.NewbornASCII != tc.wantASCII {
				t.Errorf("WithNewborn(%d, %q) = %q / %q, want %q / %q", tc.order, tc.gender, got.Newborn, got.NewbornASCII, tc.want, tc.wantASCII)
			}
			if diff := cmp.Diff([]string{l.CardNo, l.Name, tc.want, l.ValidUntil}, got.Lines()); diff != "" {
				t.Errorf("Lines (-want +got):\n%s", diff)
			}
			b, err := LabelPNG("MGE1ABCDEFGH", got, 256)
			if err != nil {
				t.Fatal(err)
			}
			img, _ := png.Decode(bytes.NewReader(b))
			base, _ := png.Decode(bytes.NewReader(plain))
			if img == nil || base == nil || img.Bounds().Dy() <= base.Bounds().Dy() {
				t.Errorf("the newborn's label image is no taller than the plain one: the line %q is not drawn", tc.wantASCII)
			}
		})
	}
}
