package adapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// Node names of the national interface.
const (
	nodeFees  = "fsiOwnpayPatnFeeListDDTO"
	nodeMdtrt = "ownPayPatnMdtrtD"
	nodeDiags = "ownPayPatnDiagListD"
)

// decode reads a JSON object keeping numbers exact.
func decode(payload []byte) (map[string]any, *sdk.HandleResponse) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, sdk.Invalid(sdk.Diagnostic{Field: "$", Rule: "syntax", Summary: "the payload is not JSON", Detail: err.Error()})
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, sdk.Invalid(sdk.Diagnostic{Field: "$", Rule: "type", Summary: "the payload must be a JSON object", Detail: "send {\"field\": value, …}"})
	}
	return m, nil
}

// decodeRecord reads a query record keeping numbers exact: a platform may
// answer a text field (bkkpSn, fixmedinsMdtrtId) or an amount as a JSON
// number, which as a float64 would read back as "2.0250401000001e+13" or
// rounded, and match nothing medgate sent.
func decodeRecord(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

// fieldDiags converts schema errors to diagnostics; skip drops rules.
// The validator masks the values of the fields the schemas mark personal
// (certno, psn_name, tel, brdy, addr, …) as the logs do, and quotes the
// others as they are, so the reply (published and stored) names the
// visit without spreading the patient's data.
func fieldDiags(errs []schemas.FieldError, summary string, skip ...string) sdk.Diagnostics {
	var ds sdk.Diagnostics
	for _, e := range errs {
		if contains(skip, e.Rule) {
			continue
		}
		ds.Error(e.Path, e.Rule, summary, e.Message)
	}
	return ds
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}

// fillInstitution sets fixmedins_code and fixmedins_name where they are
// absent, from the site's settings, so HIS messages may leave them out.
func (r *run) fillInstitution(m map[string]any, name bool) {
	if m == nil {
		return
	}
	if str(m["fixmedins_code"]) == "" {
		m["fixmedins_code"] = r.s.cfg.FixmedinsCode
	}
	if name && str(m["fixmedins_name"]) == "" {
		m["fixmedins_name"] = r.s.cfg.FixmedinsName
	}
}

// checkCode reports a fixmedins_code other than the site's.
func (r *run) checkCode(ds *sdk.Diagnostics, path string, m map[string]any) {
	if c := str(m["fixmedins_code"]); c != "" && c != r.s.cfg.FixmedinsCode {
		ds.Error(path+".fixmedins_code", "precondition", "the institution code is not this site's",
			fmt.Sprintf("%q is not %q (the site's fixmedinsCode); send the message to the right site or leave the field out", c, r.s.cfg.FixmedinsCode))
	}
}

// uploadInput is a validated selfpay.upload payload.
type uploadInput struct {
	mdtrtID  string
	mdtrt    map[string]any
	diags    []any
	fees     []any
	reupload bool
}

// validateUpload checks a selfpay.upload payload: the 4202 and 4201A
// schemas, then the business rules. It reports every problem at once.
// whole is false for one part of a stay sent in parts (parts.go): its
// lines are not checked against the visit's total, which the whole
// stay's are once its last part arrives.
func (r *run) validateUpload(m map[string]any, whole bool) (*uploadInput, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	for _, k := range sortedKeys(m) {
		switch k {
		case nodeMdtrt, nodeDiags, nodeFees, "reupload":
		default:
			ds.Error("$."+k, schemas.RuleUnknown, "selfpay.upload does not take this field",
				"send ownPayPatnMdtrtD, ownPayPatnDiagListD, fsiOwnpayPatnFeeListDDTO and optionally reupload and part")
		}
	}
	in := &uploadInput{}
	if v, ok := m["reupload"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			ds.Error("$.reupload", schemas.RuleType, "reupload must be true or false", "true first withdraws a completed upload (4203 cplt_flag=0)")
		}
		in.reupload = b
	}
	in.mdtrt, _ = m[nodeMdtrt].(map[string]any)
	in.diags, _ = m[nodeDiags].([]any)
	in.fees, _ = m[nodeFees].([]any)
	r.fillInstitution(in.mdtrt, true)
	for _, f := range in.fees {
		if fm, ok := f.(map[string]any); ok {
			r.fillInstitution(fm, true)
			if str(fm["fixmedins_mdtrt_id"]) == "" && in.mdtrt != nil {
				fm["fixmedins_mdtrt_id"] = in.mdtrt["fixmedins_mdtrt_id"]
			}
		}
	}
	s4202, _ := r.s.set.Get("selfpay", "4202")
	s4201A, _ := r.s.set.Get("selfpay", "4201A")
	ds = append(ds, fieldDiags(s4202.ValidateInput(map[string]any{nodeMdtrt: m[nodeMdtrt], nodeDiags: m[nodeDiags]}), "4202 input is not valid")...)
	ds = append(ds, fieldDiags(s4201A.ValidateInput(map[string]any{nodeFees: m[nodeFees]}), "4201A input is not valid", schemas.RuleBatch)...)
	if in.mdtrt == nil || len(in.fees) == 0 {
		return nil, ds
	}
	in.mdtrtID = str(in.mdtrt["fixmedins_mdtrt_id"])
	r.checkCode(&ds, "$."+nodeMdtrt, in.mdtrt)
	ds = append(ds, r.feeRules(in.fees, in.mdtrtID, "$."+nodeFees)...)
	visitTimeWarnings(&ds, "$."+nodeMdtrt, in.mdtrt)
	feeWarnings(&ds, in.fees, in.mdtrt, "$."+nodeFees)
	if whole && r.s.opts.checkTotals {
		var sum big.Rat
		ok := true
		for _, f := range in.fees {
			fm, _ := f.(map[string]any)
			v, good := rat(fm["det_item_fee_sumamt"])
			ok = ok && good
			if good {
				sum.Add(&sum, v)
			}
		}
		total, good := rat(in.mdtrt["medfee_sumamt"])
		if ok && good && sum.Cmp(total) != 0 {
			ds.Error("$."+nodeMdtrt+".medfee_sumamt", "amount", "the visit's total does not match its fee lines",
				fmt.Sprintf("medfee_sumamt is %s but the %d fee lines add up to %s; correct the total or the lines (or set checkTotals false)", total.FloatString(2), len(in.fees), sum.FloatString(2)))
		}
	}
	r.checkCallSizes(&ds, in)
	return in, ds
}

