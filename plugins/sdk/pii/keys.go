package pii

import "strings"

// personalKeys are JSON and log keys whose values are personal data,
// normalized (NormalizeKey): names, ID and bank card numbers, phones. The
// hospital's e-card number (cardNo) is not among them: the console and
// the admin API show it, as staff look patients up by it.
var personalKeys = map[string]bool{
	"name": true, "patientname": true, "patname": true, "psnname": true, "aac003": true, "conername": true,
	"idnumber": true, "idno": true, "idcard": true, "idcardno": true, "certno": true, "aac002": true, "aac044": true, "psncertno": true, "certificate": true,
	"phone": true, "mobile": true, "tel": true, "telephone": true, "aae005": true, "conertel": true,
	"aae006": true, "aaz500": true, // 联系地址, 社会保障卡卡号 (work injury)
	"bankcard": true, "bankcardno": true, "bankcardnumber": true,
	"birthdate": true, "birthday": true, "dateofbirth": true, "brdy": true, "aac006": true, // 出生日期 (national medical insurance, work injury)
}

// personalSuffixes end the Chinese keys whose values are personal data.
// Chinese text has no spaces, so a key found in text is the whole run
// before the colon (请核对患者姓名：…) and is matched by its end.
var personalSuffixes = []string{
	"姓名", "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "电话", "电话号码", "手机", "手机号", "手机号码",
	"地址", "住址", "银行卡号", "社保卡号", "社会保障卡号", "社会保障卡卡号", "出生日期",
}

// PersonalKey reports whether medgate masks the values under the key k
// wherever it shows a request, a reply, a journal entry or a log line
// (the console's message pages, GET /admin/messages and /admin/exchanges,
// medgate send, its log): k is, ignoring case, '_', '-', '.' and spaces,
// one of name, patientName, patName, psnName, idNumber, idNo, idCard,
// idCardNo, certNo, psnCertNo, certificate, phone, mobile, tel,
// telephone, bankCard, bankCardNo, bankCardNumber, conerName, conerTel,
// birthDate, birthday, dateOfBirth, the national medical-insurance brdy
// and the work-injury codes aac002, aac003, aac006, aac044, aae005, aae006,
// aaz500; or it ends in "address" or "addr"; or it is Chinese text
// ending in 姓名, 身份证(号/号码), 证件号(码), 电话(号码), 手机(号/号码),
// 地址, 住址, 银行卡号, 社保卡号, 社会保障卡(卡)号 or 出生日期. Every string and
// number under such a key is masked, in nested objects and arrays too.
//
// medgate also masks, per operation, the values of the fields the plugin
// declares personal, under any key: the input (request) and output
// (reply) fields its schema marks `personal: true`, and the fields of
// the sdk.Column values marked Personal in the work lists, forms and
// commands the operation answers; in the plugin's log lines all of them.
//
// Elsewhere medgate masks only resident ID and mobile numbers, wherever
// they appear: a name under a key neither this list nor a declaration
// names ("greeting": "你好, 张三", "xm", "holder") or in a sentence is
// shown as it is, and the journal of external calls is masked by this
// list only. So a plugin declares every personal field, or puts the value
// under a key PersonalKey accepts, and never into free text.
// sdktest.Unmasked checks a reply against this list only.
func PersonalKey(k string) bool {
	n := NormalizeKey(k)
	if personalKeys[n] || addressKey(n) {
		return true
	}
	if isASCII(n) {
		return false
	}
	for _, suf := range personalSuffixes {
		if strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}

// addressKey reports whether n, a normalized key, ends in "address" or
// "addr" (address, homeAddr, selfpay's addr).
func addressKey(n string) bool {
	return strings.HasSuffix(n, "address") || strings.HasSuffix(n, "addr")
}

// NormalizeKey is the form in which PersonalKey compares a key: k
// lowercased, without "_", "-", "." and spaces ("patient_name",
// "Patient-Name" and "patientName" are all "patientname"). medgate compares
// the keys a plugin declares personal in the same form.
func NormalizeKey(k string) string {
	k = strings.ToLower(k)
	if !strings.ContainsAny(k, "_-. ") {
		return k
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, k)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
