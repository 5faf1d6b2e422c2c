package console

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/medgate/medgate/test/browser"
)

// TestHeaderFitsANarrowWindowInChromium opens the overview, as an admin
// (who sees every menu entry), in headless Chromium at a 1024 px window
// and a 1366×768 laptop: every menu entry stays on one line and the
// header with the menu takes at most a quarter of the window's height,
// so the page itself starts on the first screen. The menu used to shrink
// beside the signed-in user's name into a column one entry wide, each
// entry broken over two lines, and pushed every page half a screen down.
func TestHeaderFitsANarrowWindowInChromium(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	b := browser.Start(t, f.srv.URL)
	b.SignIn(map[string]string{"user": "duty.admin", "password": testToken})
	for _, size := range [][2]int64{{1024, 768}, {1366, 768}} {
		where := fmt.Sprintf("%d×%d", size[0], size[1])
		b.Run("window "+where, chromedp.EmulateViewport(size[0], size[1]))
		b.Go("/console/")
		b.Wait(`header.top nav a`)
		var broken []string
		b.Eval(`[...document.querySelectorAll("header.top nav a")].filter(a => a.getClientRects().length > 1 || a.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(a).lineHeight || 20)).map(a => a.textContent)`, &broken)
		if len(broken) > 0 {
			b.Shot("broken-menu-" + where)
			t.Errorf("at %s the menu entries %q break over more than one line", where, broken)
		}
		var height float64
		b.Eval(`document.querySelector("header.top").getBoundingClientRect().height`, &height)
		if height > float64(size[1])/4 {
			b.Shot("tall-header-" + where)
			t.Errorf("at %s the header is %.0f px high, more than a quarter of the window's %d px: the page starts below the first screen", where, height, size[1])
		}
	}
}
