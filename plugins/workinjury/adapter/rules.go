package adapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// Business rules of the requirements that the schemas cannot express. They
// run after the schema validator and before anything is sent; every problem
// is reported at once with its JSON path. They only look at fields that are
// present, so a message with schema errors gets both kinds of error.
//
//	GYU001  an opinion is required when the application is refused; only
//	        applications downloaded through this site (GYD001) and not yet
//	        audited can be audited, under their applicant's aac002; an
//	        approval keeps one valid filing per person per institution type,
//	        at an institution known here in the application's place
//	GYU002  file_size equals the size of the decoded file_content (or of the
//	        document file_url links, checked when it is fetched: attachfetch.go)
//	GYU006  only filings of this province (参保地 aab301); one valid filing per
//	        person per institution type; attachments uploaded first (GYU002)
//	        for a filing (biz_type 1), each of the type it was uploaded as,
//	        the 工伤认定决定书 (attachment_type 01) among them; a device filing
//	        (filing_type 3) at a device institution, any other not; an
//	        institution known here in the filing's place (aab299)
//	GYU007  a refused or terminated filing never becomes valid again; the
//	        field each change type needs; a change leaves no second valid
//	        filing of the person for one institution type; a new institution
//	        known here lies in the filing's (new) place of treatment, and a
//	        new place without one keeps the filing's only if it lies there
//	an institution not known here (no GYD009 record, no GYU009 upload) is
//	not checked: the reply warns (rule not-checked) and names GYD009
//	GYU008  record_count equals the records given; a failure has a reason;
//	        not a batch the download workflow holds (it feeds it back), nor
//	        any batch of a code whose workflow awaits its download's answer
//	GYR005  a batch number or a date range; a batch_no the download
//	        workflow holds (stored) or acknowledged (its cursor) has nothing
//	        to download again by number
//	GYD054  not an attachment uploaded here and revoked with its settlement
//	GYD053  the earlier transaction's code is one of the 39
//	GYU009  only approved institutions (audit_status, when given, is 1)
//	dates   an end date is not before its start date
//
// The settlement chain (GYU101–103, GYU303, GYR001–004, GYU003, GYU004,
// GYD102) is in lifecycle.go.
//
// Every refusal of a rule the requirements state starts with the check in
// the requirements' words (checkTexts): 前置校验「…」未通过 or 业务规则「…」未通过.
func (a *Adapter) checkRules(ctx context.Context, h sdk.Host, c *siteConfig, msgID, code string, doc map[string]any) (ds sdk.Diagnostics, err error) {
	defer func() { zhFirst(code, ds) }()
	dateOrder(&ds, doc, "aae030", "aae031")
	if err := a.checkLifecycle(ctx, h, c, msgID, code, doc, &ds); err != nil {
		return ds, err
	}
	switch code {
	case "GYU001":
		if str(doc, "audit_result") == "2" && blank(doc, "audit_opinion") {
			ds.Error("$.audit_opinion", "required", "审核意见 (audit_opinion) is required when the application is refused",
				"audit_result 2 (审核不通过) must say why, so the injured worker can act on it")
		}
		if no := str(doc, "apply_no"); no != "" {
			var st applyState
			ver, err := getJSON(ctx, h, "apply/"+no, &st)
			if err != nil {
				return nil, err
			}
			switch {
			case ver == 0:
				ds.Error("$.apply_no", "precondition", "application "+no+" was not downloaded through this site",
					"only applications downloaded with GYD001 (the scheduled job) can be audited; run the GYD001 job or check the number")
			case st.Status == applyAudited:
				ds.Error("$.apply_no", "state", "application "+no+" is already audited",
					fmt.Sprintf("its result %s was uploaded at %s; an application is audited once", st.Result, st.At.In(cst).Format("2006-01-02 15:04:05")))
			}
			// The result is that of the applicant: recorded under another
			// person, an approved filing would be theirs here. (An
			// application downloaded before the applicant was kept has
			// no Person and is left to the national system.)
			if aac002 := str(doc, "aac002"); ver > 0 && st.Person != "" && aac002 != "" && personKey(aac002) != st.Person {
				ds.Error("$.aac002", "consistency", "aac002 is not the social security number of application "+no+"'s applicant",
					"send the aac002 of the application as GYD001 downloaded it (the workinjury.filing_application.downloaded event)")
			}
			// An approval makes a valid filing: one per person per
			// institution type, whichever channel it came through.
			if aac002 := str(doc, "aac002"); ver > 0 && st.Status != applyAudited && aac002 != "" && str(doc, "audit_result") == "1" {
				akb020 := firstNonEmpty(str(doc, "akb020"), st.AKB020)
				// The filing's institution lies in its place of treatment
				// (the application's), or every admission under it is
				// refused.
				if akb020 != "" {
					inst, known, err := knownInst(ctx, h, akb020)
					if err != nil {
						return nil, err
					}
					if !known {
						warnUnknownInst(&ds, akb020, "its institution type (one valid filing per person per institution type) and whether it lies in the place of treatment "+st.AAB299)
					}
					if known && inst.AAB299 != "" && st.AAB299 != "" && inst.AAB299 != st.AAB299 {
						ds.Error("$.akb020", "consistency", fmt.Sprintf("institution %s is in %s, not in application %s's place of treatment %s", akb020, inst.AAB299, no, st.AAB299),
							"approve the filing at an institution in "+st.AAB299+" (akb020), or refuse the application (audit_result 2) so that the worker applies for the other place")
					}
				}
				periodOrder(&ds, doc, "the filing approved for application "+no, st.AAE030, st.AAE031,
					"give the period the filing is approved for (aae030 and aae031) in the audit, or leave both out to approve the application's")
				if err := a.oneValidFiling(ctx, h, &ds, aac002, akb020, st.FilingType, func(fno, it string, f filingState) {
					ds.Error("$.aac002", "state", "the applicant of application "+no+" already has a valid filing "+fno+" for institution type "+it,
						fmt.Sprintf("one valid filing per person per institution type (valid until %s): refuse the application (audit_result 2, with an audit_opinion), or change or terminate filing %s with GYU007 first", orOpen(f.AAE031), fno))
				}); err != nil {
					return nil, err
				}
			}
		}
	case "GYU002":
		atts, _ := doc["attachments"].([]any)
		for i, x := range atts {
			att, _ := x.(map[string]any)
			content := str(att, "file_content")
			if content == "" {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(content)
			if err != nil {
				ds.Error(fmt.Sprintf("$.attachments[%d].file_content", i), "type", "file_content is not standard base64", "encode the file with standard base64 (RFC 4648, with padding) and nothing else in it: no spaces or tabs (line breaks are removed before sending)")
				continue
			}
			if size := str(att, "file_size"); size != "" {
				if n, err := strconv.ParseInt(size, 10, 64); err == nil && n != int64(len(raw)) {
					ds.Error(fmt.Sprintf("$.attachments[%d].file_size", i), "consistency",
						fmt.Sprintf("file_size is %d but file_content holds %d bytes", n, len(raw)), "send the size of the decoded file")
				}
			}
			// The content is what the item says it is (attachformat.go);
			// a linked document was fetched into file_content already.
			if format := str(att, "file_format"); format != "" {
				if looks, _ := formatMismatch(format, raw[:min(len(raw), sniffLen)]); looks != "" {
					ds.Error(fmt.Sprintf("$.attachments[%d].file_format", i), "consistency",
						fmt.Sprintf("attachment $.attachments[%d] declares file_format %s, but its content is %s", i, format, looks),
						"send the file in the declared format, or declare the format the file really has (file_format); the content (file_content, or the document fetched from file_url) was checked by its first bytes, and nothing was sent")
				}
			}
		}
	case "GYU006":
		if ab := str(doc, "aab301"); len(ab) >= 2 && ab[:2] != c.region[:2] {
			ds.Error("$.aab301", "precondition", "参保地 "+ab+" is not in this province",
				fmt.Sprintf("GYU006 uploads only filings approved by this province (region %s…); filings of other provinces come with GYD006", c.region[:2]))
		}
		atts, _ := doc["attachments"].([]any)
		cert := false
		for i, x := range atts {
			att, _ := x.(map[string]any)
			if str(att, "attachment_type") == attInjuryCert {
				cert = true
			}
			id := str(att, "attachment_id")
			if id == "" {
				continue
			}
			var st attachmentState
			ver, err := getJSON(ctx, h, "att/"+id, &st)
			if err != nil {
				return nil, err
			}
			if ver == 0 {
				ds.Error(fmt.Sprintf("$.attachments[%d].attachment_id", i), "precondition", "attachment "+id+" was not uploaded through this site",
					"upload the files first with workinjury.GYU002 (at most 10 per call) and use the attachment_id it returns")
				continue
			}
			if st.Revoked {
				ds.Error(fmt.Sprintf("$.attachments[%d].attachment_id", i), "state", "attachment "+id+" was revoked with the settlement it was attached to (GYR003)",
					"upload the file again with workinjury.GYU002 and use the new attachment_id")
			}
			if t := str(att, "attachment_type"); t != "" && st.Type != "" && t != st.Type {
				ds.Error(fmt.Sprintf("$.attachments[%d].attachment_type", i), "consistency",
					fmt.Sprintf("attachment %s was uploaded as type %s, not %s", id, st.Type, t),
					"give the type the file was uploaded as with GYU002, or upload it again with the right type")
			}
			if st.BizType != "" && st.BizType != bizFiling {
				ds.Error(fmt.Sprintf("$.attachments[%d].attachment_id", i), "consistency",
					fmt.Sprintf("attachment %s was uploaded for business type %s (biz_no %s), not for a filing (biz_type %s)", id, st.BizType, st.BizNo, bizFiling),
					"upload the filing's files with workinjury.GYU002 with biz_type "+bizFiling+" and use the attachment_id it returns")
			}
		}
		if len(atts) > 0 && !cert {
			ds.Error("$.attachments", "precondition",
				"no 工伤认定决定书 (attachment_type "+attInjuryCert+") among the filing's attachments",
				"upload the injury-recognition decision first with workinjury.GYU002 (biz_type "+bizFiling+", attachment_type "+attInjuryCert+") and list its attachment_id here (requirements: 上传前需先调用附件上传接口提交工伤认定书等资料)")
		}
		// A device filing names a device institution, any other filing
		// one that is not (GYU303 and GYU101 need them so); the
		// institution lies in the filing's place of treatment, or every
		// admission under the filing is refused.
		if akb020 := str(doc, "akb020"); akb020 != "" {
			inst, known, err := knownInst(ctx, h, akb020)
			if err != nil {
				return nil, err
			}
			if !known {
				warnUnknownInst(&ds, akb020, "whether it is of the kind filing_type "+str(doc, "filing_type")+" needs and lies in the place of treatment "+str(doc, "aab299"))
			}
			if place := str(doc, "aab299"); known && inst.AAB299 != "" && place != "" && inst.AAB299 != place {
				ds.Error("$.akb020", "consistency", fmt.Sprintf("institution %s is in %s, not in the filing's place of treatment %s", akb020, inst.AAB299, place),
					"name an institution in "+place+", or give the place of treatment the institution is in (aab299)")
			}
		}
		if akb020, ft := str(doc, "akb020"), str(doc, "filing_type"); akb020 != "" && ft != "" {
			var inst instState
			iv, err := getJSON(ctx, h, "inst/"+akb020, &inst)
			if err != nil {
				return nil, err
			}
			switch {
			case iv == 0 || inst.Type == "":
			case ft == "3" && inst.Type != "3":
				ds.Error("$.akb020", "consistency", fmt.Sprintf("an assistive-device filing (filing_type 3) names institution %s, which is of type %s, not an assistive-device institution (3)", akb020, inst.Type),
					"name the assistive-device institution (GYU303 settles the configuration there), or give the filing type of the treatment")
			case ft != "3" && inst.Type == "3":
				ds.Error("$.akb020", "consistency", fmt.Sprintf("institution %s is an assistive-device institution (type 3), but filing_type %s is not an assistive-device filing", akb020, ft),
					"give filing_type 3 for an assistive-device configuration, or name the medical or rehabilitation institution of the treatment (GYU101 admits only there)")
			}
		}
		if person := str(doc, "aac002"); person != "" {
			if err := a.oneValidFiling(ctx, h, &ds, person, str(doc, "akb020"), str(doc, "filing_type"), func(no, it string, f filingState) {
				ds.Error("$.aac002", "state", "this person already has a valid filing "+no+" for institution type "+it,
					fmt.Sprintf("one valid filing per person per institution type (valid until %s): change it with GYU007 or terminate it (change_type 5) first", orOpen(f.AAE031)))
			}); err != nil {
				return nil, err
			}
		}
	case "GYU007":
		need := map[string]struct{ field, label string }{
			"1": {"aae031", "新备案截止日期"}, "2": {"akb020", "新就医协议机构编号"},
			"3": {"aab299", "新就医地行政区划"}, "4": {"aae005", "新联系电话"},
		}
		ct := str(doc, "change_type")
		if n, ok := need[ct]; ok && blank(doc, n.field) {
			ds.Error("$."+n.field, "required", n.label+" ("+n.field+") is required for change_type "+ct, "give the new value")
		}
		if no := str(doc, "filing_no"); no != "" {
			var f filingState
			ver, err := getJSON(ctx, h, "filing/"+no, &f)
			if err != nil {
				return nil, err
			}
			// An extension keeps the filing's start: a new end before it
			// would leave the filing without a single valid day.
			if ver > 0 && ct == "1" {
				periodOrder(&ds, doc, "filing "+no, f.AAE030, "",
					"give an end date on or after the filing's start; to end the filing now, terminate it (change_type 5)")
			}
			if ver > 0 && f.invalid() && ct != "4" {
				ds.Error("$.change_type", "state", "filing "+no+" is invalid (status "+f.Status+") and its status may never return to valid",
					"a refused or terminated filing cannot be extended, moved or terminated again; upload a new filing with GYU006")
			}
			// The filing's institution is in its place of treatment,
			// or every admission under it is refused: a new institution
			// known here lies in the (new) place.
			place := str(doc, "aab299")
			if ct == "2" && ver > 0 {
				place = f.AAB299
			}
			if akb020 := str(doc, "akb020"); (ct == "2" || ct == "3") && akb020 != "" && place != "" {
				inst, known, err := knownInst(ctx, h, akb020)
				if err != nil {
					return nil, err
				}
				if !known {
					warnUnknownInst(&ds, akb020, "whether it lies in the filing's place of treatment "+place)
				}
				if known && inst.AAB299 != "" && inst.AAB299 != place {
					fix := "name an institution in " + place + ", or change the place of treatment (change_type 3, aab299) together with the institution"
					if ct == "3" {
						fix = "name the new institution in " + place + " (akb020)"
					}
					ds.Error("$.akb020", "consistency", fmt.Sprintf("institution %s is in %s, not in the filing's place of treatment %s", akb020, inst.AAB299, place), fix)
				}
			}
			// A new place without a new institution keeps the filing's
			// institution (GYU007 支持就医地变更操作): one outside the new
			// place would have every admission under the filing refused.
			if place != "" && ct == "3" && str(doc, "akb020") == "" {
				switch {
				case ver == 0:
					ds.Warn("$.akb020", "not-checked", "filing "+no+" is not known at this site: whether its institution lies in the new place of treatment "+place+" was not checked",
						"name the new institution in "+place+" (akb020) unless the filing's institution is there; the national system checks it in any case")
				case f.AKB020 != "":
					inst, known, err := knownInst(ctx, h, f.AKB020)
					if err != nil {
						return nil, err
					}
					if !known {
						warnUnknownInst(&ds, f.AKB020, "(the institution filing "+no+" keeps) whether it lies in the new place of treatment "+place)
					}
					if known && inst.AAB299 != "" && inst.AAB299 != place {
						ds.Error("$.akb020", "required", fmt.Sprintf("the new place of treatment %s needs a new institution: filing %s's institution %s is in %s, and the change names none (akb020)", place, no, f.AKB020, inst.AAB299),
							"name the new institution in "+place+" (akb020, and akb021) in the same change")
					}
				}
			}
			// The changed filing, valid, must not be a second valid
			// filing of the person's for its institution type.
			if ver > 0 && f.Person != "" && (ct == "1" || ct == "2" || ct == "3") {
				next, at := f, "$.akb020"
				if ct == "1" {
					next.AAE031, at = str(doc, "aae031"), "$.aae031"
				}
				if next.valid(a.now().In(cst).Format("2006-01-02")) {
					moved := ""
					if ct == "2" || ct == "3" {
						moved = str(doc, "akb020")
					}
					if err := a.oneValidAfterChange(ctx, h, &ds, no, f, next, moved, at); err != nil {
						return nil, err
					}
				}
			}
		}
	case "GYU008":
		recs, _ := doc["records"].([]any)
		if n := str(doc, "record_count"); n != "" && n != strconv.Itoa(len(recs)) {
			ds.Error("$.record_count", "consistency", fmt.Sprintf("record_count is %s but %d records are given", n, len(recs)), "count the records of the feedback")
		}
		for i, x := range recs {
			r, _ := x.(map[string]any)
			if str(r, "result_flag") == "0" && blank(r, "fail_reason") {
				ds.Error(fmt.Sprintf("$.records[%d].fail_reason", i), "required", "a failed record needs fail_reason", "say why the record could not be stored")
			}
		}
		if code, no := str(doc, "download_code"), str(doc, "batch_no"); code != "" && no != "" {
			var st dlState
			if _, err := getJSON(ctx, h, "dl/"+code, &st); err != nil {
				return nil, err
			}
			switch {
			case st.BatchNo == no && (st.Step == stepStored || st.Step == stepFeedback):
				ds.Error("$.batch_no", "state", "batch "+no+" of "+code+" is held by the download workflow, which feeds it back itself",
					"let the workflow finish (run the job or send the download again); a second feedback of the batch would be refused and block its own")
			case st.Step == stepFetching:
				// The answer of the workflow's download is not known (lost,
				// or in flight): the batch the national system holds out for
				// the code is the one the workflow asks for again (GYD008,
				// GYR005), stores, publishes and feeds back. Acknowledged by
				// hand, its records would be stored and published nowhere.
				ds.Error("$.batch_no", "state", "the download workflow of "+code+" is recovering a batch whose download answer it has not got (serial "+st.FetchSerial+"); batch "+no+" is the one it will ask for again and feed back itself",
					"let the workflow finish (run the job or send the download again); acknowledged by hand, the batch's records would never be stored or published")
			}
		}
	case "GYR005":
		if blank(doc, "batch_no") && (blank(doc, "aae030") || blank(doc, "aae031")) {
			ds.Error("$.batch_no", "required", "rule redownload-data: neither a batch (batch_no) nor a date range (aae030 and aae031) says what to download again",
				"give the batch to download again (batch_no, as GYD008 lists it) or the dates it was downloaded (aae030 and aae031)")
		}
		// What the download workflow holds of the batch: one stored here
		// lost nothing, one acknowledged here is no longer handed out by
		// its number. A batch it does not know (lost with the local data,
		// or downloaded elsewhere) is the national system's to judge.
		if code, no := str(doc, "download_code"), str(doc, "batch_no"); code != "" && no != "" {
			var st dlState
			if _, err := getJSON(ctx, h, "dl/"+code, &st); err != nil {
				return nil, err
			}
			switch {
			case st.BatchNo == no && (st.Step == stepStored || st.Step == stepFeedback):
				ds.Error("$.batch_no", "precondition", "rule redownload-data: batch "+no+" of "+code+" is stored here, and the download workflow is delivering it and feeding it back: none of its records is lost",
					"nothing to download again: let the workflow finish (run the "+code+" job with medgate job run, or send the download again); 无需重复下载")
			case st.LastBatchNo == no:
				ds.Error("$.batch_no", "precondition", "rule redownload-data: batch "+no+" of "+code+" was stored, delivered and acknowledged (GYU008) here; the national system hands a batch out again by its number only while it is unacknowledged",
					"if its records were lost after delivery, ask for them by the dates they were downloaded (aae030 and aae031, without batch_no); 按起止日期申请重复下载")
			}
		}
	case "GYD054":
		// An attachment this site uploaded (GYU002) and the national
		// system revoked with the settlement it served (GYR003) is no
		// longer a valid attachment id. Others (a filing application's,
		// listed by GYD001) are not kept here: the national system checks
		// them.
		if id := str(doc, "attachment_id"); id != "" {
			var att attachmentState
			ver, err := getJSON(ctx, h, "att/"+id, &att)
			if err != nil {
				return nil, err
			}
			if ver > 0 && att.Revoked {
				ds.Error("$.attachment_id", "precondition", "rule attachment-valid: attachment "+id+" was uploaded here (GYU002) and revoked with the settlement it served (GYR003)",
					"a revoked attachment cannot be downloaded: give the id of a valid attachment (a filing application's, as GYD001 lists them); 请使用有效的附件ID")
			}
		}
	case "GYD053":
		if oc := str(doc, "orig_code"); oc != "" {
			if _, ok := c.schemas.Get(Name, oc); !ok {
				ds.Error("$.orig_code", "enum", "rule transaction-code: orig_code "+strconv.Quote(oc)+" is not a work-injury transaction code",
					"give the code of the earlier transaction, one of the 39 codes (GYU000 … GYR005)")
			}
		}
	}
	return ds, nil
}

// checkText is how a rule the requirements state is named in its errors.
type checkText struct {
	kind string // 前置校验 (a pre-check) or 业务规则 (a rule)
	zh   string // the check in the requirements' words (requirements-zh.txt §2.2.1)
	fix  string // the fix, for an error that gives none of its own
}

const (
	preCheck = "前置校验"
	bizRule  = "业务规则"
)

// checkTexts names medgate's rules (the id after "rule " in an error) in
// the requirements' words, by "code/id" first, then by id.
var checkTexts = map[string]checkText{
	"approved-filing":            {preCheck, "人员备案已审核通过", "先完成备案并审核通过（GYU001、GYU006，或经 GYD006 下载）；send the message once the person has an approved filing valid on the day (GYD051 verifies it)"},
	"GYD052/approved-filing":     {preCheck, "人员存在已审核通过备案", "先完成备案并审核通过，再刷卡鉴权；the card is checked only for a person with an approved filing"},
	"GYD055/approved-filing":     {preCheck, "人员存在已审核通过备案", "先完成备案并审核通过，再做内部认证；the card is checked only for a person with an approved filing"},
	"device-filing":              {preCheck, "已获取辅具配置备案信息", "使用人员的辅助器具配置备案；give the person's assistive-device filing"},
	"card-holder":                {bizRule, "确保社保卡信息有效（持卡人即就诊人）", "核对所持社保卡是否本人的卡；check that the card is the patient's own"},
	"card-authentication":        {preCheck, "已完成社保卡鉴权", "先发送 GYD052 鉴权社保卡；authenticate the card with GYD052 first"},
	"filing-validity":            {bizRule, "时间在备案有效期内", "先用 GYU007 延长备案；extend the filing with GYU007 first"},
	"GYU101/filing-validity":     {bizRule, "入院时间在备案有效期内", "先用 GYU007 延长备案；extend the filing with GYU007 first"},
	"filing-place":               {bizRule, "就医地与备案一致", "先用 GYU007 变更就医地；change the filing's place of treatment with GYU007 first"},
	"filing-person":              {bizRule, "备案属于本人", "发送本人的备案编号；send this person's filing number"},
	"filing-institution":         {bizRule, "就医机构与备案一致", "先用 GYU007 变更备案机构；change the filing's institution with GYU007 first"},
	"institution-agreement":      {bizRule, "协议机构状态有效", "仅协议有效的机构可办理；upload the institution's valid agreement with GYU009 (or download it with GYD009) first"},
	"institution-kind":           {bizRule, "机构类型与业务一致", "辅助器具结算用 GYU303；medical and rehabilitation institutions admit, assistive-device institutions settle with GYU303"},
	"unique-inpatient-number":    {bizRule, "同一机构住院号/门诊号不重复", "先用 GYR002 撤销错误的入院登记；revoke the wrong admission with GYR002 first"},
	"admission-uploaded":         {preCheck, "已上传入院信息", "先用 GYU101 上传入院信息，并使用其返回的 ykc700；upload the admission with GYU101 first"},
	"GYU102/admission-uploaded":  {preCheck, "已上传入院信息且未撤销", "先用 GYU101 上传入院信息，并使用其返回的 ykc700；upload the admission with GYU101 first"},
	"settle-open-visit":          {preCheck, "已上传入院信息且未撤销、未结算", "先用 GYU101 上传入院信息；a revoked admission is admitted again, a settled one is revoked with GYR003 first"},
	"admission-revocable":        {preCheck, "已上传入院信息、职工未结算", "已结算的入院登记随结算撤销（GYR003）；an admission of a settled stay is revoked with its settlement (GYR003)"},
	"visit-number":               {bizRule, "住院号与入院信息一致", "发送入院信息的住院号与机构；send the inpatient number and institution of the admission"},
	"all-details-uploaded":       {preCheck, "费用明细全部上传完成", "先用 GYU102 上传全部费用明细并等待应答；upload every fee detail with GYU102 first and wait for its answer"},
	"GYU102/not-settled":         {bizRule, "职工未结算", "已结算的就诊不再上传费用明细，结算有误时先用 GYR003 撤销结算；a settled stay takes no more fee lines: revoke a wrong settlement with GYR003 first"},
	"not-settled":                {preCheck, "人员未结算", "已结算的费用明细随结算撤销（GYR003）；fee details of a settled stay are revoked with the settlement (GYR003)"},
	"details-exist":              {preCheck, "存在费用明细", "只撤销已上传且未撤销的明细（detail_no）；list only fee details uploaded with GYU102 and not revoked"},
	"details-known":              {preCheck, "存在费用明细", "等待该就诊的全部 GYU102 应答；wait until every GYU102 of the stay is answered, or list the details to revoke"},
	"no-valid-details":           {preCheck, "无费用明细或已撤销费用明细", "先用 GYR001 撤销费用明细；revoke the fee details with GYR001 first"},
	"settlement-uploaded":        {preCheck, "已上传结算信息", "使用 GYU103/GYU303 返回且未撤销的结算号；give a settlement number GYU103 or GYU303 returned that is not revoked"},
	"GYU004/settlement-uploaded": {preCheck, "已上传出院结算信息", "先上传出院结算（GYU103/GYU303），使用其返回的结算号；give a settlement number GYU103 or GYU303 returned that is not revoked"},
	"settlement-visit":           {bizRule, "结算与就诊一致", "发送结算所属的就诊登记号；send the visit of the settlement"},
	"settlement-institution":     {bizRule, "结算与协议机构一致", "发送结算所属的协议机构；send the institution of the settlement"},
	"deduction-uploaded":         {preCheck, "已上传审核扣款信息", "只撤销经 GYU004 上传且未撤销的扣款；list only deductions uploaded with GYU004 and not revoked"},
	"unique-deduct-no":           {bizRule, "扣款编号不重复", "每笔扣款使用新的扣款编号；give every deduction its own deduct_no"},
	"deduction>0":                {bizRule, "扣款金额大于0", "扣款金额须大于0；a deduction amount must be greater than 0"},
	"deduction≤fund-paid":        {bizRule, "扣款金额不超过结算统筹支付总金额", "扣款合计不得超过结算的统筹支付金额；the deductions of a settlement cannot exceed its fund-paid total"},
	"institution-in-province":    {bizRule, "协议机构属于本省", "仅扣款本省协议机构；only this province's agency deducts from its institutions"},
	"once-per-month":             {bizRule, "每个协议机构每月仅一次月结", "每个协议机构每月只月结一次；each institution settles each month once"},
	"month-items":                {preCheck, "已上传结算信息", "月结明细须为本机构本月在本站上传的记录；list the records this site uploaded for the institution in the month, with their amounts"},
	"month-amount=Σitems":        {bizRule, "月结金额与明细总和一致", "按明细合计填写月结金额；give the sums of the items"},
	"month-count":                {bizRule, "月结金额与明细总和一致", "按明细条数填写笔数；count the items"},
	"person-count":               {bizRule, "月结人次大于0", "月结人次为结算笔数减撤销笔数；person_count is settlements − revocations"},
	"person-count>0":             {bizRule, "月结人次大于0", "月结人次须大于0；a monthly settlement needs at least one settled person-time"},
	"admission-downloaded":       {preCheck, "已下载入院登记信息", "先用 GYD101 下载入院信息；download the admission with GYD101 first"},
	"price×qty=amount":           {bizRule, "单价、数量、总金额逻辑一致", "金额须等于单价×数量；amount must be price × qty"},
	"fund+self=amount":           {bizRule, "统筹支付金额、自付金额与总金额逻辑一致", "统筹支付 + 自付 = 金额；fund_pay + self_pay must equal the line's amount"},
	"positive-quantity":          {bizRule, "费用金额校验：数量大于0", "数量须大于0，错误的明细用 GYR001 撤销；qty must be greater than 0 (revoke a wrong line with GYR001)"},
	"non-negative-price":         {bizRule, "费用金额校验：单价不为负", "单价不得为负；a price is not negative"},
	"non-negative-amount":        {bizRule, "费用金额校验：金额不为负", "金额不得为负；an amount is not negative"},
	"settlement=Σdetails":        {bizRule, "结算总金额、统筹支付金额、自付金额与明细总和一致", "按该次就诊有效明细的合计填写；give the sums of the stay's valid fee details"},
	"fund+self=total":            {bizRule, "结算总金额、统筹支付金额、自付金额与明细总和一致", "统筹支付 + 自付 = 总金额；fund_pay + self_pay must equal the total"},
	"full-own-pay≤self-pay":      {bizRule, "结算费用校验：全自费不超过自付", "全自费须在 0 与自付之间；full_own_pay lies between 0 and self_pay"},
	"settlement=Σitems":          {bizRule, "参照结算信息上传规则计算金额", "按辅具明细合计填写；give the sums of the items"},
	"discharge-after-admission":  {bizRule, "出院时间不早于入院时间", "核对出院时间；the discharge time is not before the admission"},
	"revoke-after-settle":        {bizRule, "撤销时间不早于结算时间", "填写结算之后的撤销时间；revoke_time is not before the settlement's settle_time"},
	"revoke-after-deduct":        {bizRule, "撤销时间不早于扣款时间", "填写扣款之后的撤销时间；revoke_time is not before the deduction's time"},
	"approved-institution":       {bizRule, "仅上传审核通过的协议机构", "机构审核通过后再上传；send the institution once it is approved"},
	"transaction-code":           {preCheck, "交易编号合规", "填写原交易的交易编号；give the code of the earlier transaction"},
	"redownload-data":            {preCheck, "存在需要重复下载的数据", "填写批次号或起止日期；give batch_no or aae030 and aae031"},
	"attachment-valid":           {preCheck, "附件ID有效", "请使用有效的附件ID；give the id of a valid attachment"},
}

// zhFirst starts every error of a rule in checkTexts with the check in the
// requirements' words, and gives its fix where the error has none.
func zhFirst(code string, ds sdk.Diagnostics) {
	for i := range ds {
		d := &ds[i]
		rest, ok := strings.CutPrefix(d.Summary, "rule ")
		if !ok {
			continue
		}
		id, _, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		t, ok := checkTexts[code+"/"+id]
		if !ok {
			if t, ok = checkTexts[id]; !ok {
				continue
			}
		}
		d.Summary = t.kind + "「" + t.zh + "」未通过：" + d.Summary
		if d.Detail == "" {
			d.Detail = t.fix
		}
	}
}

// The codes a local filing's attachments are checked with
// (codes/attachmentType.yaml and codes/bizType.yaml, medgate's
// reconstruction): GYU006 lists the 工伤认定决定书 among files uploaded for a
// filing.
const (
	attInjuryCert = "01" // attachmentType 工伤认定决定书
	bizFiling     = "1"  // bizType 备案
)

// dateOrder reports an end date before its start date.
func dateOrder(ds *sdk.Diagnostics, doc map[string]any, from, to string) {
	f, t := str(doc, from), str(doc, to)
	if f == "" || t == "" {
		return
	}
	ft, err1 := time.Parse("2006-01-02", f)
	tt, err2 := time.Parse("2006-01-02", t)
	if err1 == nil && err2 == nil && tt.Before(ft) {
		ds.Error("$."+to, "consistency", to+" "+t+" is before "+from+" "+f, "the end date must not be before the start date")
	}
}

// periodOrder refuses a period that ends before it starts when the
// message gives only part of it and the rest is the record's (what of
// $.aae030 and $.aae031 the message leaves out is from and to): an
// extension (GYU007) keeps the filing's start, an approval (GYU001) the
// application's period. Both dates given are dateOrder's. what names the
// period's filing, fix says how to correct it.
func periodOrder(ds *sdk.Diagnostics, doc map[string]any, what, from, to, fix string) {
	f, t := str(doc, "aae030"), str(doc, "aae031")
	if f != "" && t != "" {
		return
	}
	at := "$.aae031"
	if f == "" {
		f = from
	}
	if t == "" {
		t, at = to, "$.aae030"
	}
	ft, err1 := time.Parse("2006-01-02", f)
	tt, err2 := time.Parse("2006-01-02", t)
	if err1 == nil && err2 == nil && tt.Before(ft) {
		ds.Error(at, "consistency", fmt.Sprintf("%s would end (aae031 %s) before it starts (aae030 %s): it would never be valid", what, t, f), fix)
	}
}

func orOpen(d string) string {
	if d == "" {
		return "open-ended"
	}
	return d
}

// knownInst returns institution akb020 as this site knows it (downloaded
// with GYD009 or uploaded with GYU009); known is false for one it does not.
func knownInst(ctx context.Context, h sdk.Host, akb020 string) (inst instState, known bool, err error) {
	ver, err := getJSON(ctx, h, "inst/"+akb020, &inst)
	return inst, ver > 0, err
}

// warnUnknownInst warns that the check of an institution not known at
// this site (what) was not made: the upload goes out, and the national
// system, which knows every institution, checks it.
func warnUnknownInst(ds *sdk.Diagnostics, akb020, what string) {
	ds.Warn("$.akb020", "not-checked", "institution "+akb020+" is not known at this site: "+what+" was not checked",
		"download the institutions with a workinjury.GYD009 message (or upload this one with GYU009, the "+JobInstitutions+" job), and such checks are made before sending; the national system checks it in any case")
}

// instType returns the institution type of akb020 when an institution
// download or upload told it, else the type a filing_type implies
// (辅助器具配置 → 3, otherwise 1).
func (a *Adapter) instType(ctx context.Context, h sdk.Host, akb020, filingType string) (string, error) {
	it, _, err := a.instTypeOf(ctx, h, akb020, filingType)
	return it, err
}

// instTypeOf is instType, and whether the type is a guess: 1 for an
// institution not known here and a filing type other than 3 (which does
// not tell a medical institution from a rehabilitation one).
func (a *Adapter) instTypeOf(ctx context.Context, h sdk.Host, akb020, filingType string) (string, bool, error) {
	if t, err := a.knownInstType(ctx, h, akb020); err != nil || t != "" {
		return t, false, err
	}
	if filingType == "3" {
		return "3", false, nil
	}
	return "1", true, nil
}

// knownInstType is the type an institution download or upload told of
// akb020, "" when none did.
func (a *Adapter) knownInstType(ctx context.Context, h sdk.Host, akb020 string) (string, error) {
	if akb020 == "" {
		return "", nil
	}
	var st instState
	ver, err := getJSON(ctx, h, "inst/"+akb020, &st)
	if err != nil || ver == 0 {
		return "", err
	}
	return st.Type, nil
}

// typedFiling returns the person's valid filing for institution type
// instType as far as this site knows, other than except: a filing
// recorded under a guessed type (InstGuessed) counts by the type its
// institution has now, if it is known; while it is not, a guessed filing
// may be of type 1 or 2, and is returned with guessed set – never a
// ground to refuse anything. Guessed filings have an index entry each
// (guessedKey), so that neither hides a filing of type 1 for certain nor
// is hidden by one; those recorded before that are under type 1.
func (a *Adapter) typedFiling(ctx context.Context, h sdk.Host, person, instType, except string) (string, filingState, bool, error) {
	var maybeNo string
	var maybe filingState
	// of reports whether filing no is of instType for certain, and keeps
	// the first that may be.
	of := func(no string, f filingState) (bool, error) {
		if no == "" || no == except {
			return false, nil
		}
		if !f.InstGuessed {
			return f.InstType == instType, nil
		}
		t, err := a.knownInstType(ctx, h, f.AKB020)
		if err != nil {
			return false, err
		}
		if t == "" && maybeNo == "" && (instType == "1" || instType == "2") {
			maybeNo, maybe = no, f
		}
		return t == instType, nil
	}
	idxs := []string{instType}
	if instType == "2" {
		idxs = append(idxs, "1") // guesses recorded before they had entries of their own
	}
	for _, idx := range idxs {
		no, f, err := a.validFilingOf(ctx, h, person, idx)
		if err != nil {
			return "", filingState{}, false, err
		}
		if ok, err := of(no, f); err != nil || ok {
			return no, f, false, err
		}
	}
	if instType != "1" && instType != "2" {
		return "", filingState{}, false, nil
	}
	gs, err := a.guessedFilings(ctx, h, person)
	if err != nil {
		return "", filingState{}, false, err
	}
	for _, g := range gs {
		if ok, err := of(g.no, g.f); err != nil || ok {
			return g.no, g.f, false, err
		}
	}
	return maybeNo, maybe, maybeNo != "", nil
}

// guessedKey is the person's index entry of filing no, recorded under a
// guessed institution type (InstGuessed): one entry per such filing,
// apart from the entry of each type (person/<person>/<type>), which names
// one filing of the type and which a filing of the type for certain
// takes.
func guessedKey(person, no string) string { return "person/" + person + "/g/" + no }

// numberedFiling is a filing and its number.
type numberedFiling struct {
	no string
	f  filingState
}

// guessedFilings returns the person's valid filings recorded under a
// guessed institution type (guessedKey), in filing-number order.
func (a *Adapter) guessedFilings(ctx context.Context, h sdk.Host, person string) ([]numberedFiling, error) {
	prefix := guessedKey(person, "")
	es, err := h.Scan(ctx, prefix, 0)
	if err != nil {
		return nil, fmt.Errorf("read the filings of a person recorded at institutions not known here: %w", err)
	}
	today := a.now().In(cst).Format("2006-01-02")
	var out []numberedFiling
	for _, e := range es {
		no := strings.TrimPrefix(e.Key, prefix)
		var f filingState
		ver, err := getJSON(ctx, h, "filing/"+no, &f)
		if err != nil {
			return nil, err
		}
		if ver > 0 && f.InstGuessed && f.Person == person && f.valid(today) {
			out = append(out, numberedFiling{no: no, f: f})
		}
	}
	return out, nil
}

// filingInstTypes returns the institution types a filing of filingType at
// akb020 can be of: the type an institution
// download or upload told; for an institution not known here (or none
// named), 3 for an assistive-device filing (辅助器具配置, made only at such
// an institution) and 1 or 2 for any other, since the filing type does not
// tell a medical institution from a rehabilitation one.
func (a *Adapter) filingInstTypes(ctx context.Context, h sdk.Host, akb020, filingType string) ([]string, error) {
	if akb020 != "" {
		var st instState
		ver, err := getJSON(ctx, h, "inst/"+akb020, &st)
		if err != nil {
			return nil, err
		}
		if ver > 0 && st.Type != "" {
			return []string{st.Type}, nil
		}
	}
	if filingType == "3" {
		return []string{"3"}, nil
	}
	return []string{"1", "2"}, nil
}

// oneValidFiling checks the rule 同一人员同一机构类型仅保留一条有效备案 for a new
// filing of person at akb020 (GYU006, a GYU001 approval): refuse is called
// with the person's valid filing when there is one of every type the
// filing can be of (filingInstTypes). A filing that may be right – at an
// institution not known here, the person holding a valid filing of one of
// its possible types only – is not refused on a guess: ds gets a warning
// (rule not-checked, at $.akb020) naming the institution and that filing,
// and the national system, which knows the institution, decides.
func (a *Adapter) oneValidFiling(ctx context.Context, h sdk.Host, ds *sdk.Diagnostics, person, akb020, filingType string, refuse func(no, instType string, f filingState)) error {
	types, err := a.filingInstTypes(ctx, h, akb020, filingType)
	if err != nil {
		return err
	}
	var taken, maybe []string
	var first filingState
	firstNo, firstType, maybeNo := "", "", ""
	for _, it := range types {
		no, f, guessed, err := a.typedFiling(ctx, h, personKey(person), it, "")
		if err != nil {
			return err
		}
		switch {
		case no == "":
			continue
		case guessed:
			// Recorded at an institution not known here: whether it is
			// of this type is not known, so it refuses nothing (and it
			// may be found as of either type: named once).
			if m := no + " (at institution " + f.AKB020 + ")"; !slices.Contains(maybe, m) {
				maybe = append(maybe, m)
			}
			if maybeNo == "" {
				maybeNo = no
			}
			continue
		}
		taken = append(taken, no+" (institution type "+it+")")
		if firstNo == "" {
			firstNo, firstType, first = no, it, f
		}
	}
	if len(maybe) > 0 && len(taken) < len(types) {
		ds.Warn("$.aac002", "not-checked", fmt.Sprintf("this person's valid filing %s was accepted at an institution not known at this site, so its type (medical 1 or rehabilitation 2) is not known: one valid filing per person per institution type was not checked against it; the filing is sent, and the national system checks it",
			strings.Join(maybe, ", ")),
			"download the institutions with a workinjury.GYD009 message (or upload that one with GYU009, the "+JobInstitutions+" job), and the rule is checked before sending; if the national system refuses the filing as a second one of the type, change or terminate filing "+maybeNo+" with GYU007 (change_type 5) first")
	}
	switch {
	case len(taken) == 0:
	case len(taken) == len(types):
		refuse(firstNo, firstType, first)
	default:
		inst := "institution " + akb020 + " is not known at this site"
		if akb020 == "" {
			inst = "the filing names no institution"
		}
		ds.Warn("$.akb020", "not-checked", fmt.Sprintf("%s, so its type (medical 1 or rehabilitation 2) is not known: one valid filing per person per institution type was not checked against this person's valid filing %s; the filing is sent, since at an institution of another type it is right, and the national system checks it",
			inst, strings.Join(taken, ", ")),
			"download the institutions with a workinjury.GYD009 message (or upload this one with GYU009, the "+JobInstitutions+" job), and the rule is checked before sending; if the national system refuses the filing as a second one of the type, change or terminate filing "+firstNo+" with GYU007 (change_type 5) first")
	}
	return nil
}

// changedInstTypeOf is the institution type of filing f once it names
// institution akb020 (GYU007), and whether it is a guess: the type an
// institution download or upload told, else f's own (a change tells no
// filing type, and the default of instType would turn an assistive-device
// or rehabilitation filing into a medical one), a guess if f's was
// (InstGuessed).
func (a *Adapter) changedInstTypeOf(ctx context.Context, h sdk.Host, f filingState, akb020 string) (string, bool, error) {
	t, err := a.knownInstType(ctx, h, akb020)
	if err != nil || t != "" {
		return t, false, err
	}
	if f.InstType != "" {
		return f.InstType, f.InstGuessed, nil
	}
	return "1", true, nil
}

// oneValidAfterChange checks that filing no (f), changed by a GYU007 to
// next (valid) and, if akb020 is given, moved to that institution, is no
// second valid filing of its person for its institution type. Its type is
// the one its (new) institution has once known; while that is not known
// (a filing recorded under a guessed type, InstGuessed) it may be of type
// 1 or 2, and the change is refused only when the person has a valid
// filing of both beside it. A filing that is not refused on such a guess,
// or beside another filing of a guessed type, is sent with a not-checked
// warning naming that filing. Errors go to at.
func (a *Adapter) oneValidAfterChange(ctx context.Context, h sdk.Host, ds *sdk.Diagnostics, no string, f, next filingState, akb020, at string) error {
	it, guessed := f.InstType, false
	switch {
	case akb020 != "":
		var err error
		if it, guessed, err = a.changedInstTypeOf(ctx, h, f, akb020); err != nil {
			return err
		}
	case f.InstGuessed:
		t, err := a.knownInstType(ctx, h, f.AKB020)
		if err != nil {
			return err
		}
		it, guessed = t, t == ""
	}
	types := []string{it}
	if guessed {
		types = []string{"1", "2"}
	}
	var taken, maybe []string
	firstNo, firstType := "", ""
	var first filingState
	for _, t := range types {
		other, of, g, err := a.typedFiling(ctx, h, next.Person, t, no)
		if err != nil {
			return err
		}
		switch {
		case other == "" || other == no:
			continue
		case g:
			if m := other + " (at institution " + of.AKB020 + ")"; !slices.Contains(maybe, m) {
				maybe = append(maybe, m)
			}
			continue
		}
		taken = append(taken, other+" (institution type "+t+")")
		if firstNo == "" {
			firstNo, firstType, first = other, t, of
		}
	}
	inst := firstNonEmpty(akb020, f.AKB020)
	switch {
	case len(taken) == 0:
	case !guessed:
		ds.Error(at, "state", fmt.Sprintf("the change would make filing %s a second valid filing of its person for institution type %s, beside filing %s (valid until %s)", no, firstType, firstNo, orOpen(first.AAE031)),
			"one valid filing per person per institution type: terminate filing "+firstNo+" with GYU007 (change_type 5) first, or change that one instead")
		return nil
	case len(taken) == len(types):
		ds.Error(at, "state", fmt.Sprintf("the change would make filing %s a second valid filing of its person whatever the type of institution %s (not known at this site): the person has valid filings %s", no, inst, strings.Join(taken, ", ")),
			"one valid filing per person per institution type: terminate one of them with GYU007 (change_type 5) first, or change that one instead")
		return nil
	default:
		ds.Warn(at, "not-checked", fmt.Sprintf("filing %s is at institution %s, not known at this site, so its type (medical 1 or rehabilitation 2) is not known: one valid filing per person per institution type was not checked against this person's valid filing %s; the change is sent, and the national system checks it", no, inst, strings.Join(taken, ", ")),
			"download the institutions with a workinjury.GYD009 message (or upload that one with GYU009, the "+JobInstitutions+" job), and the rule is checked before sending; if the national system refuses the change as a second filing of the type, terminate filing "+firstNo+" with GYU007 (change_type 5) first")
	}
	if len(maybe) > 0 {
		ds.Warn("$.filing_no", "not-checked", fmt.Sprintf("this person's valid filing %s was accepted at an institution not known at this site, so its type (medical 1 or rehabilitation 2) is not known: one valid filing per person per institution type was not checked against it; the change is sent, and the national system checks it", strings.Join(maybe, ", ")),
			"download the institutions with a workinjury.GYD009 message (or upload that one with GYU009, the "+JobInstitutions+" job), and the rule is checked before sending")
	}
	return nil
}

// validFiling returns the person's valid filing for an institution type,
// or "" when there is none.
func (a *Adapter) validFiling(ctx context.Context, h sdk.Host, aac002, instType string) (string, filingState, error) {
	return a.validFilingOf(ctx, h, personKey(aac002), instType)
}

// validFilingOf is validFiling for a person by personKey.
func (a *Adapter) validFilingOf(ctx context.Context, h sdk.Host, person, instType string) (string, filingState, error) {
	var no string
	ver, err := getJSON(ctx, h, "person/"+person+"/"+instType, &no)
	if err != nil || ver == 0 || no == "" {
		return "", filingState{}, err
	}
	var f filingState
	if ver, err := getJSON(ctx, h, "filing/"+no, &f); err != nil || ver == 0 {
		return "", filingState{}, err
	}
	if !f.valid(a.now().In(cst).Format("2006-01-02")) {
		return "", filingState{}, nil
	}
	return no, f, nil
}

// putFiling stores a filing and keeps the person index pointing at the
// valid one: the entry of its type, or, for a filing recorded under a
// guessed type, an entry of its own (guessedKey), so that it neither
// replaces nor is replaced by a filing of type 1 for certain.
func (a *Adapter) putFiling(ctx context.Context, h sdk.Host, no string, f filingState) error {
	f.At = a.now().UTC()
	if err := putJSON(ctx, h, "filing/"+no, f); err != nil {
		return err
	}
	if f.Person == "" {
		return nil
	}
	valid := f.valid(a.now().In(cst).Format("2006-01-02"))
	idx := "person/" + f.Person + "/" + f.InstType
	var cur string
	if _, err := getJSON(ctx, h, idx, &cur); err != nil {
		return err
	}
	gk := guessedKey(f.Person, no)
	if f.InstGuessed {
		// An entry of its guessed type naming it was made before
		// guesses had entries of their own.
		if cur == no {
			if err := h.Delete(ctx, idx); err != nil {
				return err
			}
		}
		if valid {
			return putJSON(ctx, h, gk, no)
		}
		return h.Delete(ctx, gk)
	}
	// Its type is known now (a change to an institution known here).
	if err := h.Delete(ctx, gk); err != nil {
		return err
	}
	switch {
	case valid:
		return putJSON(ctx, h, idx, no)
	case cur == no:
		return h.Delete(ctx, idx)
	}
	return nil
}

// apply records the effects of an accepted upload in the adapter state, so
// that the rules above know them. It is idempotent: a reconciled outcome
// applies it again.
func (a *Adapter) apply(ctx context.Context, h sdk.Host, c *siteConfig, msgID, code string, doc map[string]any, output json.RawMessage) error {
	out := map[string]any{}
	if code != "GYU102" {
		// The effects of a GYU102 read nothing of its output (a result per
		// line, the largest output there is): it is not decoded.
		dec := json.NewDecoder(bytes.NewReader(output))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil || out == nil {
			out = map[string]any{}
		}
	}
	now := a.now().UTC()
	if err := a.applyLifecycle(ctx, h, msgID, code, doc, out, output); err != nil {
		return err
	}
	switch code {
	case "GYU001":
		no := str(doc, "apply_no")
		var st applyState
		if _, err := getJSON(ctx, h, "apply/"+no, &st); err != nil {
			return err
		}
		st.Status, st.Result, st.FilingNo, st.At = applyAudited, str(doc, "audit_result"), str(out, "filing_no"), now
		if err := putJSON(ctx, h, "apply/"+no, st); err != nil {
			return err
		}
		if st.FilingNo == "" {
			return nil
		}
		status := filingApproved
		if st.Result == "2" {
			status = filingRefused
		}
		akb020 := str(doc, "akb020")
		if akb020 == "" {
			akb020 = st.AKB020
		}
		it, guessed, err := a.instTypeOf(ctx, h, akb020, st.FilingType)
		if err != nil {
			return err
		}
		// The period and place are the application's unless the audit
		// gives others, as the national system records them.
		return a.putFiling(ctx, h, st.FilingNo, filingState{Status: status, Person: personKey(str(doc, "aac002")), InstType: it, InstGuessed: guessed,
			AKB020: akb020, AAB299: st.AAB299, AAE030: firstNonEmpty(str(doc, "aae030"), st.AAE030), AAE031: firstNonEmpty(str(doc, "aae031"), st.AAE031)})
	case "GYU002":
		in, _ := doc["attachments"].([]any)
		got, _ := out["attachments"].([]any)
		for i, x := range got {
			r, _ := x.(map[string]any)
			id := str(r, "attachment_id")
			if id == "" {
				continue
			}
			st := attachmentState{BizType: str(doc, "biz_type"), BizNo: str(doc, "biz_no"), FileName: str(r, "file_name"), At: now}
			// The input the answer's entry is about: the one of its file
			// name when the name is the input's alone, else the same place.
			src := -1
			for j, x := range in {
				if m, ok := x.(map[string]any); ok && st.FileName != "" && str(m, "file_name") == st.FileName {
					if src >= 0 {
						src = -1
						break
					}
					src = j
				}
			}
			if src < 0 && i < len(in) {
				src = i
			}
			if src >= 0 {
				if m, ok := in[src].(map[string]any); ok {
					st.Type = str(m, "attachment_type")
				}
			}
			if err := putJSON(ctx, h, "att/"+id, st); err != nil {
				return err
			}
		}
	case "GYU006":
		no := str(out, "filing_no")
		if no == "" {
			return nil
		}
		it, guessed, err := a.instTypeOf(ctx, h, str(doc, "akb020"), str(doc, "filing_type"))
		if err != nil {
			return err
		}
		return a.putFiling(ctx, h, no, filingState{Status: filingApproved, Person: personKey(str(doc, "aac002")), InstType: it, InstGuessed: guessed,
			AKB020: str(doc, "akb020"), AAB299: str(doc, "aab299"), AAE030: str(doc, "aae030"), AAE031: str(doc, "aae031")})
	case "GYU007":
		no := str(doc, "filing_no")
		var f filingState
		ver, err := getJSON(ctx, h, "filing/"+no, &f)
		if err != nil {
			return err
		}
		if ver == 0 && str(doc, "change_type") != "5" {
			// A change tells neither the filing's status, person nor
			// validity: recording it would make a filing this site has
			// not seen look approved, and a later upload would skip the
			// GYD051 verification an unknown filing gets. A termination
			// is recorded: the filing is invalid for good.
			return nil
		}
		// moveTo records the filing at institution akb020, under its
		// type, and drops the person's index of the old type.
		moveTo := func(akb020 string) error {
			oldIdx := f.InstType
			f.AKB020 = akb020
			it, guessed, err := a.changedInstTypeOf(ctx, h, f, akb020)
			if err != nil {
				return err
			}
			f.InstGuessed = guessed
			if f.Person != "" && it != oldIdx {
				var cur string
				if _, err := getJSON(ctx, h, "person/"+f.Person+"/"+oldIdx, &cur); err != nil {
					return err
				}
				if cur == no {
					if err := h.Delete(ctx, "person/"+f.Person+"/"+oldIdx); err != nil {
						return err
					}
				}
			}
			f.InstType = it
			return nil
		}
		switch str(doc, "change_type") {
		case "1":
			f.AAE031 = str(doc, "aae031")
		case "2":
			if err := moveTo(str(doc, "akb020")); err != nil {
				return err
			}
		case "3":
			f.AAB299 = str(doc, "aab299")
			if v := str(doc, "akb020"); v != "" {
				if err := moveTo(v); err != nil {
					return err
				}
			}
		case "5":
			f.Status = filingTerminated
		}
		if f.Status == "" {
			f.Status = filingApproved
		}
		if str(doc, "change_type") != "5" && f.Status == filingApproved {
			f.Status = filingChanged
		}
		return a.putFiling(ctx, h, no, f)
	case "GYU009":
		return putJSON(ctx, h, "inst/"+str(doc, "akb020"), instFrom(doc, now))
	}
	return nil
}

// instFrom is the institution state of a GYU009 input or GYD009 record.
func instFrom(doc map[string]any, now time.Time) instState {
	return instState{Type: str(doc, "institution_type"), Valid: str(doc, "valid_flag"), AAB299: str(doc, "aab299"),
		AAE030: str(doc, "aae030"), AAE031: str(doc, "aae031"), At: now}
}
