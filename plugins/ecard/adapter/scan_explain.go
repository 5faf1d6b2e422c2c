package adapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// What a scanned text is, in the "kind" of every scan reply: the e-card's
// own QR code, or what the text is instead (the looksLike values).
const (
	KindECard              = "ecard"
	KindTemporaryCard      = "temporary-card"
	KindECardNumber        = lookECardNumber
	KindResidentID         = "resident-id"
	KindResidentIDBadCheck = "resident-id-bad-check"
	KindNationalHealthCard = "national-health-card"
	KindTraceCode          = "trace-code"
	KindUnknown            = "unknown"
	// KindNone is the kind of a scan refused before the text was looked at
	// (empty, too long, reveal not allowed).
	KindNone = ""
)

// cst is China Standard Time, the zone of the times in the messages.
var cst = time.FixedZone("CST", 8*3600)

// scanFacts are the fields of a scan reply's payload that its message is
// made of.
type scanFacts struct {
	Result       string     `json:"result"`
	LooksLike    string     `json:"looksLike"`
	Reason       string     `json:"reason"`
	CardNo       string     `json:"cardNo"`
	Name         string     `json:"name"`
	Status       string     `json:"status"`
	CardStatus   string     `json:"cardStatus"`
	ExpiresAt    *time.Time `json:"expiresAt"`
	RevokedAt    *time.Time `json:"revokedAt"`
	ReplacedBy   string     `json:"replacedBy"`
	WrongID      bool       `json:"wrongId"`
	TempCardNo   string     `json:"tempCardNo"`
	Prefix       string     `json:"prefix"`
	Source       string     `json:"source"`
	Lookup       string     `json:"lookup"`
	LookupFailed bool       `json:"lookupFailed"`
	Patient      *struct {
		PatientID string `json:"patientId"`
		Name      string `json:"name"`
	} `json:"patient"`
}

// explain adds "kind" (what the text is) and "message" (a sentence in
// Chinese for the person at the counter: what was scanned and what to do;
// names in it are always masked, whatever the reply reveals) to the
// payload of a scan reply, a JSON object (a reply without a payload gets
// one). The two fields are appended to the encoded object: a scan is a
// hot path, and decoding and re-encoding the whole reply would cost more
// than the scan's own work.
func explain(r *sdk.HandleResponse) (*sdk.HandleResponse, error) {
	if r == nil {
		return nil, nil
	}
	var f scanFacts
	body := bytes.TrimSpace(r.Payload)
	if len(body) > 0 {
		if body[0] != '{' {
			return nil, fmt.Errorf("explain the scan reply: %.20q is not a JSON object", body)
		}
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, fmt.Errorf("explain the scan reply: %w", err)
		}
	}
	if f.Result == "" && r.Status == sdk.StatusOK {
		f.Result = ResultOK
	}
	rule := ""
	if len(r.Diagnostics) > 0 {
		rule = r.Diagnostics[0].Rule
	}
	kind, msg := scanMessage(f, rule)
	k, _ := json.Marshal(kind)
	m, _ := json.Marshal(msg)
	out := make([]byte, 0, len(body)+len(k)+len(m)+24)
	if len(body) > 0 {
		out = append(out, body[:len(body)-1]...) // without the closing }
		if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
			out = append(out, ',')
		}
	} else {
		out = append(out, '{')
	}
	out = append(out, `"kind":`...)
	out = append(out, k...)
	out = append(out, `,"message":`...)
	out = append(out, m...)
	r.Payload = append(out, '}')
	return r, nil
}

