package card

import (
	"bytes"
	"context"
	"fmt"
	"image"
	stdpng "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/medgate/medgate/test/testenv"
)

// TestQRCodesReadByZbar prints codes and labels as medgate does and reads
// them back with zbarimg (zbar-tools), a reader that shares no code with
// the Go library that draws them or with test/qrscan: what a cashier's
// scanner reads must be the sealed text, byte for byte, for the longest
// codes too (a 16-character card number, key id and site tag), at the
// smallest size ecard.qrcode allows (96 px) and at print sizes.
func TestQRCodesReadByZbar(t *testing.T) {
	t.Parallel()
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("Z", 7)}, "Z", WithSite("xiamen-campus-2"))
	cases := []struct {
		cardNo string
		size   int
		label  bool
	}{
		{"1", 96, false},
		{"88010000000003X", 96, false},
		{"8801234567890123", 96, false},
		{"8801234567890123", 128, false},
		{"8801234567890123", 256, false},
		{"8801234567890123", 600, false},
		{"88010000000003X", 256, true},
		{"8801234567890123", 384, true},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s@%d label=%v", tc.cardNo, tc.size, tc.label), func(t *testing.T) {
			text, expires, err := s.Seal(tc.cardNo, 72*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var png []byte
			if tc.label {
				png, err = LabelPNG(text, Label(tc.cardNo, "张三丰", expires, nil), tc.size)
			} else {
				png, err = QRPNG(text, tc.size)
			}
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("code-%d.png", i))
			if err := os.WriteFile(path, png, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
			if err != nil {
				t.Fatalf("zbarimg found no QR code in the %dpx image (label %v): %v", tc.size, tc.label, err)
			}
			if got := strings.TrimRight(string(out), "\n"); got != text {
				t.Fatalf("zbarimg read %q, want %q", got, text)
			}
			if c, err := s.Open(strings.TrimRight(string(out), "\n")); err != nil || c.CardNo != tc.cardNo {
				t.Fatalf("the text zbarimg read does not open to card %s: %+v %v", tc.cardNo, c, err)
			}
		})
	}
}

// TestLabelReadByZbarAtPrintDPI: the console prints the label's QR code
// 36 mm wide (console.css, .label-card .qr) on a 60 × 40 mm label. A
// thermal label printer has 203 or 300 dpi, so the PNG is resampled to
// 288 or 425 dots, by nearest neighbour (the page's image-rendering:
// pixelated) or smoothly (a printer driver that ignores it). The longest
// code, at the smallest size ecard.qrcode allows and at the default, must
// read back with zbarimg from every such print, byte for byte.
func TestLabelReadByZbarAtPrintDPI(t *testing.T) {
	t.Parallel()
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("Z", 7)}, "Z", WithSite("xiamen-campus-2"))
	text, expires, err := s.Seal("8801234567890123", MaxValidity)
	if err != nil {
		t.Fatal(err)
	}
	const qrMM = 36.0
	dir := t.TempDir()
	for _, size := range []int{96, 256} {
		for _, dpi := range []int{203, 300} {
			for _, smooth := range []bool{false, true} {
				name := fmt.Sprintf("%dpx at %ddpi smooth=%v", size, dpi, smooth)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					png, err := LabelPNG(text, Label("8801234567890123", "张三丰", expires, nil), size)
					if err != nil {
						t.Fatal(err)
					}
					src, err := stdpng.Decode(bytes.NewReader(png))
					if err != nil {
						t.Fatal(err)
					}
					// The label is size px wide where the code is; scale it so the code is 36 mm.
					dots := int(qrMM / 25.4 * float64(dpi))
					b := src.Bounds()
					dst := image.NewGray(image.Rect(0, 0, b.Dx()*dots/size, b.Dy()*dots/size))
					var k xdraw.Interpolator = xdraw.NearestNeighbor
					if smooth {
						k = xdraw.BiLinear
					}
					k.Scale(dst, dst.Bounds(), src, b, xdraw.Src, nil)
					var out bytes.Buffer
					if err := stdpng.Encode(&out, dst); err != nil {
						t.Fatal(err)
					}
					path := filepath.Join(dir, fmt.Sprintf("label-%d-%d-%v.png", size, dpi, smooth))
					if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					got, err := exec.CommandContext(ctx, zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
					if err != nil {
						t.Fatalf("zbarimg found no QR code in the label printed at %d dpi: %v", dpi, err)
					}
					if g := strings.TrimRight(string(got), "\n"); g != text {
						t.Fatalf("zbarimg read %q, want %q", g, text)
					}
				})
			}
		}
	}
}
