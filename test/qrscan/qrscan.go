// Package qrscan reads QR codes out of images in tests, the way a scanner
// app does: gozxing's normal detector first; then, for crisp generated
// images, the pure-barcode reader and a harder search; and for a label, the
// top square where the code is (a cashier aims at the code, not the text).
// gozxing's finder-pattern detector alone misses about one random code in
// 200 that zbar and phones read, which made tests flaky.
package qrscan

import (
	"bytes"
	"fmt"
	"image"
	_ "image/png" // the codes medgate prints are PNGs

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
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
			res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
			if err == nil {
				return res.GetText(), nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return "", fmt.Errorf("no QR code found: %w", firstErr)
}