// scanMessage says what a scan found, in Chinese: the kind of text and the
// message. rule is the refusal's rule when the reply has no result.
func scanMessage(f scanFacts, rule string) (kind, msg string) {
	switch f.Result {
	case ResultOK:
		return KindECard, fmt.Sprintf("电子卡有效：卡号 %s，%s，二维码有效期至 %s。", f.CardNo, orUnknown(card.MaskName(f.Name)), cstTime(f.ExpiresAt))
	case ResultTemporaryCard:
		return KindTemporaryCard, tempMessage(f)
	case ResultExpired:
		return KindECard, fmt.Sprintf("电子卡 %s 的二维码已于 %s 过期，请患者刷新或重新打印二维码。", f.CardNo, cstTime(f.ExpiresAt))
	case ResultNotYetValid:
		return KindECard, fmt.Sprintf("电子卡 %s 的二维码尚未生效：签发机与本机时钟不一致，请校准时钟后重扫。", f.CardNo)
	case ResultTampered:
		switch f.Reason {
		case "authentication":
			return KindECard, "电子卡二维码校验失败：可能是外院签发的电子卡二维码，或被改动、误读、伪造。请重新扫描；仍失败请核实患者身份，外院患者请在本院登记电子卡。"
		case "retired-key":
			return KindECard, "电子卡二维码用已停用的密钥在停用后签发，本院未签发过此码，可能为伪造：请核实患者身份并重新打印二维码。"
		case "unknown-key":
			return KindECard, "电子卡二维码的密钥本院未配置：本院已停用的密钥签发的，请为患者重新打印二维码；外院签发的，请在本院登记电子卡。"
		}
		return KindECard, "电子卡二维码不完整或格式错误，请重新扫描。"
	case ResultRevoked:
		if f.ReplacedBy != "" && f.LooksLike == KindTemporaryCard {
			return KindTemporaryCard, fmt.Sprintf("临时卡 %s 关联的电子卡 %s 已于 %s 注销，已由新电子卡 %s 取代，请将临时卡关联到新卡。",
				f.TempCardNo, f.CardNo, cstTime(f.RevokedAt), f.ReplacedBy)
		}
		if f.ReplacedBy != "" {
			return KindECard, fmt.Sprintf("电子卡 %s 已于 %s 注销，已由新电子卡 %s 取代，请扫描新卡的二维码（可在收费处打印）。",
				f.CardNo, cstTime(f.RevokedAt), f.ReplacedBy)
		}
		if f.WrongID && f.LooksLike == KindTemporaryCard {
			return KindTemporaryCard, fmt.Sprintf("临时卡 %s 关联的电子卡 %s 已于 %s 注销：该卡登记时用了他人证件号。请核对患者本人证件，用本人证件号注册电子卡，再把临时卡关联到新卡（填原卡号 %s）。",
				f.TempCardNo, f.CardNo, cstTime(f.RevokedAt), f.CardNo)
		}
		if f.WrongID {
			return KindECard, fmt.Sprintf("电子卡 %s 已于 %s 注销：该卡登记时用了他人证件号。请核对患者本人证件，用本人证件号注册电子卡。", f.CardNo, cstTime(f.RevokedAt))
		}
		if f.LooksLike == KindTemporaryCard {
			return KindTemporaryCard, fmt.Sprintf("临时卡 %s 关联的电子卡 %s 已于 %s 注销，请为患者重新注册电子卡。", f.TempCardNo, f.CardNo, cstTime(f.RevokedAt))
		}
		return KindECard, fmt.Sprintf("电子卡 %s 已于 %s 注销，请为患者重新注册电子卡。", f.CardNo, cstTime(f.RevokedAt))
	case ResultUnknownCard:
		if f.LooksLike == KindTemporaryCard {
			return KindTemporaryCard, fmt.Sprintf("临时卡 %s 关联的电子卡 %s 在本院不存在（关联记录有误）：请在 HIS 中按临时卡号查找病人，并请信息科核查此关联。", f.TempCardNo, f.CardNo)
		}
		return KindECard, fmt.Sprintf("二维码真实有效，但电子卡 %s 未在本院注册。", f.CardNo)
	case ResultOtherSite:
		return KindECard, "这是其他院区打印的电子卡二维码，本院区不能识别，请为患者在本院区打印二维码。"
	case ResultOldFormat:
		return KindECard, "这是旧版电子卡二维码（不含院区信息），本院区已停止识别，请为患者重新打印二维码。"
	case ResultNotECard:
		return notECardMessage(f)
	}
	switch rule {
	case "required":
		return KindNone, "没有扫到内容，请重新扫描。"
	case "length":
		return KindNone, "扫到的内容过长，不是本院认识的码，请检查扫码枪设置。"
	case "not-allowed":
		return KindNone, "本院区未允许扫码显示患者的完整身份信息，请不要求显示完整身份（不带 reveal）重新扫码。"
	}
	return KindNone, "扫码请求无效，请查看错误说明。"
}