// checkCallSizes reports a 4201A batch or a 4202 input longer than
// maxInputChars as sent (encrypted, with encType SM4) before anything is
// sent (the envelope library would refuse it part-way through the
// upload). Only a batch of one line can be too long: batches are cut to
// fit.
func (r *run) checkCallSizes(ds *sdk.Diagnostics, in *uploadInput) {
	limit := r.s.cfg.MaxInputChars
	if limit <= 0 {
		return
	}
	lo := 0
	for _, hi := range r.batches(in.fees) {
		if n := r.inputChars(map[string]any{nodeFees: in.fees[lo:hi]}); n > limit {
			ds.Error(fmt.Sprintf("$.%s[%d]", nodeFees, lo), "length", "a fee line does not fit in one 4201A call",
				fmt.Sprintf("its 4201A input is %d characters as sent, the envelope allows %d (maxInputChars); shorten its texts", n, limit))
		}
		lo = hi
	}
	if n := r.inputChars(map[string]any{nodeMdtrt: in.mdtrt, nodeDiags: in.diags}); n > limit {
		ds.Error("$."+nodeMdtrt, "length", "the visit and its diagnoses do not fit in one 4202 call",
			fmt.Sprintf("the 4202 input is %d characters as sent, the envelope allows %d (maxInputChars); shorten its texts", n, limit))
	}
}

// inputChars is the length in characters of an input as the envelope
// library sends it: serialized, and encrypted with encType SM4.
func (r *run) inputChars(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return 0
	}
	j := bytes.TrimRight(b.Bytes(), "\n")
	return r.s.cfg.InputChars(utf8.RuneCount(j), len(j))
}

