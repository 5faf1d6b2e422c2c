package adapter

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRefusalMasksThePerson: a national refusal quoting the worker from
// the national system's own records (the simulator's: the filing's name,
// social-security number and phone) reached the reply whole – its
// external.message and the detail of its diagnostic – which the host
// publishes and stores, and the exchange journal's error. Every copy is
// masked now; the serials, visit and settlement numbers and the
// institution code stay readable.
func TestRefusalMasksThePerson(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		code string
		// run prepares the stay and returns the message to send and the
		// operational ids its reply must still show.
		run func(c *chain) (payload map[string]any, keep []string)
		// wantCode is the national code of a rejected reply; "" wants
		// an invalid one (the refusal quoted in a rule's diagnostic).
		wantCode string
	}{
		"GYU101 under another name (GYD051's check_message, invalid)": {
			code: "GYU101",
			run: func(c *chain) (map[string]any, []string) {
				adm := c.admission("ZYMASK03")
				adm["aac003"] = "王小明"
				return adm, []string{c.filing["filing_no"].(string)}
			},
		},
		"GYD104 under another name (a query, decided by GYD053)": {
			code: "GYD104",
			run: func(c *chain) (map[string]any, []string) {
				c.settle("ZYMASK01")
				return map[string]any{"aac002": c.filing["aac002"], "aac003": "王小明"}, nil
			},
			wantCode: "E2007",
		},
		"GYU102 of a stay settled at the national system (an upload)": {
			code: "GYU102",
			run: func(c *chain) (map[string]any, []string) {
				v, lines := c.stay("ZYMASK02")
				out, err := c.sim.Apply("GYU103", c.settlementOf(v, "ZYMASK02", lines))
				if err != nil {
					c.t.Fatalf("settle at the national side: %v", err)
				}
				return fees(v, "ZYMASK02", line("0003", "1.00", "1", "0")), []string{v, out["settle_no"].(string)}
			},
			wantCode: "E6103",
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			logs := &logBuffer{}
			c.logger = slog.New(slog.NewTextHandler(logs, nil))
			c.connect()
			payload, keep := tc.run(c)
			start := len(c.host.Exchanges())
			r := c.send(tc.code, payload)
			ext := ""
			switch {
			case tc.wantCode == "" && r.Status == sdk.StatusInvalid:
			case tc.wantCode != "" && r.Status == sdk.StatusRejected && r.External != nil && r.External.Code == tc.wantCode:
				ext = r.External.Message
				keep = append(keep, r.External.MsgID)
			default:
				t.Fatalf("status %s, external %+v, want rejected %q (\"\": invalid): %s", r.Status, r.External, tc.wantCode, r.Diagnostics)
			}
			shown := ext + "\n" + r.Diagnostics.String() + "\n" + string(r.Payload)
			journal := ""
			for _, x := range c.host.Exchanges()[start:] {
				journal += x.Exchange.Error + "\n"
			}
			id, name, phone := c.filing["aac002"].(string), c.filing["aac003"].(string), c.filing["aae005"].(string)
			for where, text := range map[string]string{"reply": shown, "journal": journal, "logs": logs.buf.String()} {
				for _, leak := range []string{id, name, phone, "王小明"} {
					if strings.Contains(text, leak) {
						t.Errorf("the %s shows %q: %s", where, leak, text)
					}
				}
			}
			masked := id[:3] + strings.Repeat("*", len(id)-7) + id[len(id)-4:]
			if !strings.Contains(shown, masked) {
				t.Errorf("the reply does not show the national message, masked (%s): %q", masked, shown)
			}
			for _, k := range keep {
				if !strings.Contains(shown, k) {
					t.Errorf("the reply no longer shows %s: %s", k, shown)
				}
			}
		})
	}
}
