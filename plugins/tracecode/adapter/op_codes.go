package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/plugins/tracecode/platform"
	"github.com/medgate/medgate/schemas"
)

// billPayload is the payload of the by-document queries.
type billPayload struct {
	BillNo string `json:"billNo"`
}

// codePayload is the payload of tracecode.codes.smallest.
type codePayload struct {
	Code string `json:"code"`
}

// listedCode is one code of a document as replies show it.
type listedCode struct {
	Code       string `json:"code"`
	Kind       string `json:"kind,omitempty"`
	Product    string `json:"product,omitempty"`
	Level      int    `json:"level,omitempty"`
	ParentCode string `json:"parentCode,omitempty"`
	LineNo     int    `json:"lineNo,omitempty"`
	Problem    string `json:"problem,omitempty"`
}

// hierNode is a code with its place in the packaging hierarchy, as the
// platform answers.
type hierNode struct {
	Code          string `json:"code"`
	CodeLevel     int    `json:"codeLevel"`
	CodePackLevel int    `json:"codePackLevel"`
	ParentCode    string `json:"parentCode"`
	IsSmallest    bool   `json:"isSmallest"`
	PkgRatio      string `json:"pkgRatio"`
	BoxStatus     string `json:"boxStatus"`
	LineNo        int    `json:"lineNo"`
}

// callChecked calls op, checks the answer's data against the output schema
// (problems become warnings) and decodes it into out.
func (h *handler) callChecked(ctx context.Context, op platform.Op, serial string, in, out any) (platform.Result, sdk.Diagnostics, error) {
	var raw json.RawMessage
	res, err := h.cfg.client.Call(ctx, h.observe(serial), op, in, &raw)
	if err != nil || res.NotFound {
		return res, nil, err
	}
	var ds sdk.Diagnostics
	if sc, found := h.cfg.schemas.Get("tracecode", string(op)); found && len(raw) > 0 {
		var generic any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&generic) == nil {
			for i, fe := range sc.ValidateOutput(generic, schemas.ValidateOptions{AllowUnknown: true}) {
				if i == 20 {
					ds.Warn("", "external", "more answer problems not shown", "")
					break
				}
				ds.Warn(fe.Path, fe.Rule, "the platform's answer does not match schema tracecode/"+string(op), fe.Message)
			}
		}
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res, ds, fmt.Errorf("%w: %s answer: %v", platform.ErrProtocol, op, err)
		}
	}
	return res, ds, nil
}

// codesByBill lists the codes of a document without hierarchy.
func (h *handler) codesByBill(ctx context.Context) (*sdk.HandleResponse, error) {
	var p billPayload
	if ds := h.validated("billcodes", &p); ds != nil {
		return invalid(ds)
	}
	var ans struct {
		BillNo string       `json:"billNo"`
		Codes  []listedCode `json:"codes"`
	}
	res, ds, err := h.callChecked(ctx, platform.OpBillCodes, p.BillNo, p, &ans)
	if err != nil {
		return platformFailure("the codes query", err)
	}
	if res.NotFound {
		return notFound("document "+p.BillNo, res)
	}
	bad := 0
	for i := range ans.Codes {
		c := &ans.Codes[i]
		pc, err := code.Parse(c.Code, h.cfg.policy)
		if err != nil {
			c.Problem = err.Error()
			bad++
			if bad <= 20 {
				ds.Warn(fmt.Sprintf("$.codes[%d]", i), "format", "the platform returned a code this site does not accept", err.Error())
			}
			continue
		}
		c.Kind, c.Product = string(pc.Kind), pc.Product()
	}
	n := len(ans.Codes)
	truncated := n > h.cfg.maxCodes
	if truncated {
		ans.Codes = ans.Codes[:h.cfg.maxCodes]
	}
	return ok(map[string]any{"billNo": p.BillNo, "count": n, "invalid": bad, "codes": ans.Codes, "truncated": truncated}, ds...)
}

// expansionReply is the reply of the smallest-sub-code queries.
type expansionReply struct {
	BillNo        string       `json:"billNo,omitempty"`
	Code          string       `json:"code,omitempty"`
	Tops          []code.Count `json:"tops"`
	SmallestCount int          `json:"smallestCount"`
	Smallest      []string     `json:"smallest"`
	Truncated     bool         `json:"truncated"`
	Mismatches    []code.Count `json:"mismatches"`
}

