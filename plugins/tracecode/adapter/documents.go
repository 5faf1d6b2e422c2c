package adapter

import "github.com/medgate/medgate/plugins/sdk"

// DocumentDraft is the console's page of one draft receipt.
const DocumentDraft = "draft"

// documents declares the console's draft-receipt page: review the lines,
// adjust them (tracecode.draft.adjust, one change at a time, by the
// operator who signed in, against the version shown) and confirm
// (tracecode.draft.confirm).
func documents() []sdk.DocumentView {
	reason := sdk.Argument{Name: "reason", Type: sdk.SettingString, Description: "原因 reason (kept with the change)"}
	codes := func(required bool) sdk.Argument {
		return sdk.Argument{Name: "codes", Type: sdk.ArgumentList, Required: required, Description: "追溯码：扫码或粘贴，每行一个 trace codes: scan or paste, one per line"}
	}
	return []sdk.DocumentView{{
		Name:        DocumentDraft,
		Title:       "入库单审核 Drafts",
		Description: "核对由一码通入库数据生成的入库单草稿，逐行更正后确认，生成采购入库单并发送给 HIS。Review a draft receipt generated from the platform's stock-in data, correct its lines, then confirm it to number the purchase receipt and publish it for HIS.",
		List:        WorkListDrafts, ItemField: "id",
		Get: OpDraftGet, IDField: "draftId",
		Version: "version", VersionField: "expectedVersion",
		Operator: "by",
		Editable: &sdk.Condition{Field: "status", Equals: draftOpen},
		Status:   "statusName",
		Header: []sdk.Column{
			{Field: "supplierName", Title: "供货单位 supplier"}, {Field: "supplierCode", Title: "供货单位编码 supplier code"},
			{Field: "supplierBillNo", Title: "供货单号 supplier bill"}, {Field: "billAt", Title: "单据时间 bill time"},
			{Field: "createdAt", Title: "生成时间 created"}, {Field: "version", Title: "版本 version"},
			{Field: "confirmedBy", Title: "确认人 confirmed by"}, {Field: "confirmedAt", Title: "确认时间 confirmed at"},
			{Field: "receiptNo", Title: "采购入库单号 receipt"},
			{Field: "platformChanged", Title: "平台单据已变更 changed on the platform"},
		},
		Lines: "lines", LineKey: "lineNo", LineTitle: "itemName",
		LineColumns: []sdk.Column{
			{Field: "itemCode", Title: "院内编码 itemCode"}, {Field: "medListCode", Title: "医保目录编码 medListCode"},
			{Field: "manufacturer", Title: "生产企业 manufacturer"}, {Field: "spec", Title: "规格 spec"},
			{Field: "batchNo", Title: "批号 batchNo"}, {Field: "produceDate", Title: "生产日期 produceDate"},
			{Field: "expiryDate", Title: "有效期至 expiryDate"}, {Field: "qty", Title: "数量 qty"}, {Field: "unit", Title: "单位 unit"},
			{Field: "packRatio", Title: "包装比例 packRatio"},
		},
		LineItems: &sdk.Column{Field: "codes", Title: "追溯码 Trace codes"},
		Adjust:    sdk.DocumentAdjust{Operation: OpDraftAdjust, Changes: "changes", Kind: "op", Shared: []sdk.Argument{reason}},
		Edits: []sdk.Edit{
			{Name: "setQty", Label: "改数量 Quantity", PerLine: true, Prefill: true,
				Fields: []sdk.Argument{{Name: "qty", Type: sdk.ArgumentNumber, Required: true, Description: "实收数量，按最小包装计，大于 0，盒、支等按个数计的单位须为整数 received quantity in smallest packages"}}},
			{Name: "setField", Label: "改字段 Field", PerLine: true, Fields: []sdk.Argument{
				{Name: "field", Type: sdk.SettingString, Required: true, Enum: settable, Description: "字段 the line field to set"},
				{Name: "value", Type: sdk.SettingString, Description: "新值 the new value"},
			}},
			{Name: "addCodes", Label: "加追溯码 Add codes", PerLine: true, Fields: []sdk.Argument{codes(true)}},
			{Name: "removeCodes", Label: "移除追溯码 Remove codes", PerLine: true, Pick: "codes", Fields: []sdk.Argument{codes(true)}},
			{Name: "removeLine", Label: "删除此行 Remove line", PerLine: true, Danger: true, Confirm: "删除此行？ Remove this line?"},
			{Name: "ackPlatformChange", Label: "已核对平台变更 Acknowledge the platform's change",
				Confirm: "已按平台变更核对并调整此草稿？ Reviewed the draft against the changed document?"},
			{Name: "addLine", Label: "加一行 Add a line", Into: "line", Fields: []sdk.Argument{
				{Name: "itemCode", Type: sdk.SettingString, Required: true, Description: "院内编码 item code"},
				{Name: "itemName", Type: sdk.SettingString, Required: true, Description: "药品名称 item name"},
				{Name: "spec", Type: sdk.SettingString, Description: "规格 spec"},
				{Name: "batchNo", Type: sdk.SettingString, Required: true, Description: "批号 batch"},
				{Name: "produceDate", Type: sdk.SettingString, Description: "生产日期 YYYY-MM-DD，不晚于有效期至和单据日期 produced"},
				{Name: "expiryDate", Type: sdk.SettingString, Required: true, Description: "有效期至 YYYY-MM-DD expires"},
				{Name: "qty", Type: sdk.SettingString, Required: true, Description: "数量，按最小包装计，大于 0，按个数计的单位须为整数 quantity in smallest packages"},
				{Name: "unit", Type: sdk.SettingString, Description: "单位 unit"},
				codes(false),
			}},
		},
		Confirm: &sdk.DocumentConfirm{
			Label: "确认 Confirm", Operation: OpDraftConfirm, Question: "确认此入库单？ Confirm this draft?",
			Description: "确认后生成采购入库单号并发送给 HIS；只能确认一次，之后草稿不能再修改。Confirming numbers the purchase receipt and publishes it for HIS. It is done once; the draft cannot change afterwards.",
			Result:      sdk.Display{Fields: []sdk.Column{{Field: "receiptNo", Title: "采购入库单号 (receipt)"}}},
		},
		History: &sdk.Display{Rows: "history", Columns: []sdk.Column{
			{Field: "at", Title: "时间 when"}, {Field: "by", Title: "操作员 who"}, {Field: "opName", Title: "操作 op"}, {Field: "lineNo", Title: "行 line"},
			{Field: "fieldName", Title: "字段 field"}, {Field: "from", Title: "原值 from"}, {Field: "to", Title: "新值 to"}, {Field: "reason", Title: "原因 reason"},
		}},
	}}
}
