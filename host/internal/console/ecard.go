package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// opQRCode issues a sealed QR code (plugins/ecard/README.md).
const opQRCode = "ecard.qrcode"

// defaultValidity is the validity the print form proposes.
const defaultValidity = "72h"

// printData is the e-card print pages' data.
type printData struct {
	Sites    []string
	Site     string
	CardNo   string
	Validity string
	Problem  *flash
	// After a successful request:
	Label     qrLabel
	QR        template.URL // data: URL of the QR PNG
	LabelPNG  template.URL // data: URL of the plugin's label image (ASCII only)
	ExpiresAt time.Time
	MessageID string
}

// qrLabel is the label text of ecard.qrcode's reply.
type qrLabel struct {
	CardNo          string   `json:"cardNo"`
	Name            string   `json:"name"`
	Expires         string   `json:"expires"`
	ValidUntil      string   `json:"validUntil"`
	ValidUntilASCII string   `json:"validUntilAscii"`
	Lines           []string `json:"lines"`
}

// qrReply is the part of ecard.qrcode's reply the console uses. The QR
// text itself is not shown: it is in the image.
type qrReply struct {
	CardNo    string    `json:"cardNo"`
	ExpiresAt time.Time `json:"expiresAt"`
	PNG       []byte    `json:"png"`
	Label     qrLabel   `json:"label"`
	LabelPNG  []byte    `json:"labelPng"`
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// pngURL returns a data: URL for a PNG, or "" when the bytes are not a PNG.
func pngURL(b []byte) template.URL {
	if !bytes.HasPrefix(b, pngMagic) {
		return ""
	}
	// #nosec: base64 of bytes checked to be a PNG, in a data: URL of type image/png.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
}

func (c *Console) printForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := printData{Sites: c.sitesOf("ecard"), Site: q.Get("site"), CardNo: q.Get("cardNo"), Validity: defaultValidity}
	if d.Site == "" && len(d.Sites) > 0 {
		d.Site = d.Sites[0]
	}
	c.render(w, r, http.StatusOK, "printform", "电子就诊卡打印 (e-card print)", "print", d)
}

// print asks ecard.qrcode for a code with its label and shows the
// print-ready label.
func (c *Console) print(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	d := printData{Sites: c.sitesOf("ecard"), Site: r.PostFormValue("site"), CardNo: strings.TrimSpace(r.PostFormValue("cardNo")),
		Validity: strings.TrimSpace(r.PostFormValue("validity"))}
	if d.Validity == "" {
		d.Validity = defaultValidity
	}
	if !c.checkSite(w, r, "ecard", d.Site) {
		return
	}
	if d.CardNo == "" {
		d.Problem = &flash{Title: "请输入卡号 (card number required)", Lines: []string{"Enter the e-card number (on the registration reply or in the recent-cards work list)."}}
		c.render(w, r, http.StatusOK, "printform", "电子就诊卡打印 (e-card print)", "print", d)
		return
	}
	res := c.send(r.Context(), c.o.Wait, prefixAction, d.Site, opQRCode, d.CardNo,
		map[string]any{"cardNo": d.CardNo, "validity": d.Validity, "printLabel": true})
	c.o.Logger.Info("console: e-card QR code issued", "operator", s.operator, "site", d.Site, "message", res.ID, "ok", res.ok())
	d.MessageID = res.ID
	if !res.ok() {
		d.Problem = res.flash("")
		c.render(w, r, http.StatusOK, "printform", "电子就诊卡打印 (e-card print)", "print", d)
		return
	}
	var rep qrReply
	if err := json.Unmarshal(res.Reply.Payload, &rep); err != nil || pngURL(rep.PNG) == "" {
		d.Problem = &flash{Title: "二维码回复不完整 (unexpected reply)", MessageID: res.ID, Lines: []string{"ecard.qrcode did not reply with a PNG image; check the plugin version"}}
		c.render(w, r, http.StatusOK, "printform", "电子就诊卡打印 (e-card print)", "print", d)
		return
	}
	d.Label, d.QR, d.LabelPNG, d.ExpiresAt = rep.Label, pngURL(rep.PNG), pngURL(rep.LabelPNG), rep.ExpiresAt
	if d.Label.CardNo == "" {
		d.Label.CardNo = rep.CardNo
	}
	c.render(w, r, http.StatusOK, "print", "打印 (print) "+rep.CardNo, "print", d)
}
