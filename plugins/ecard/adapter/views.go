package adapter

import "github.com/medgate/medgate/plugins/sdk"

// FormPrint is the console's e-card print page.
const FormPrint = "print"

// forms declares the plugin's console pages.
func forms() []sdk.Form {
	return []sdk.Form{{
		Name:        FormPrint,
		Title:       "电子卡打印 E-card print",
		Description: "A sealed, time-limited QR code of a card with its label, ready to print. Check the card number and name with the patient, then print.",
		Operation:   OpQRCode,
		Key:         "cardNo",
		Fields: []sdk.Argument{
			{Name: "cardNo", Type: sdk.SettingString, Required: true, Description: "卡号 the e-card number (on the registration reply or in the recent-cards work list)"},
			{Name: "validity", Type: sdk.SettingDuration, Default: "72h", Description: "有效期 a duration such as 72h (3 days), 30m or 720h; at most 2160h (90 days)"},
		},
		Fixed: map[string]any{"printLabel": true},
		Result: sdk.Display{
			Images: []sdk.Column{
				{Field: "png", Title: "电子就诊卡二维码 e-card QR code"},
				{Field: "labelPng", Title: "标签图片 Label image (for label printers without a Chinese font)"},
			},
			Lines:     "label.lines",
			Printable: true,
		},
	}}
}

// workListViews gives the recent-cards list its columns; a card number
// opens the print page.
func workListViews() []sdk.WorkListView {
	return []sdk.WorkListView{{
		List: WorkListRecent,
		Columns: []sdk.Column{
			{Field: "cardNo", Title: "卡号 cardNo", Form: FormPrint}, {Field: "name", Title: "姓名 name"},
			{Field: "idType", Title: "证件类型 idType"}, {Field: "idNumber", Title: "证件号 idNumber"},
			{Field: "phone", Title: "手机号 phone"}, {Field: "status", Title: "状态 status"},
			{Field: "registeredAt", Title: "登记时间 registeredAt"}, {Field: "revokedAt", Title: "注销时间 revokedAt"},
		},
	}}
}
