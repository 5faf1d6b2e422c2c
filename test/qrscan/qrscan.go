// Package qrscan reads QR codes out of images in tests, the way a scanner
// app does: gozxing's normal detector first; then, for crisp generated
// images, the pure-barcode reader and a harder search; and for a label, the
// top square where the code is (a cashier aims at the code, not the text).
// gozxing's finder-pattern detector alone misses about one random code in
// 200 that zbar and phones read, and more of those a browser scaled, which
// made tests flaky: when it fails, the image is cleaned up and tried again,
// and last read with zbarimg (installed by make test).
package qrscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png" // the codes medgate prints are PNGs
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	xdraw "golang.org/x/image/draw"
)

// DecodePNG decodes the image in b and reads its QR code.
func DecodePNG(b []byte) (string, image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", nil, fmt.Errorf("decode image: %w", err)
	}
	text, err := Decode(img)
	return text, img, err
}

// Decode reads the QR code in img.
//
// It tries gozxing's normal detector, the pure-barcode reader and a harder
// search, on the image and on its top square. A screenshot of a code the
// browser scaled smoothly (grey module edges) defeats all of these about
// once in 50 images; so when they fail, Decode tries again on the image
// cut to black and white at mid-grey, enlarged, both, and given a wider
// quiet zone, each with gozxing's local and global binarizers, and last
// with zbarimg when it is installed (TestDecodeScaledScreenshots).
func Decode(img image.Image) (string, error) {
	r := img.Bounds()
	side := min(r.Dx(), r.Dy())
	areas := []image.Image{img}
	if s, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok && r.Dx() != r.Dy() {
		areas = append(areas, s.SubImage(image.Rect(r.Min.X, r.Min.Y, r.Min.X+side, r.Min.Y+side)))
	}
	var firstErr error
	try := func(bmp *gozxing.BinaryBitmap, hints map[gozxing.DecodeHintType]any) (string, bool) {
		res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
		if err == nil {
			return res.GetText(), true
		}
		if firstErr == nil {
			firstErr = err
		}
		return "", false
	}
	for _, area := range areas {
		bmp, err := gozxing.NewBinaryBitmapFromImage(area)
		if err != nil {
			return "", fmt.Errorf("binarise image: %w", err)
		}
		for _, hints := range []map[gozxing.DecodeHintType]any{
			nil,
			{gozxing.DecodeHintType_PURE_BARCODE: true},
			{gozxing.DecodeHintType_TRY_HARDER: true},
		} {
			if text, ok := try(bmp, hints); ok {
				return text, nil
			}
		}
	}
	harder := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	for _, area := range areas {
		for _, cand := range []image.Image{blackWhite(area), enlarged(area, 2), blackWhite(enlarged(area, 3)), quiet(blackWhite(area), 8)} {
			src := gozxing.NewLuminanceSourceFromImage(cand)
			for _, b := range []gozxing.Binarizer{gozxing.NewHybridBinarizer(src), gozxing.NewGlobalHistgramBinarizer(src)} {
				bmp, err := gozxing.NewBinaryBitmap(b)
				if err != nil {
					continue
				}
				if text, ok := try(bmp, harder); ok {
					return text, nil
				}
			}
		}
	}
	// Last, zbar (zbar-tools, which make test installs): another decoder
	// altogether, the one scanner apps and outside checks use.
	if text, err := zbar(img); err == nil {
		return text, nil
	} else if !errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("no QR code found: %w; zbarimg: %v", firstErr, err)
	}
	return "", fmt.Errorf("no QR code found: %w", firstErr)
}

// zbar reads the QR code in img with zbarimg.
func zbar(img image.Image) (string, error) {
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return ZBar(bin, buf.Bytes())
}

// ZBar reads the QR code in the image file content img (PNG, JPEG or any
// format zbarimg opens) with the zbarimg binary bin alone, as an outside
// check does: no gozxing, no clean-up of the image first. bin is usually
// testenv.Tool(t, "zbarimg", "zbar-tools"), which fails a test under
// MEDGATE_REQUIRE_SERVICES=1 when zbar is missing instead of skipping it.
func ZBar(bin string, img []byte) (string, error) {
	f, err := os.CreateTemp("", "qrscan-*.img")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(img); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f.Name()).Output()
	if err != nil {
		return "", fmt.Errorf("zbarimg found no QR code: %w", err)
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// blackWhite cuts img to black and white at mid-grey.
func blackWhite(img image.Image) image.Image {
	r := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		for x := range r.Dx() {
			if color.GrayModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.Gray).Y >= 128 {
				out.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	return out
}

// quiet puts a white border of n pixels around img: a screenshot cut to
// the code may have lost part of its quiet zone.
func quiet(img image.Image, n int) image.Image {
	r := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, r.Dx()+2*n, r.Dy()+2*n))
	xdraw.Draw(out, out.Bounds(), image.White, image.Point{}, xdraw.Src)
	xdraw.Draw(out, image.Rect(n, n, n+r.Dx(), n+r.Dy()), img, r.Min, xdraw.Src)
	return out
}

// enlarged scales img by f, smoothly.
func enlarged(img image.Image, f int) image.Image {
	r := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, r.Dx()*f, r.Dy()*f))
	xdraw.BiLinear.Scale(out, out.Bounds(), img, r, xdraw.Src, nil)
	return out
}
