package browser_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/testenv"
)

// labelOverflow lists the lines of the label (.label-text's) that end
// beyond the label card's content box, to the right or below, each with its
// text and where it ends: a line cut off when printed (the card hides its
// overflow on a 60 × 40 mm label) or running out of the dashed frame on the
// screen.
const labelOverflow = `(() => {
  const card = document.querySelector(".label-card");
  if (!card) return ["no .label-card on the page"];
  const cs = getComputedStyle(card), c = card.getBoundingClientRect();
  const right = c.right - parseFloat(cs.paddingRight), bottom = c.bottom - parseFloat(cs.paddingBottom);
  return Array.from(card.querySelectorAll(".label-text > *")).filter(e => {
    const r = e.getBoundingClientRect();
    return e.scrollWidth > e.clientWidth + 1 || r.right > right + 1 || r.bottom > bottom + 1;
  }).map(e => JSON.stringify(e.innerText) + " ends at " + Math.round(e.getBoundingClientRect().right) + "," + Math.round(e.getBoundingClientRect().bottom) +
    " (text " + e.scrollWidth + " wide in " + e.clientWidth + "), the card's content at " + Math.round(right) + "," + Math.round(bottom));
})()`

// TestDeskLabelOfALongNameFits: a foreign patient's name as on the
// passport may have up to 50 characters, masked on the label to its first
// and last letter with a star for each one between. The cashier's desk
// page shows the label with the masked name whole, within the label's
// frame, on the screen and printed as the 60 × 40 mm label and on A4
// (before, the one unbreakable word of stars ran out of the frame on the
// screen and was cut off at the label's edge when printed); the QR code
// and the expiry stay on the label.
func TestDeskLabelOfALongNameFits(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgateWith(t, nil)
	base := "http://" + mg.HTTPAddr
	const name = "Maximilian Alexander Wolfgang Hohenzollern Sigmar" // 49 characters
	masked := "M" + strings.Repeat("*", len(name)-2) + "r"

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	b.Go("/console/form/ecard/desk")
	form := `form[action="/console/form/ecard/desk"]`
	b.Fill(map[string]string{form + ` input[name=name]`: name, form + ` select[name=idType]`: "03", form + ` input[name=idNumber]`: "C01X00T47",
		form + ` input[name=issuingCountry]`: "DEU", form + ` input[name=phone]`: "+4915112345678"})
	b.Click(form + ` button[type=submit]`)
	b.Wait(".label-card img.qr")
	b.WaitTrue(browser.StepTimeout, "the code's image loaded", `document.querySelector(".label-card img.qr").complete && document.readyState === "complete"`)
	if label := b.Text(".label-card"); !strings.Contains(strings.Join(strings.Fields(label), ""), masked) {
		t.Fatalf("the desk's label %q lacks the masked name %s", label, masked)
	}

	for _, layout := range []string{"screen", "label", "a4"} {
		media := "print"
		if layout == "screen" {
			media = ""
		}
		var ok bool
		b.Eval(fmt.Sprintf(`document.body.classList.remove("print-label","print-a4"); document.body.classList.add("print-%s"); true`, layout), &ok)
		b.Run("media "+layout, chromedp.ActionFunc(func(ctx context.Context) error {
			return emulation.SetEmulatedMedia().WithMedia(media).Do(ctx)
		}))
		var over []string
		b.Eval(labelOverflow, &over)
		if len(over) > 0 {
			b.Shot("label-overflow-" + layout)
			t.Errorf("the %s layout of the label of %s cuts lines off at the label's edge: %q", layout, masked, over)
		}
		var qr struct{ W, H float64 }
		b.Eval(`(() => { const r = document.querySelector(".label-card img.qr").getBoundingClientRect(); return {w: r.width, h: r.height}; })()`, &qr)
		if qr.W < 50 || qr.H < 50 {
			t.Errorf("the %s layout squeezed the QR code to %.0f × %.0f px", layout, qr.W, qr.H)
		}
	}
	b.Run("media back to screen", chromedp.ActionFunc(func(ctx context.Context) error {
		return emulation.SetEmulatedMedia().WithMedia("").Do(ctx)
	}))
	for _, p := range b.Problems() {
		t.Errorf("the desk page went wrong in Chromium: %s", p)
	}
}