// feeRules checks fee lines: one patient, the site's institution code,
// bkkp_sn unique, det_item_fee_sumamt = cnt × pric (to the cent).
func (r *run) feeRules(fees []any, mdtrtID, at string) sdk.Diagnostics {
	var ds sdk.Diagnostics
	seen := map[string]int{}
	for i, f := range fees {
		fm, ok := f.(map[string]any)
		if !ok {
			continue
		}
		p := fmt.Sprintf("%s[%d]", at, i)
		if id := str(fm["fixmedins_mdtrt_id"]); mdtrtID != "" && id != "" && id != mdtrtID {
			ds.Error(p+".fixmedins_mdtrt_id", "join", "a fee line belongs to another visit",
				fmt.Sprintf("%q is not the visit's fixmedins_mdtrt_id %q; one call carries one patient (每次接口调用只上传一位患者的信息)", id, mdtrtID))
		}
		r.checkCode(&ds, p, fm)
		if sn := str(fm["bkkp_sn"]); sn != "" {
			if j, dup := seen[sn]; dup {
				ds.Error(p+".bkkp_sn", "unique", "bkkp_sn repeats within the visit", fmt.Sprintf("%q is also line %d; give every fee line its own 记账流水号", sn, j))
			} else {
				seen[sn] = i
			}
		}
		cnt, ok1 := rat(fm["cnt"])
		pric, ok2 := rat(fm["pric"])
		amt, ok3 := rat(fm["det_item_fee_sumamt"])
		if ok1 && ok2 && ok3 {
			want := new(big.Rat).Mul(cnt, pric)
			diff := new(big.Rat).Sub(want, amt)
			// To the cent: off by at most half a cent, so either
			// rounding (half up, half to even) passes, a wrong cent not.
			if diff.Abs(diff).Cmp(big.NewRat(1, 200)) > 0 {
				ds.Error(p+".det_item_fee_sumamt", "amount", "the line amount is not quantity × price",
					fmt.Sprintf("cnt %s × pric %s = %s, but det_item_fee_sumamt is %s; correct one of them", cnt.FloatString(4), pric.FloatString(6), want.FloatString(2), amt.FloatString(2)))
			}
		}
	}
	return ds
}

// maxNumberChars and maxNumberExp bound what rat reads: far beyond any
// decimal(16,x), yet small enough that a hostile 1e999999 is not expanded
// into a million-digit number (seconds of CPU per value).
const (
	maxNumberChars = 64
	maxNumberExp   = 64
)