// expandNodes resolves the nodes of a hierarchy answer to their smallest
// codes. The codes and parent codes are trimmed first, in nodes too (the
// nodes kept): as code.Parse trims the codes of documents and
// indexParents those of hierarchy answers, " C" is the parent C; untrimmed,
// every pack and unit under it became a top code of its own and C an
// empty case.
func expandNodes(nodes []hierNode, mode code.RatioMode) code.Expansion {
	in := make([]code.Node, len(nodes))
	for i := range nodes {
		nodes[i].Code, nodes[i].ParentCode = strings.TrimSpace(nodes[i].Code), strings.TrimSpace(nodes[i].ParentCode)
		n := nodes[i]
		in[i] = code.Node{Code: n.Code, Parent: n.ParentCode, DisplayLevel: n.CodeLevel, PackLevel: n.CodePackLevel,
			Smallest: n.IsSmallest, Ratio: n.PkgRatio, BoxStatus: n.BoxStatus}
	}
	return code.Expand(in, mode)
}

// expand resolves hierarchy nodes, reports mismatches as warnings and
// builds the reply.
func (h *handler) expand(nodes []hierNode, ds sdk.Diagnostics) (expansionReply, code.Expansion, sdk.Diagnostics) {
	ex := expandNodes(nodes, h.cfg.ratioMode)
	r := expansionReply{Tops: ex.Tops, SmallestCount: len(ex.Smallest), Smallest: ex.Smallest, Mismatches: ex.Mismatches}
	if r.Tops == nil {
		r.Tops = []code.Count{}
	}
	if r.Mismatches == nil {
		r.Mismatches = []code.Count{}
	}
	if len(r.Smallest) > h.cfg.maxCodes {
		r.Smallest, r.Truncated = r.Smallest[:h.cfg.maxCodes], true
	}
	if len(r.Tops) > h.cfg.maxCodes {
		r.Tops, r.Truncated = r.Tops[:h.cfg.maxCodes], true
	}
	if len(r.Mismatches) > h.cfg.maxCodes {
		r.Mismatches, r.Truncated = r.Mismatches[:h.cfg.maxCodes], true
	}
	if r.Smallest == nil {
		r.Smallest = []string{}
	}
	for i, m := range ex.Mismatches {
		if i == 20 {
			ds.Warn("$.mismatches", "amount", fmt.Sprintf("%d more pack-ratio mismatches", len(ex.Mismatches)-20), "see the reply's mismatches")
			break
		}
		ds.Warn(fmt.Sprintf("$.mismatches[%d]", i), "amount", "code "+m.Code+": the count does not match the package", m.Problem)
	}
	bad := 0
	for i, n := range nodes {
		if _, err := code.Parse(n.Code, h.cfg.policy); err != nil {
			if bad++; bad <= 20 {
				ds.Warn(fmt.Sprintf("$.codes[%d]", i), "format", "the platform returned a code this site does not accept", err.Error())
			}
		}
	}
	if bad > 20 {
		ds.Warn("$.codes", "format", fmt.Sprintf("%d more codes this site does not accept", bad-20), "see the first ones above")
	}
	return r, ex, ds
}

// codesSmallest lists the codes of a document resolved to their smallest
// sub-codes and checks every top code against its package ratio.
func (h *handler) codesSmallest(ctx context.Context) (*sdk.HandleResponse, error) {
	var p billPayload
	if ds := h.validated("billsmallest", &p); ds != nil {
		return invalid(ds)
	}
	var ans struct {
		Codes []hierNode `json:"codes"`
	}
	res, ds, err := h.callChecked(ctx, platform.OpBillSmallest, p.BillNo, p, &ans)
	if err != nil {
		return platformFailure("the sub-code query", err)
	}
	if res.NotFound {
		return notFound("document "+p.BillNo, res)
	}
	r, ex, ds := h.expand(ans.Codes, ds)
	r.BillNo = p.BillNo
	if err := h.storeQuery(ctx, OpCodesSmallest, p.BillNo, "", ans.Codes, ex); err != nil {
		return nil, err
	}
	return ok(r, ds...)
}

// codeSmallest lists the smallest sub-codes of one code.
func (h *handler) codeSmallest(ctx context.Context) (*sdk.HandleResponse, error) {
	var p codePayload
	if ds := h.validated("smallest", &p); ds != nil {
		return invalid(ds)
	}
	c, err := code.Parse(p.Code, h.cfg.policy)
	if err != nil {
		return invalid(sdk.Diagnostics{{Field: "$.code", Rule: "format", Summary: "the trace code is not valid", Detail: err.Error()}})
	}
	p.Code = c.Value
	var ans struct {
		Codes []hierNode `json:"codes"`
	}
	res, ds, err := h.callChecked(ctx, platform.OpSmallest, p.Code, p, &ans)
	if err != nil {
		return platformFailure("the sub-code query", err)
	}
	if res.NotFound {
		return notFound("code "+p.Code, res)
	}
	r, ex, ds := h.expand(ans.Codes, ds)
	r.Code = p.Code
	if err := h.storeQuery(ctx, OpCodeSmallest, "", p.Code, ans.Codes, ex); err != nil {
		return nil, err
	}
	return ok(r, ds...)
}
