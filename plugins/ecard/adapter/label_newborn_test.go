package adapter

import (
	"bytes"
	"image/png"
	"slices"
	"testing"
)

// TestNewbornLabelsTellTwinsApart: twin girls registered at the desk with
// the same provisional name (李梅之女, masked 李**女 on the label) get labels
// that differ by more than the card number: each says it is a newborn, its
// birth order and sex, on the label's lines (the console's label) and in
// the ASCII label image; before, the two labels read alike, so a label put
// on the wrong twin went unnoticed. A boy's label says 男, an adult's label
// has no such line, and ecard.qrcode of a newborn card prints the same line.
func TestNewbornLabelsTellTwinsApart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	desk := func(p map[string]any) deskReply {
		t.Helper()
		var r deskReply
		e.ok(OpDesk, p, &r)
		return r
	}
	first := desk(newbornOf("李梅之女", "2", 1))
	second := desk(newbornOf("李梅之女", "2", 2))
	boy := desk(newbornOf("李梅之子", "1", 3))
	if first.CardNo == second.CardNo || first.Label.Name != second.Label.Name {
		t.Fatalf("twins: cards %s and %s, masked names %q and %q; want two cards under one masked name", first.CardNo, second.CardNo, first.Label.Name, second.Label.Name)
	}
	for _, tc := range []struct {
		what            string
		got             deskReply
		name, line, png string
	}{
		{"the first twin", first, "李**女", "新生儿 胎次 1 女", "NEWBORN 1 F"},
		{"the second twin", second, "李**女", "新生儿 胎次 2 女", "NEWBORN 2 F"},
		{"the third, a boy", boy, "李**子", "新生儿 胎次 3 男", "NEWBORN 3 M"},
	} {
		want := []string{tc.got.CardNo, tc.name, tc.line, tc.got.Label.ValidUntil}
		if !slices.Equal(tc.got.Label.Lines, want) || tc.got.Label.Newborn != tc.line || tc.got.Label.NewbornASCII != tc.png {
			t.Errorf("%s's label: lines %q, newborn %q / %q; want lines %q, newborn %q / %q", tc.what, tc.got.Label.Lines, tc.got.Label.Newborn, tc.got.Label.NewbornASCII, want, tc.line, tc.png)
		}
	}

	// The ASCII label image has the newborn's line: one line taller than
	// an adult's at the same size.
	adult := desk(map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"})
	if slices.ContainsFunc(adult.Label.Lines, func(l string) bool { return l != adult.CardNo && l != adult.Label.Name && l != adult.Label.ValidUntil }) || adult.Label.Newborn != "" {
		t.Errorf("an adult's label has lines %q, newborn %q; want the card number, name and validity only", adult.Label.Lines, adult.Label.Newborn)
	}
	height := func(b []byte) int {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("label image: %v", err)
		}
		return img.Bounds().Dy()
	}
	if a, n := height(adult.LabelPNG), height(first.LabelPNG); n <= a {
		t.Errorf("the newborn's label image is %d px high, the adult's %d: the newborn's line is not drawn", n, a)
	}
	if got := decodeQR(t, first.LabelPNG); got != first.Text {
		t.Errorf("the newborn's label image reads %q, want its code %q", got, first.Text)
	}

	var qr qrReply
	e.ok(OpQRCode, map[string]any{"cardNo": second.CardNo}, &qr)
	if qr.Label.Newborn != "新生儿 胎次 2 女" || !slices.Contains(qr.Label.Lines, "新生儿 胎次 2 女") {
		t.Errorf("ecard.qrcode of the second twin's card: label %+v, want the line 新生儿 胎次 2 女", qr.Label)
	}
}