// rat reads a decimal number or numeric string exactly.
func rat(v any) (*big.Rat, bool) {
	s := str(v)
	if s == "" || len(s) > maxNumberChars {
		return nil, false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil || exp > maxNumberExp || exp < -maxNumberExp {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mdtrtIDOf returns the visit a single transaction's input is about.
func mdtrtIDOf(infno string, in map[string]any) string {
	switch infno {
	case "4201A":
		if items, ok := in[nodeFees].([]any); ok && len(items) > 0 {
			if m, ok := items[0].(map[string]any); ok {
				return str(m["fixmedins_mdtrt_id"])
			}
		}
	case "4202":
		if m, ok := in[nodeMdtrt].(map[string]any); ok {
			return str(m["fixmedins_mdtrt_id"])
		}
	case "4204":
		if m, ok := in["feedetail"].(map[string]any); ok {
			return str(m["fixmedins_mdtrt_id"])
		}
	}
	return strings.TrimSpace(str(in["fixmedins_mdtrt_id"]))
}

// The checks below are warnings, not refusals: no source at hand (the
// hospital's requirements, the public analogues of the national interface
// in /work/shared/specs) states them as platform rules, and a HIS has
// lawful reasons to break some (fees of outpatient care carried into the
// stay, 门诊转住院, dated before the admission; discharge medicines
// charged after it). They tell the clerk what looks wrong without holding
// the upload back; the README lists which checks refuse and which warn.

// maxDataWarnings bounds the warnings of one kind in a reply: past it one
// more says how many were left out.
const maxDataWarnings = 10

// visitTimeWarnings warns of a visit whose end (endtime) is before its
// begin (begntime). at is the visit's path.
func visitTimeWarnings(ds *sdk.Diagnostics, at string, mdtrt map[string]any) {
	begin, ok1 := visitTime(mdtrt, "begntime")
	end, ok2 := visitTime(mdtrt, "endtime")
	if ok1 && ok2 && end.Before(begin) {
		ds.Warn(at+".endtime", "time", "the visit ends before it begins",
			fmt.Sprintf("endtime %s is before begntime %s (开始时间不应晚于结束时间); check the admission and discharge times in the HIS and, if they are wrong, upload again with \"reupload\": true",
				str(mdtrt["endtime"]), str(mdtrt["begntime"])))
	}
}

// feeWarnings warns of fee lines dated outside the visit (fee_ocur_time
// before begntime or after endtime) and of lines whose self-pay parts
// (fulamt_ownpay_amt, overlmt_selfpay, preselfpay_amt, inscp_amt) exceed
// the line's total or have the other sign (a refund line, negative, has
// parts of zero or below). mdtrt may be nil (a single 4201A): the times
// are then not checked, nor against a visit that ends before it begins.
func feeWarnings(ds *sdk.Diagnostics, fees []any, mdtrt map[string]any, at string) {
	begin, hasBegin := visitTime(mdtrt, "begntime")
	end, hasEnd := visitTime(mdtrt, "endtime")
	if hasBegin && hasEnd && end.Before(begin) {
		// The visit's own times are wrong (visitTimeWarnings says so):
		// every line would be outside it.
		hasBegin, hasEnd = false, false
	}
	var outside, split []int
	for i, f := range fees {
		fm, ok := f.(map[string]any)
		if !ok {
			continue
		}
		if t, ok := visitTime(fm, "fee_ocur_time"); ok && (hasBegin && t.Before(begin) || hasEnd && t.After(end)) {
			outside = append(outside, i)
			if len(outside) <= maxDataWarnings {
				ds.Warn(fmt.Sprintf("%s[%d].fee_ocur_time", at, i), "time", "the fee is dated outside the visit",
					fmt.Sprintf("fee_ocur_time %s is not between begntime %s and endtime %s (费用发生时间不在入院至出院期间); correct it in the HIS unless the fee belongs to the stay (e.g. outpatient care carried into it)",
						str(fm["fee_ocur_time"]), str(mdtrt["begntime"]), shownOr(mdtrt["endtime"], "(none)")))
			}
		}
		if part := partAboveTotal(fm); part != "" {
			split = append(split, i)
			if len(split) <= maxDataWarnings {
				ds.Warn(fmt.Sprintf("%s[%d].%s", at, i, part), "amount", "a self-pay part is above the line's total",
					fmt.Sprintf("%s %s is more than det_item_fee_sumamt %s, or of the other sign (明细金额的自费部分不应超过明细项目费用总额); check how the HIS splits the line's amount",
						part, str(fm[part]), str(fm["det_item_fee_sumamt"])))
			}
		}
	}
	for _, l := range []struct {
		idx        []int
		rule, what string
	}{{outside, "time", "fee lines dated outside the visit"}, {split, "amount", "fee lines with a self-pay part above the total"}} {
		if n := len(l.idx); n > maxDataWarnings {
			ds.Warn(fmt.Sprintf("%s[%d]", at, l.idx[maxDataWarnings]), l.rule, fmt.Sprintf("%d more %s", n-maxDataWarnings, l.what),
				fmt.Sprintf("%d in all; only the first %d are named", n, maxDataWarnings))
		}
	}
}

// selfPayParts are the parts of a fee line's amount that the patient pays
// (全自费, 超限价自费, 先行自付) and the part within the policy (符合政策范围):
// none may exceed the line's total.
var selfPayParts = []string{"fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_amt"}

// partAboveTotal returns the first part of fm's amount above its total
// (in absolute value, or of the other sign), or "".
func partAboveTotal(fm map[string]any) string {
	total, ok := rat(fm["det_item_fee_sumamt"])
	if !ok {
		return ""
	}
	for _, k := range selfPayParts {
		v, ok := rat(fm[k])
		if !ok || v.Sign() == 0 {
			continue
		}
		if v.Sign() != total.Sign() || new(big.Rat).Abs(v).Cmp(new(big.Rat).Abs(total)) > 0 {
			return k
		}
	}
	return ""
}

// visitTime reads m[k] as 日期时间型, yyyy-MM-dd HH:mm:ss; false when it
// is absent or written otherwise (the schema reports that).
func visitTime(m map[string]any, k string) (time.Time, bool) {
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02 15:04:05", strings.TrimSpace(str(m[k])))
	return t, err == nil
}

func shownOr(v any, none string) string {
	if s := str(v); s != "" {
		return s
	}
	return none
}
