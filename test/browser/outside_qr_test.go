package browser_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/qrscan"
	"github.com/medgate/medgate/test/testenv"
)

// TestOutsideEveryQRReadByZbar reads every QR code medgate produces for a
// card with zbarimg alone (no gozxing, no clean-up of the image), and
// scans what it read through the host back to the same card:
//   - ecard.qrcode's png and labelPng, through the HTTP ingress;
//   - on the desk (登记) and print (打印) pages in Chromium: the code on the
//     screen at the counter's 1366×768 and in a narrow 390×844 window, the
//     label image under its details, and the page printed to PDF in both
//     layouts (the 60×40 mm label and A4), rasterised by pdftoppm at a
//     label printer's 203 dpi and at 300 dpi.
func TestOutsideEveryQRReadByZbar(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	pdftoppm := testenv.Tool(t, "pdftoppm", "poppler-utils")
	mg := startPagesMedgate(t)
	base := "http://" + mg.HTTPAddr
	n := 0
	send := func(typ string, payload any) (int, []byte, string) {
		n++
		code, r := post(t, base, fmt.Sprintf("outside-qr-%d-%d", time.Now().UnixNano(), n), typ, payload)
		return code, r.Payload, r.Status
	}
	code, reg, _ := send("ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var card struct{ CardNo string }
	if err := json.Unmarshal(reg, &card); code != http.StatusOK || err != nil || card.CardNo == "" {
		t.Fatalf("ecard.register: HTTP %d %s", code, reg)
	}
	// scansTo checks that what zbarimg read from where is an e-card code
	// of the card.
	scansTo := func(where, text string) {
		t.Helper()
		_, payload, status := send("ecard.scan", map[string]any{"text": text})
		var s struct{ CardNo string }
		_ = json.Unmarshal(payload, &s)
		if status != "ok" || s.CardNo != card.CardNo {
			t.Errorf("%s: zbarimg read %q, which scans to %s card %q, want card %s", where, text, status, s.CardNo, card.CardNo)
		}
	}
	read := func(where string, img []byte) {
		t.Helper()
		text, err := qrscan.ZBar(zbar, img)
		if err != nil {
			p := filepath.Join(browser.ScreenshotDirOf(t), "zbar-"+strings.NewReplacer(" ", "-", "/", "-").Replace(where)+".png")
			_ = os.WriteFile(p, img, 0o644)
			t.Errorf("%s: %v (the image: %s)", where, err, p)
			return
		}
		scansTo(where, text)
	}

	_, qr, status := send("ecard.qrcode", map[string]any{"cardNo": card.CardNo, "printLabel": true})
	var q struct{ PNG, LabelPNG []byte }
	if err := json.Unmarshal(qr, &q); status != "ok" || err != nil || len(q.PNG) == 0 || len(q.LabelPNG) == 0 {
		t.Fatalf("ecard.qrcode with printLabel: %s %v: %.200s", status, err, qr)
	}
	read("ecard.qrcode png", q.PNG)
	read("ecard.qrcode labelPng", q.LabelPNG)

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	pages := map[string]struct {
		path   string
		fields map[string]string
	}{
		"desk":  {path: "/console/form/ecard/desk", fields: map[string]string{`input[name=name]`: "张三丰", `input[name=idNumber]`: patientID, `input[name=phone]`: "13812345678"}},
		"print": {path: "/console/form/ecard/print?site=s1&cardNo=" + card.CardNo},
	}
	for name, pg := range pages {
		for _, size := range [][2]int64{{1366, 768}, {390, 844}} {
			where := fmt.Sprintf("the %s page at %d×%d", name, size[0], size[1])
			b.Run("window "+where, chromedp.EmulateViewport(size[0], size[1]))
			b.Go(pg.path)
			form := `main form[action^="` + strings.SplitN(pg.path, "?", 2)[0] + `"]`
			b.Wait(form + ` button[type=submit]`)
			b.Fill(pg.fields)
			b.Click(form + ` button[type=submit]`)
			b.Wait(".label-card img.qr")
			b.WaitTrue(browser.StepTimeout, "the code's image loaded", `document.querySelector(".label-card img.qr").complete && document.readyState === "complete"`)
			if got := b.Text(".label-card .label-cardno"); got != card.CardNo {
				t.Errorf("%s shows card %q, want %s", where, got, card.CardNo)
			}
			read(where+", the code on the screen", b.ElementShot(".label-card img.qr"))
			if size[0] != 1366 {
				continue
			}
			var src string
			b.Eval(`(document.querySelector("img.labelpng") || {src: ""}).src`, &src)
			if raw, ok := strings.CutPrefix(src, "data:image/png;base64,"); !ok {
				t.Errorf("%s has no label image (img.labelpng) as a PNG data URL: src %.40q", where, src)
			} else if img, err := base64.StdEncoding.DecodeString(raw); err != nil {
				t.Errorf("%s: the label image is not base64: %v", where, err)
			} else {
				read(where+", the label image", img)
			}
			for _, layout := range []string{"label", "a4"} {
				var ok bool
				b.Eval(fmt.Sprintf(`document.body.classList.remove("print-label","print-a4"); document.body.classList.add("print-%s"); true`, layout), &ok)
				pdf := b.PDF(true)
				for _, dpi := range []int{203, 300} {
					read(fmt.Sprintf("%s printed (%s layout) at %d dpi", where, layout, dpi), rasterise(t, pdftoppm, pdf, dpi))
				}
			}
		}
	}
	b.Run("window back to 1280×900", chromedp.EmulateViewport(1280, 900))
	for _, p := range b.Problems() {
		t.Errorf("a page went wrong in Chromium: %s", p)
	}
}

// rasterise renders the first page of pdf at dpi with pdftoppm, as a
// printer driver does, and returns the PNG.
func rasterise(t *testing.T, pdftoppm string, pdf []byte, dpi int) []byte {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "page.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdftoppm, "-r", fmt.Sprint(dpi), "-png", "-singlefile", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm the printed page: %v\n%s", err, out)
	}
	img, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
