package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// hisLookup asks a HIS service which patient a temporary card belongs to
// (tempCardLookup set to its URL). The protocol is medgate's, small enough
// for a HIS team to add:
//
//	POST <url>  {"tempCardNo": "99000123"}
//	200 {"found": true, "patientId": "…", "name": "…", "idType": "01", "idNumber": "…", "phone": "…"}
//	200 {"found": false}   or   404
//
// Anything else is a failed lookup.
type hisLookup struct {
	url    string
	client *http.Client
}

// hisPatient is the HIS service's answer.
type hisPatient struct {
	Found     bool   `json:"found"`
	PatientID string `json:"patientId"`
	Name      string `json:"name"`
	IDType    string `json:"idType"`
	IDNumber  string `json:"idNumber"`
	Phone     string `json:"phone"`
}

// masked is the patient with name, ID number and phone masked.
func (p hisPatient) masked() hisPatient {
	p.Name, p.IDNumber, p.Phone = card.MaskName(p.Name), card.MaskIDNumber(p.IDNumber), card.MaskPhone(p.Phone)
	return p
}

// maxLookupAnswer bounds the HIS service's answer.
const maxLookupAnswer = 64 << 10

// parseLookup checks a tempCardLookup URL.
func parseLookup(raw string, timeout time.Duration) (*hisLookup, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not links, none or an http(s) URL", raw)
	}
	return &hisLookup{url: u.String(), client: &http.Client{Timeout: timeout}}, nil
}

// find asks the HIS service about one temporary card.
func (l *hisLookup) find(ctx context.Context, tempNo string) (hisPatient, error) {
	body, _ := json.Marshal(map[string]string{"tempCardNo": tempNo})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return hisPatient{}, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return hisPatient{}, fmt.Errorf("call %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupAnswer+1))
	switch {
	case err != nil:
		return hisPatient{}, fmt.Errorf("read the answer of %s: %w", req.URL.Redacted(), err)
	case resp.StatusCode == http.StatusNotFound:
		return hisPatient{}, nil
	case resp.StatusCode != http.StatusOK:
		return hisPatient{}, fmt.Errorf("%s answered HTTP %d", req.URL.Redacted(), resp.StatusCode)
	case len(b) > maxLookupAnswer:
		return hisPatient{}, fmt.Errorf("%s answered more than %d bytes", req.URL.Redacted(), maxLookupAnswer)
	}
	var p hisPatient
	if err := json.Unmarshal(b, &p); err != nil {
		return hisPatient{}, fmt.Errorf("%s answered something that is not {\"found\": …}: %w", req.URL.Redacted(), err)
	}
	if p.Found && p.PatientID == "" && p.IDNumber == "" {
		return hisPatient{}, fmt.Errorf("%s answered found without patientId or idNumber", req.URL.Redacted())
	}
	return p, nil
}

// hisScanReply is the payload of a scan of a temporary card the HIS
// service knows.
type hisScanReply struct {
	Result     string     `json:"result"`
	TempCardNo string     `json:"tempCardNo"`
	Prefix     string     `json:"prefix"`
	Source     string     `json:"source"`
	Patient    hisPatient `json:"patient"`
	Masked     bool       `json:"masked"`
}

// scanHIS answers a scan of a temporary card that is not linked here by
// asking the HIS service. The exchange is journaled with the identity
// masked.
func (h handler) scanHIS(ctx context.Context, tempNo, prefix string, reveal bool, refusal tempScanRefusal) (*sdk.HandleResponse, error) {
	start := h.a.now()
	p, err := h.cfg.his.find(ctx, tempNo)
	status, answer := "ok", any(p.masked())
	if err != nil {
		status, answer = "failed", map[string]string{"error": err.Error()}
	}
	req, _ := json.Marshal(map[string]string{"tempCardNo": tempNo})
	resp, _ := json.Marshal(answer)
	if _, jerr := h.host().Journal(ctx, sdk.Exchange{MessageID: h.req.MessageID, System: "his", Code: "tempcard-lookup", Serial: tempNo,
		Request: req, Response: resp, Status: status, Duration: h.a.now().Sub(start)}); jerr != nil {
		return nil, fmt.Errorf("journal the lookup of temporary card %s: %w", tempNo, jerr)
	}
	summary := fmt.Sprintf("%s is a temporary-card number (prefix %s)", tempNo, prefix)
	if err != nil {
		refusal.LookupFailed = true
		return invalid("$.text", ResultTemporaryCard, summary,
			"the HIS lookup (tempCardLookup) failed: "+err.Error()+"; find the patient in HIS by the temporary card, and check the lookup service", refusal)
	}
	if !p.Found {
		return invalid("$.text", ResultTemporaryCard, summary,
			"neither linked to an e-card nor known to the HIS lookup; check the number against the card", refusal)
	}
	out := hisScanReply{Result: ResultTemporaryCard, TempCardNo: tempNo, Prefix: prefix, Source: "his", Patient: p.masked(), Masked: true}
	if reveal {
		out.Patient, out.Masked = p, false
	}
	return ok(out)
}
