package card

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Image size limits for QRPNG and LabelPNG.
const (
	MinImageSize = 64
	MaxImageSize = 4096
)

// QRPNG renders text as a sizePx × sizePx PNG QR code at error-correction
// level M, with the standard 4-module quiet zone. Modules are drawn as whole
// pixels and centred, so the code prints sharply. sizePx must be between
// MinImageSize and MaxImageSize and give at least 2 pixels per module.
func QRPNG(text string, sizePx int) ([]byte, error) {
	img, err := qrImage(text, sizePx, sizePx, 0)
	if err != nil {
		return nil, err
	}
	return encodePNG(img)
}

func qrImage(text string, sizePx, width, height int) (*image.Paletted, error) {
	if sizePx < MinImageSize || sizePx > MaxImageSize {
		return nil, fmt.Errorf("image size %d px must be between %d and %d", sizePx, MinImageSize, MaxImageSize)
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	bm := q.Bitmap() // includes the quiet zone
	module := sizePx / len(bm)
	if module < 2 {
		return nil, fmt.Errorf("image size %d px is too small for a %d-module QR code; use at least %d px", sizePx, len(bm), 2*len(bm))
	}
	if height < sizePx {
		height = sizePx
	}
	img := image.NewPaletted(image.Rect(0, 0, width, height), color.Palette{color.White, color.Black})
	x0 := (width - module*len(bm)) / 2
	y0 := (sizePx - module*len(bm)) / 2
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fill(img, x0+x*module, y0+y*module, module, module)
			}
		}
	}
	return img, nil
}

func fill(img *image.Paletted, x, y, w, h int) {
	for yy := y; yy < y+h; yy++ {
		off := img.PixOffset(x, yy)
		for i := range w {
			img.Pix[off+i] = 1
		}
	}
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// LabelText is the text printed with an e-card QR code.
type LabelText struct {
	// CardNo is the card number, unmasked.
	CardNo string `json:"cardNo"`
	// Name is the masked name, such as "张*".
	Name string `json:"name"`
	// Expires is the expiry in the label's time zone, "2006-01-02 15:04".
	// Seconds are dropped, so the printed time is never later than the real
	// expiry.
	Expires string `json:"expires"`
	// ValidUntil is "有效期至 " + Expires.
	ValidUntil string `json:"validUntil"`
	// ValidUntilASCII is "VALID UNTIL " + Expires, for printers without a CJK
	// font.
	ValidUntilASCII string `json:"validUntilAscii"`
	// Newborn is set on the label of a newborn registered under its
	// guardian (see WithNewborn): its birth order and sex, such as
	// "新生儿 胎次 2 男", which tell twins apart when their provisional
	// names (李梅之女) mask alike. Empty for anyone else.
	Newborn string `json:"newborn,omitempty"`
	// NewbornASCII is Newborn for printers without a CJK font, such as
	// "NEWBORN 2 M".
	NewbornASCII string `json:"newbornAscii,omitempty"`
}

// Lines returns the label lines in print order: card number, masked name,
// for a newborn its birth order and sex, validity.
func (l LabelText) Lines() []string {
	if l.Newborn != "" {
		return []string{l.CardNo, l.Name, l.Newborn, l.ValidUntil}
	}
	return []string{l.CardNo, l.Name, l.ValidUntil}
}

// WithNewborn returns l with the line of a newborn registered under its
// guardian: "新生儿 胎次 " and the birth order, then the sex of GB/T 2261.1
// gender code 1 (男) or 2 (女); an unknown (0) or unspecified (9) gender
// adds none. Twins, whose masked names are often the same (李**女 for
// 李梅之女), then get labels that say which child each is.
func (l LabelText) WithNewborn(birthOrder int, gender string) LabelText {
	l.Newborn = fmt.Sprintf("新生儿 胎次 %d", birthOrder)
	l.NewbornASCII = fmt.Sprintf("NEWBORN %d", birthOrder)
	switch gender {
	case "1":
		l.Newborn += " 男"
		l.NewbornASCII += " M"
	case "2":
		l.Newborn += " 女"
		l.NewbornASCII += " F"
	}
	return l
}

// chinaTime is UTC+8 without a tz database lookup.
var chinaTime = time.FixedZone("CST", 8*60*60)

// Label builds the label text for a card. The name is masked with MaskName,
// and expires is shown in loc. A nil loc means China Standard Time (UTC+8).
func Label(cardNo, name string, expires time.Time, loc *time.Location) LabelText {
	if loc == nil {
		loc = chinaTime
	}
	exp := expires.In(loc).Format("2006-01-02 15:04")
	return LabelText{
		CardNo:          cardNo,
		Name:            MaskName(name),
		Expires:         exp,
		ValidUntil:      "有效期至 " + exp,
		ValidUntilASCII: "VALID UNTIL " + exp,
	}
}

// LabelPNG renders a printable label: the QR code for qrText at sizePx, with
// three ASCII lines beneath it (card number, "VALID UNTIL", the expiry), and
// for a newborn its NewbornASCII line after the card number, in the 7×13
// font of golang.org/x/image/font/basicfont, enlarged for big labels. The
// masked name is not drawn, because that font has no Chinese glyphs: print
// label.Name with the printer's own font. The image is widened if a line
// does not fit in sizePx.
func LabelPNG(qrText string, label LabelText, sizePx int) ([]byte, error) {
	lines := []string{label.CardNo, "VALID UNTIL", label.Expires}
	if label.NewbornASCII != "" {
		lines = []string{label.CardNo, label.NewbornASCII, "VALID UNTIL", label.Expires}
	}
	face := basicfont.Face7x13
	scale := max(1, sizePx/128)
	margin := face.Advance * scale
	width := sizePx
	for _, l := range lines {
		for _, r := range l {
			if r < 0x20 || r > 0x7e {
				return nil, fmt.Errorf("label line %q has %q, which the label font cannot draw; use printable ASCII", l, r)
			}
		}
		width = max(width, font.MeasureString(face, l).Ceil()*scale+2*margin)
	}
	lineH := (face.Height + 2) * scale
	height := sizePx + len(lines)*lineH + margin
	img, err := qrImage(qrText, sizePx, width, height)
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		textW := font.MeasureString(face, l).Ceil() * scale
		drawText(img, face, (width-textW)/2, sizePx+i*lineH, l, scale)
	}
	return encodePNG(img)
}

// drawText draws s at its natural size into a small bitmap, then enlarges it
// by scale (nearest neighbour keeps the pixels crisp for thermal printers).
func drawText(img *image.Paletted, face *basicfont.Face, x, y int, s string, scale int) {
	w := font.MeasureString(face, s).Ceil()
	small := image.NewGray(image.Rect(0, 0, w, face.Height))
	draw.Draw(small, small.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: small, Src: image.Black, Face: face, Dot: fixed.P(0, face.Ascent)}
	d.DrawString(s)
	xdraw.NearestNeighbor.Scale(img, image.Rect(x, y, x+w*scale, y+face.Height*scale), small, small.Bounds(), draw.Src, nil)
}
