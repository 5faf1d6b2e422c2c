package qrscan

import (
	"encoding/base32"
	"image"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/medgate/medgate/plugins/ecard/card"
)

// TestDecodeScaledScreenshots: the e-card codes medgate prints, of the
// longest kind (format version 2), at 128–287 px, shown at 120–200 px as
// the console's 36 mm does at 96 dpi and a screenshot keeps them, scaled
// pixelated (the console's image-rendering) or smoothly, all read back.
// gozxing's detector alone missed some of these, which made the console's
// walk-through flaky.
func TestDecodeScaledScreenshots(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	n := 1500
	if testing.Short() {
		n = 300
	}
	for i := range n {
		b := make([]byte, 50)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		text := "MGE2" + enc.EncodeToString(b)[:79]
		size := 128 + i%160
		png, err := card.QRPNG(text, size)
		if err != nil {
			t.Fatal(err)
		}
		_, img, err := DecodePNG(png)
		if err != nil {
			t.Fatal(err)
		}
		shown := 120 + i%81
		var k xdraw.Interpolator = xdraw.NearestNeighbor
		if i%2 == 1 {
			k = xdraw.BiLinear
		}
		shot := image.NewRGBA(image.Rect(0, 0, shown, shown))
		k.Scale(shot, shot.Bounds(), img, img.Bounds(), xdraw.Src, nil)
		if got, err := Decode(shot); err != nil || got != text {
			t.Errorf("code %d (%d px shown at %d px, smooth %v): read %q, %v", i, size, shown, i%2 == 1, got, err)
		}
	}
}
