package schemas

import "strings"

// LooksPersonal reports whether a field's name or label says it carries
// personal data: ID and social-security numbers, names, phones, birth
// dates, addresses, medical record content, by the field's name in
// English, the national interface's or the work-injury interface's
// spelling, or by its Chinese label. Every built-in schema marks such
// fields personal (TestPersonalFieldsAreMarked), and the importer marks
// the fields of an imported specification by it, which says nothing of
// personal data itself.
func LooksPersonal(name, label string) bool {
	if personalNames[strings.ToLower(strings.ReplaceAll(name, "_", ""))] || personalWholeLabels[label] {
		return true
	}
	for _, l := range personalLabels {
		if strings.Contains(label, l) {
			return true
		}
	}
	return false
}

// personalNames are field names (lowercase, without "_") of personal data.
var personalNames = map[string]bool{
	"idno": true, "idnumber": true, "idcard": true, "idcardno": true, "certno": true, "psncertno": true,
	"aac002": true, "aac044": true, "aaz500": true, "esscno": true, "qrcode": true,
	"name": true, "psnname": true, "patientname": true, "patname": true, "conername": true, "aac003": true, "aae004": true,
	"phone": true, "mobile": true, "tel": true, "telephone": true, "conertel": true, "aae005": true,
	"brdy": true, "birthdate": true, "birthday": true, "aac006": true,
	"addr": true, "address": true, "aae006": true,
	"medrcdno": true, "admdiagdscr": true, "mainconddscr": true, "admcond": true,
}

// personalLabels are parts of labels that say the same in Chinese.
var personalLabels = []string{"姓名", "证件号码", "身份证", "社会保障号码", "社会保障卡", "社保卡", "电话", "手机", "出生日期", "联系地址", "住址", "病历", "病情"}

// personalWholeLabels are labels that are a person's name as a whole: 经办人
// (the operator, a member of staff), 联系人 (the patient's contact); not
// 经办人ID, a staff code.
var personalWholeLabels = map[string]bool{"经办人": true, "联系人": true}
