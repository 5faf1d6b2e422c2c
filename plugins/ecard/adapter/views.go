package adapter

import (
	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// FormPrint is the console's e-card print page.
const FormPrint = "print"

// FormDesk is the cashier's e-card desk; FormScan the scanning counter;
// FormRename the correction of the name on a card; FormRevoke the
// revocation of a card.
const (
	FormDesk   = "desk"
	FormScan   = "scan"
	FormRename = "rename"
	FormRevoke = "revoke"
	// FormPhone is the correction of the phone on a card.
	FormPhone = "phone"
	// FormLookup looks a card up by its number or a temporary card's
	// (ecard.get, masked).
	FormLookup = "lookup"
)

// CmdRename is `medgate ecard rename`; CmdRevoke `medgate ecard revoke`.
const (
	CmdRename = "rename"
	CmdRevoke = "revoke"
	// CmdPhone is `medgate ecard phone`.
	CmdPhone = "phone"
)

// revokeArguments are the inputs of the revoke form and command.
var revokeArguments = []sdk.Argument{
	{Name: "cardNo", Type: sdk.SettingString, Required: true, Description: "卡号：要注销的电子卡号 the e-card number to revoke"},
	{Name: "reason", Type: sdk.SettingString, Required: true, Description: "注销原因，如“重复登记”“证件号输错” why: e.g. duplicate registration, wrong ID number typed"},
	{Name: "wrongId", Type: sdk.SettingBool, Description: "用他人证件号登记（证件号输错）：选“是”，该证件号持有人再登记时得到自己的新卡，不作为此卡的替换卡 registered with another person's ID number: the number's holder then gets a card of their own, not this card's replacement"},
}

// revokeResult shows the reply of a revocation.
var revokeResult = sdk.Display{Fields: []sdk.Column{
	{Field: "cardNo", Title: "卡号 card number"},
	{Field: "status", Title: "卡状态 card status", Codes: cardStatusCodes},
	{Field: "revokedAt", Title: "注销时间 revoked at"},
	{Field: "reason", Title: "原因 reason"},
	{Field: "alreadyRevoked", Title: "此前已注销 already revoked"},
	{Field: "wrongId", Title: "证件号输错 wrong ID number"},
}}

// renameArguments are the inputs of the rename form and command.
var renameArguments = []sdk.Argument{
	{Name: "cardNo", Type: sdk.SettingString, Required: true, Description: "卡号：电子卡号（见收费处的未打印提示、标签或“最近登记的电子卡”工作列表）the e-card number (on the desk's refusal, the label or the recent-cards work list)"},
	{Name: "idNumber", Type: sdk.SettingString, Required: true, Description: "证件号码：卡上登记的证件号码（新生儿卡填监护人的），按患者出示的证件填写 the document number registered with the card (a newborn's card: the guardian's), from the document the patient shows"},
	{Name: "name", Type: sdk.SettingString, Required: true, Description: "正确的姓名，与证件一致 the correct name, as on the document"},
	{Name: "reason", Type: sdk.SettingString, Required: true, Description: "更正原因，如“登记时姓名输错”“已改名” why: e.g. typo at registration, name changed"},
}

// renameResult shows the reply of a rename.
var renameResult = sdk.Display{Fields: []sdk.Column{
	{Field: "cardNo", Title: "卡号 card number"},
	{Field: "previousName", Title: "原姓名 previous name", Personal: true},
	{Field: "name", Title: "现姓名 name now", Personal: true},
	{Field: "renamed", Title: "已更正（false：卡上已是此姓名）renamed (false: the card had the name already)"},
}}

// phoneArguments are the inputs of the phone form and command.
var phoneArguments = []sdk.Argument{
	renameArguments[0], renameArguments[1],
	{Name: "phone", Type: sdk.SettingString, Required: true, Description: "正确的手机号：11 位手机号码；证件类型不是 01/02 时也可填国际号码，如 +85291234567 the correct mobile number: 11 digits; with a document other than 01/02 also an international number such as +85291234567"},
	{Name: "reason", Type: sdk.SettingString, Required: true, Description: "更正原因，如“登记时手机号输错”“已换号” why: e.g. typo at registration, new number"},
}

// phoneResult shows the reply of a phone correction.
var phoneResult = sdk.Display{Fields: []sdk.Column{
	{Field: "cardNo", Title: "卡号 card number"},
	{Field: "previousPhone", Title: "原手机号 previous phone", Personal: true},
	{Field: "phone", Title: "现手机号 phone now", Personal: true},
	{Field: "corrected", Title: "已更正（false：卡上已是此号码）corrected (false: the card had the number already)"},
}}

// commands declares the plugin's command-line verbs.
func commands() []sdk.Command {
	return []sdk.Command{{
		Name:    CmdRename,
		Summary: "更正电子卡上登记的姓名 correct the name stored on an e-card",
		Description: `更正电子卡上登记的姓名（登记时输错、已改名）：给出卡号、卡上登记的证件号码（新生儿卡为监护人的）、
正确的姓名和原因。原姓名（遮蔽）与原因记入交换日志，并发布 ecard.renamed 事件。作为 ecard.rename 消息发给运行中的 medgate。

Corrects the name stored on an e-card (a typo at registration, a name changed):
give the card number, the document number registered with the card (a newborn's
card: the guardian's), the correct name and the reason. The previous name,
masked, and the reason are journaled, and ecard.renamed is published. Sent to
the running medgate as an ecard.rename message.`,
		Operation: OpRename,
		Arguments: renameArguments,
		Result:    renameResult,
		Role:      sdk.RoleAdmin,
	}, {
		Name:    CmdRevoke,
		Summary: "注销电子卡，其二维码不再可用 revoke an e-card so its QR codes no longer scan",
		Description: `注销电子卡：给出卡号和原因。用他人证件号登记的卡加 -wrongId，该证件号持有人再登记时得到自己的新卡。
作为 ecard.revoke 消息发给运行中的 medgate。

Revokes an e-card: give the card number and the reason. A card registered with
another person's ID number takes -wrongId, so that the number's holder
registering later gets a card of their own, not this card's replacement. Sent to
the running medgate as an ecard.revoke message.`,
		Operation: OpRevoke,
		Arguments: revokeArguments,
		Result:    revokeResult,
		Role:      sdk.RoleAdmin,
	}, {
		Name:    CmdPhone,
		Summary: "更正电子卡上登记的手机号 correct the phone number stored on an e-card",
		Description: `更正电子卡上登记的手机号（登记时输错、已换号）：给出卡号、卡上登记的证件号码（新生儿卡为监护人的）、
正确的手机号和原因。原号码（遮蔽）与原因记入交换日志，并发布 ecard.phone.corrected 事件。作为 ecard.phone.correct 消息发给运行中的 medgate。

Corrects the phone number stored on an e-card (a typo at registration, a new
number): give the card number, the document number registered with the card (a
newborn's card: the guardian's), the correct number and the reason. The previous
number, masked, and the reason are journaled, and ecard.phone.corrected is
published. Sent to the running medgate as an ecard.phone.correct message.`,
		Operation: OpPhone,
		Arguments: phoneArguments,
		Result:    phoneResult,
		Role:      sdk.RoleAdmin,
	}}
}

// labelTitle is printed at the top of every e-card label.
const labelTitle = "电子就诊卡 E-card"

// scanResultCodes gives the meaning of each scan result (the reply's
// "result": "ok" or the refusal's rule), shown by the console and the
// command line as "meaning (code)"; the HIS reads the code.
var scanResultCodes = map[string]string{
	ResultOK:            "有效电子卡 valid e-card",
	ResultTemporaryCard: "临时卡 temporary card",
	ResultExpired:       "二维码已过期 code expired",
	ResultNotYetValid:   "二维码尚未生效（请校准时钟）not yet valid",
	ResultTampered:      "二维码校验失败 code failed its check",
	ResultRevoked:       "卡已注销 card revoked",
	ResultNotECard:      "不是电子卡二维码 not an e-card code",
	ResultUnknownCard:   "本院无此卡 unknown card",
	ResultOtherSite:     "其他院区的二维码 code of another site",
	ResultOldFormat:     "旧版二维码，本院区不再识别 old code format",
}

// cardStatusCodes gives the meaning of a card's status.
var cardStatusCodes = map[string]string{
	statusLive: "有效 active",
	statusDead: "已注销 revoked",
}

// idTypeEnglish gives the English after the Chinese name of an ID type.
var idTypeEnglish = map[string]string{
	card.IDTypeResidentCard:             "resident ID card",
	card.IDTypeHouseholdRegister:        "household register",
	card.IDTypePassport:                 "passport",
	card.IDTypeHKMacauPermit:            "Hong Kong/Macau home-return permit",
	card.IDTypeTaiwanPermit:             "Taiwan compatriot permit",
	card.IDTypeForeignPermanentResident: "foreign permanent resident ID card",
	card.IDTypeHMTResidencePermit:       "HK/Macau/Taiwan residence permit",
	card.IDTypeOther:                    "other legal document",
}

// idTypeCodes gives the meaning of every ID type a registration accepts
// (card.IDTypes), Chinese first, for the idType work-list column.
var idTypeCodes = func() map[string]string {
	m := map[string]string{}
	for _, code := range card.IDTypes() {
		m[code] = card.IDTypeName(code)
		if en := idTypeEnglish[code]; en != "" {
			m[code] += " " + en
		}
	}
	return m
}()

// forms declares the plugin's console pages.
func forms() []sdk.Form {
	return []sdk.Form{{
		Name:        FormDesk,
		Title:       "收费处电子卡 Cashier e-card desk",
		Description: "登记患者并打印二维码标签，一步完成。Register the patient, or find their existing card (one person, one card), and print the QR label in one step. Check the name and document with the patient.",
		Operation:   OpDesk,
		// No Key: the message key is kept unencrypted, and the only
		// identifying field is the ID number (the message id is used).
		Fields: []sdk.Argument{
			{Name: "name", Type: sdk.SettingString, Required: true, Description: "姓名 name as on the document"},
			{Name: "idType", Type: sdk.SettingString, Required: true, Default: "01", Enum: []string{"01", "02", "03", "06", "07", "08", "09", "99"},
				Description: "证件类型 document type: 01 居民身份证, 02 户口簿, 03 护照, 06 港澳通行证, 07 台湾通行证, 08 外国人永久居留证, 09 港澳台居住证, 99 其他"},
			{Name: "idNumber", Type: sdk.SettingString, Required: true, Description: "证件号码 document number"},
			// Not Required: only a passport has one. An empty field is
			// left out of the payload.
			{Name: "issuingCountry", Type: sdk.SettingString, Description: "护照签发国（仅证件类型 03 护照）：机读区 P< 之后的 3 个字母，如 GBR、USA、CHN passport's issuing state (03 only): the 3 letters after P< in the machine-readable zone, e.g. GBR, USA, CHN"},
			{Name: "phone", Type: sdk.SettingString, Required: true, Description: "手机号：11 位手机号码；证件类型不是 01/02 时也可填国际号码，如 +85291234567 11-digit mobile number; with a document other than 01/02 also an international number such as +85291234567"},
			// Not Required: only a patient who holds a temporary card has
			// one. An empty field is left out of the payload.
			{Name: "tempCardNo", Type: sdk.SettingString, Description: "临时卡号（选填）：患者持有的临时卡，登记后关联到电子卡 the temporary card the patient holds (optional): linked to the e-card"},
			// No Default: an empty validity is left out of the payload,
			// so the site's qrValidity applies (a Default would be sent
			// for every site).
			{Name: "validity", Type: sdk.SettingDuration, Description: "二维码有效期 QR validity, e.g. 72h (3 days), at most 2160h (90 days); 留空 leave empty for the site's qrValidity"},
			{Name: "confirmName", Type: sdk.SettingBool, Description: "确认打印：证件号已有电子卡但姓名不一致时，核对证件确认此卡就是眼前患者的（如生僻字无法输入）才勾选；卡上姓名有误请先更正 print although the names differ: only when the document shows the card is this patient's; correct a wrong name on the card first"},
		},
		Result: sdk.Display{
			Fields: []sdk.Column{
				{Field: "outcome", Title: "结果 outcome"},
				{Field: "cardNo", Title: "卡号 card number"},
				{Field: "label.name", Title: "姓名 name", Personal: true},
				{Field: "storedName", Title: "卡上登记的姓名 name on the card", Personal: true},
				{Field: "idTypeName", Title: "证件类型 document type"},
				{Field: "tempCardNo", Title: "已关联的临时卡 temporary card linked"},
				{Field: "expiresAt", Title: "二维码有效期至 code valid until"},
			},
			Images:     []sdk.Column{{Field: "png", Title: "电子就诊卡二维码 e-card QR code"}, {Field: "labelPng", Title: "标签图片 Label image (for label printers without a Chinese font)"}},
			Lines:      "label.lines",
			Printable:  true,
			LabelTitle: labelTitle,
		},
	}, {
		Name:        FormRename,
		Title:       "电子卡更正姓名 Correct the name on an e-card",
		Description: "仅限管理员 admins only. 收费处因姓名不一致未打印标签时：与患者核对证件，卡上姓名登记时输错或已改名的，由管理员在此更正后再打印。证件号输错的卡不在此更正：以 wrongId 注销后用正确证件号重新登记。When the desk did not print because the names differ: check the document with the patient; an admin corrects a name mistyped at registration or changed since here, then the desk prints. A card registered with a wrong ID number is not corrected here: revoke it with wrongId and register with the right number.",
		Operation:   OpRename,
		Key:         "cardNo",
		Fields:      renameArguments,
		Result:      renameResult,
		Role:        sdk.RoleAdmin,
	}, {
		Name:        FormPhone,
		Title:       "电子卡更正手机号 Correct the phone on an e-card",
		Description: "仅限管理员 admins only. 与患者核对证件后，更正卡上登记的手机号（登记时输错或已换号）；新生儿卡为监护人的手机号。Check the document with the patient, then correct the number stored on the card (a typo at registration, a new number); a newborn's card: the guardian's.",
		Operation:   OpPhone,
		Key:         "cardNo",
		Fields:      phoneArguments,
		Result:      phoneResult,
		Role:        sdk.RoleAdmin,
	}, {
		Name:        FormRevoke,
		Title:       "电子卡注销 Revoke an e-card",
		Description: "仅限管理员 admins only. 注销后此卡的二维码不再可用；患者再登记时得到新卡。卡是用他人证件号登记的（证件号输错），选“用他人证件号登记”为“是”，再用正确证件号各自登记。Its QR codes stop scanning; the patient registering again gets a new card. For a card registered with another person's ID number choose wrongId yes, then register each patient with their own number.",
		Operation:   OpRevoke,
		Key:         "cardNo",
		Fields:      revokeArguments,
		Result:      revokeResult,
		Role:        sdk.RoleAdmin,
	}, {
		Name:        FormLookup,
		Title:       "电子卡查询 Look up an e-card",
		Description: "按卡号或临时卡号查看电子卡：状态、患者（已遮蔽）、关联的临时卡；不打印二维码。Look a card up by its number or a temporary card's: its status, the patient (masked) and linked temporary cards; prints no code.",
		Operation:   OpGet,
		Key:         "cardNo",
		Fields:      []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true, Description: "卡号：电子卡号或临时卡号 the e-card number or a temporary-card number"}},
		Result: sdk.Display{
			Fields: []sdk.Column{
				{Field: "cardNo", Title: "卡号 card number"},
				{Field: "matchedTempCardNo", Title: "查询的临时卡号 temporary card looked up"},
				{Field: "status", Title: "卡状态 card status", Codes: cardStatusCodes},
				{Field: "replacedBy", Title: "已由此卡取代 replaced by"},
				{Field: "name", Title: "姓名 name", Personal: true},
				{Field: "idType", Title: "证件类型 document type", Codes: idTypeCodes},
				{Field: "idNumber", Title: "证件号 document number", Personal: true},
				{Field: "phone", Title: "手机号 phone", Personal: true},
				{Field: "guardian.name", Title: "监护人 guardian (newborn)", Personal: true},
				{Field: "birthOrder", Title: "胎次 birth order (newborn)"},
				{Field: "tempCards", Title: "关联的临时卡 linked temporary cards"},
				{Field: "registeredAt", Title: "登记时间 registered"},
				{Field: "revokedAt", Title: "注销时间 revoked"},
			},
		},
	}, {
		Name:        FormScan,
		Title:       "扫码 Scan",
		Description: "用扫码枪扫描电子卡二维码、临时卡号、身份证号或追溯码。Scan an e-card QR code, a temporary-card number, an ID number or a trace code with the USB scanner (or type it and press Enter).",
		Operation:   OpScan,
		Scanner:     true,
		Fields:      []sdk.Argument{{Name: "text", Type: sdk.SettingString, Required: true, Description: "扫描内容 what the scanner reads"}},
		Result: sdk.Display{
			// The sentence for the person at the counter first; the
			// console shows the fields of a refused scan too.
			Fields: []sdk.Column{
				{Field: "message", Title: "提示 message"},
				{Field: "result", Title: "结果 result", Codes: scanResultCodes},
				{Field: "cardNo", Title: "卡号 card number"},
				{Field: "tempCardNo", Title: "临时卡号 temporary card"},
				{Field: "status", Title: "卡状态 card status", Codes: cardStatusCodes},
				{Field: "name", Title: "姓名 name", Personal: true},
				{Field: "idNumber", Title: "证件号 document number", Personal: true},
				{Field: "phone", Title: "手机号 phone", Personal: true},
				{Field: "guardian.name", Title: "监护人 guardian (newborn)", Personal: true},
				{Field: "birthOrder", Title: "胎次 birth order (newborn)"},
				{Field: "expiresAt", Title: "二维码有效期至 code valid until"},
				{Field: "registeredAt", Title: "登记时间 registered"},
			},
		},
	}, {
		Name:        FormPrint,
		Title:       "电子卡打印 E-card print",
		Description: "打印一张电子卡的加密限时二维码及标签。请与患者核对卡号和姓名后再打印。A sealed, time-limited QR code of a card with its label, ready to print. Check the card number and name with the patient, then print.",
		Operation:   OpQRCode,
		Key:         "cardNo",
		Fields: []sdk.Argument{
			{Name: "cardNo", Type: sdk.SettingString, Required: true, Description: "卡号：电子卡号（见登记回复或“最近登记的电子卡”工作列表）the e-card number (on the registration reply or in the recent-cards work list)"},
			{Name: "validity", Type: sdk.SettingDuration, Description: "有效期：时长，如 72h（3 天）、30m 或 720h，最长 2160h（90 天）；留空则用站点的 qrValidity。a duration such as 72h (3 days), 30m or 720h, at most 2160h (90 days); 留空 leave empty for the site's qrValidity"},
		},
		Fixed: map[string]any{"printLabel": true},
		Result: sdk.Display{
			Images: []sdk.Column{
				{Field: "png", Title: "电子就诊卡二维码 e-card QR code"},
				{Field: "labelPng", Title: "标签图片 Label image (for label printers without a Chinese font)"},
			},
			Lines:      "label.lines",
			Printable:  true,
			LabelTitle: labelTitle,
		},
	}}
}

// workListViews gives the recent-cards list its columns; a card number
// opens the print page.
func workListViews() []sdk.WorkListView {
	return []sdk.WorkListView{{
		List: WorkListRecent,
		Columns: []sdk.Column{
			{Field: "cardNo", Title: "卡号 cardNo", Form: FormPrint}, {Field: "name", Title: "姓名 name", Personal: true},
			{Field: "idType", Title: "证件类型 idType", Codes: idTypeCodes}, {Field: "idNumber", Title: "证件号 idNumber"},
			{Field: "phone", Title: "手机号 phone"}, {Field: "guardianName", Title: "监护人 guardian", Personal: true},
			{Field: "status", Title: "状态 status", Codes: cardStatusCodes},
			{Field: "registeredAt", Title: "登记时间 registeredAt"}, {Field: "revokedAt", Title: "注销时间 revokedAt"},
		},
	}}
}