// notECardMessage explains a text that is not an e-card QR code.
func notECardMessage(f scanFacts) (string, string) {
	switch f.LooksLike {
	case KindECardNumber:
		return KindECardNumber, fmt.Sprintf("这是电子卡号 %s，不是二维码：卡号不能证明患者在场，请出示电子卡二维码。", f.CardNo)
	case KindResidentID:
		switch f.CardStatus {
		case "":
			return KindResidentID, "这是居民身份证号（校验位正确），不是电子卡：此人未注册电子卡，请按身份证号在 HIS 查找病人。"
		case statusDead:
			return KindResidentID, fmt.Sprintf("这是居民身份证号（校验位正确），不是电子卡：此人的电子卡 %s（%s）已注销，请重新注册。", f.CardNo, orUnknown(f.Name))
		}
		return KindResidentID, fmt.Sprintf("这是居民身份证号（校验位正确），不是电子卡：此人已注册电子卡 %s（%s），请出示电子卡二维码，或按身份证号在 HIS 查找病人。", f.CardNo, orUnknown(f.Name))
	case KindResidentIDBadCheck:
		return KindResidentIDBadCheck, "像居民身份证号，但校验位不对（GB 11643）：可能读错或输错，请重新扫描或核对证件。"
	case KindNationalHealthCard:
		return KindNationalHealthCard, "这是国家电子健康卡二维码，不是本院电子卡：请通过电子健康卡平台核验。"
	case KindTraceCode:
		return KindTraceCode, "这是药品追溯码（20 位），不是就诊卡：请在药品出入库或发药时扫描。"
	}
	return KindUnknown, "无法识别的码：不是本院电子卡、临时卡、身份证号或追溯码，请重新扫描。"
}

// tempMessage explains a scan of a temporary-card number.
func tempMessage(f scanFacts) string {
	head := fmt.Sprintf("临时卡 %s（前缀 %s）", f.TempCardNo, f.Prefix)
	switch {
	case f.Source == lookupLinks && f.CardNo != "":
		return fmt.Sprintf("%s已关联电子卡 %s：%s。", head, f.CardNo, orUnknown(card.MaskName(f.Name)))
	case f.Source == "his" && f.Patient != nil:
		return fmt.Sprintf("%s：HIS 查到病人 %s（病人号 %s）。", head, orUnknown(card.MaskName(f.Patient.Name)), orUnknown(f.Patient.PatientID))
	case f.LookupFailed:
		return head + "：HIS 查询失败，请在 HIS 中按临时卡号查找病人。"
	case f.Lookup == lookupNone:
		return head + "：本院不查询临时卡，请在 HIS 中按临时卡号查找病人。"
	case f.Lookup == lookupLinks:
		return head + "：尚未关联电子卡，请在 HIS 中按临时卡号查找病人，为其注册电子卡并关联。"
	}
	return head + "：未关联电子卡，HIS 也不认识此卡，请核对卡号。"
}

func cstTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "（未知）"
	}
	return t.In(cst).Format("2006-01-02 15:04")
}

func orUnknown(s string) string {
	if s == "" {
		return "（未知）"
	}
	return s
}
