package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/plugins/tracecode/export"
)

// filter selects the rows of an export: the days from..to (inclusive, in
// the site's zone), optionally one source of documents and one document.
type filter struct {
	from, to time.Time
	source   string
	docNo    string
}

// doc reports whether rows about document (or code) no are kept.
func (f filter) doc(no string) bool { return f.docNo == "" || f.docNo == no }

// Labels of the sheets added for code hierarchies and drafts.
var (
	queryLabels = map[string]string{OpCodesSmallest: "单据码及最小子码", OpCodeSmallest: "单码最小子码"}
	triggers    = map[string]string{OpStockInFetch: "获取入库数据", OpCodesSmallest: "按单据查询", OpCodeSmallest: "单码查询"}
	draftStates = map[string]string{draftOpen: "待审核", draftConfirmed: "已确认"}
	adjustOps   = map[string]string{"setQty": "修改数量", "setField": "修改字段", "addCodes": "增加追溯码", "removeCodes": "移除追溯码",
		"addLine": "增加行", "removeLine": "删除行", "create": "生成草稿", "confirm": "确认入库", "ackPlatformChange": "确认平台变更"}
	draftFields = map[string]string{"qty": "数量", "codes": "追溯码", "itemCode": "院内编码", "itemName": "药品名称", "spec": "规格", "manufacturer": "生产企业",
		"medListCode": "医保目录编码", "batchNo": "批号", "produceDate": "生产日期", "expiryDate": "有效期至", "unit": "单位", "packRatio": "包装比例",
		"receiptNo": "入库单号", "platform": "平台单据"}
	yesNo = map[bool]string{true: "是", false: "否"}
)

func init() {
	sheetSpecs[sheetSmallest] = []export.Column{
		{Header: "查询时间", Kind: export.DateTime}, {Header: "单据号", Width: 20}, {Header: "行号", Kind: export.Integer, Width: 6},
		{Header: "顶级码", Width: 24}, {Header: "最小子码", Width: 24}, {Header: "查询码", Width: 24}, {Header: "查询", Width: 16},
		{Header: "触发", Width: 12}, {Header: "触发消息", Width: 28},
	}
	sheetSpecs[sheetHierarchy] = []export.Column{
		{Header: "查询时间", Kind: export.DateTime}, {Header: "单据号", Width: 20}, {Header: "查询码", Width: 24}, {Header: "查询", Width: 16},
		{Header: "行号", Kind: export.Integer, Width: 6}, {Header: "追溯码", Width: 24}, {Header: "上级码", Width: 24}, {Header: "顶级码", Width: 24},
		{Header: "包装层级(1=最大)", Kind: export.Integer, Width: 10}, {Header: "包装级别(1=最小)", Kind: export.Integer, Width: 10},
		{Header: "最小包装", Width: 9}, {Header: "包装比例", Width: 10}, {Header: "箱状态", Width: 14}, {Header: "核对结果", Width: 40},
		{Header: "触发", Width: 12}, {Header: "触发消息", Width: 28},
	}
	sheetSpecs[sheetDrafts] = []export.Column{
		{Header: "单据日期", Kind: export.Date}, {Header: "单据号", Width: 20}, {Header: "状态", Width: 8}, {Header: "发货单位", Width: 28},
		{Header: "生成时间", Kind: export.DateTime}, {Header: "行号", Kind: export.Integer, Width: 6}, {Header: "院内编码"},
		{Header: "医保目录编码", Width: 26}, {Header: "药品名称", Width: 22}, {Header: "规格", Width: 16}, {Header: "生产企业", Width: 26},
		{Header: "批号", Width: 14}, {Header: "生产日期", Kind: export.Date}, {Header: "有效期至", Kind: export.Date},
		{Header: "数量", Kind: export.Decimal}, {Header: "单位", Width: 6}, {Header: "包装比例", Width: 10}, {Header: "追溯码数", Kind: export.Integer, Width: 9},
		{Header: "调整次数", Kind: export.Integer, Width: 9}, {Header: "确认时间", Kind: export.DateTime}, {Header: "确认人", Width: 14},
		{Header: "入库单号", Width: 20}, {Header: "已发布", Width: 7},
	}
	sheetSpecs[sheetAdjustments] = []export.Column{
		{Header: "时间", Kind: export.DateTime}, {Header: "单据日期", Kind: export.Date}, {Header: "单据号", Width: 20}, {Header: "操作人", Width: 14},
		{Header: "操作", Width: 11}, {Header: "行号", Kind: export.Integer, Width: 6}, {Header: "字段", Width: 12},
		{Header: "调整前", Width: 30}, {Header: "调整后", Width: 30}, {Header: "原因", Width: 30}, {Header: "触发消息", Width: 28},
	}
}

// queries calls fn for every stored hierarchy query the filter keeps.
func (h *handler) queries(ctx context.Context, f filter, fn func(key string, rec *queryRecord) error) error {
	return scanLog(ctx, h.req.Host, kindQuery, f.from, f.to, func(key string, v []byte) error {
		var rec queryRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if !f.doc(rec.BillNo) {
			return nil
		}
		return fn(key, &rec)
	})
}

// queryBatch is one chunk of a query's nodes, passed from the reader to
// the workbook writer.
type queryBatch struct {
	q     *queryRecord
	at    time.Time
	nodes []queryNode
}

// prefetch runs produce in a goroutine of its own, at most depth items
// ahead of consume, so that reading host state (gRPC calls, decoding) and
// writing the workbook each use a core while memory stays bounded. The
// first error of either side stops both and is returned.
func prefetch[T any](ctx context.Context, depth int, produce func(ctx context.Context, emit func(T) error) error, consume func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan T, depth)
	var produceErr error
	go func() {
		defer close(ch)
		produceErr = produce(ctx, func(v T) error {
			select {
			case ch <- v:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var consumeErr error
	for v := range ch {
		if consumeErr != nil {
			continue // drain so that the producer ends
		}
		if consumeErr = consume(v); consumeErr != nil {
			cancel()
		}
	}
	if consumeErr != nil {
		return consumeErr
	}
	return produceErr
}

// queryNodes streams the nodes of every kept query to fn, chunk by chunk,
// read ahead of fn.
func (h *handler) queryNodes(ctx context.Context, f filter, fn func(queryBatch) error) error {
	return prefetch(ctx, 4, func(ctx context.Context, emit func(queryBatch) error) error {
		return h.queries(ctx, f, func(key string, q *queryRecord) error {
			at := q.At.In(h.cfg.zone)
			return queryChunks(ctx, h.req.Host, key, q, func(nodes []queryNode) error {
				return emit(queryBatch{q: q, at: at, nodes: nodes})
			})
		})
	}, fn)
}

// smallestRows writes the smallest sub-codes of every kept query: one row
// per smallest code, with the top code (case or pack) it was found under.
func (h *handler) smallestRows(ctx context.Context, sh *export.Sheet, f filter) error {
	row := make([]any, len(sheetSpecs[sheetSmallest]))
	return h.queryNodes(ctx, f, func(b queryBatch) error {
		q := b.q
		for _, n := range b.nodes {
			if !n.Smallest {
				continue
			}
			row[0], row[1], row[2], row[3], row[4] = b.at, q.BillNo, optInt(n.Line), n.Top, n.Code
			row[5], row[6], row[7], row[8] = q.Code, label(queryLabels, q.Op), label(triggers, q.Trigger), q.MessageID
			if err := sh.Row(row...); err != nil {
				return err
			}
		}
		return nil
	})
}

// hierarchyRows writes every node of every kept query as the platform
// answered it, with its top code and the pack-ratio check of top codes.
func (h *handler) hierarchyRows(ctx context.Context, sh *export.Sheet, f filter) error {
	row := make([]any, len(sheetSpecs[sheetHierarchy]))
	return h.queryNodes(ctx, f, func(b queryBatch) error {
		q := b.q
		for _, n := range b.nodes {
			check := ""
			if n.Top == n.Code {
				check = "相符"
				if n.Problem != "" {
					check = n.Problem
				}
			}
			box := ""
			if n.Box != "" {
				box = code.BoxStatusName(n.Box)
			}
			row[0], row[1], row[2], row[3], row[4], row[5] = b.at, q.BillNo, q.Code, label(queryLabels, q.Op), optInt(n.Line), n.Code
			row[6], row[7], row[8], row[9], row[10], row[11] = n.Parent, n.Top, optInt(n.Level), optInt(n.PackLevel), yesNo[n.Smallest], n.Ratio
			row[12], row[13], row[14], row[15] = box, check, label(triggers, q.Trigger), q.MessageID
			if err := sh.Row(row...); err != nil {
				return err
			}
		}
		return nil
	})
}

// optInt is a whole-number cell, empty for 0 (not given).
func optInt(n int) any {
	if n == 0 {
		return nil
	}
	return int64(n)
}

// drafts calls fn for every draft receipt of a document dated in the
// range that the filter keeps, with that date. Drafts are made from
// fetched documents, so an export of uploaded documents only has none.
func (h *handler) drafts(ctx context.Context, f filter, fn func(d *draft, day time.Time) error) error {
	if f.source == sourceUpload {
		return nil
	}
	return scanLog(ctx, h.req.Host, kindDraft, f.from, f.to, func(key string, v []byte) error {
		var ref draftRef
		if err := json.Unmarshal(v, &ref); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		d, _, err := loadDraft(ctx, h.req.Host, ref.DraftID)
		if errors.Is(err, sdk.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !f.doc(d.SupplierBillNo) {
			return nil
		}
		day, _ := dayOf(d.BillTime, h.cfg.zone)
		return fn(d, day)
	})
}

// draftRows writes the draft receipts, one row per line as it stands now
// (a draft whose lines were all removed still has a row), with its
// confirmation.
func (h *handler) draftRows(ctx context.Context, sh *export.Sheet, f filter) error {
	row := make([]any, len(sheetSpecs[sheetDrafts]))
	return h.drafts(ctx, f, func(d *draft, day time.Time) error {
		var confirmedAt any
		if !d.ConfirmedAt.IsZero() {
			confirmedAt = d.ConfirmedAt.In(h.cfg.zone)
		}
		published := ""
		if d.Status == draftConfirmed {
			published = yesNo[d.Published]
		}
		lines := d.Lines
		if len(lines) == 0 {
			lines = []draftLine{{}}
		}
		for _, l := range lines {
			row[0], row[1], row[2], row[3], row[4] = day, d.SupplierBillNo, label(draftStates, d.Status), orgText(d.SupplierCode, d.SupplierName), d.CreatedAt.In(h.cfg.zone)
			row[5], row[6], row[7], row[8], row[9], row[10] = optInt(l.LineNo), l.ItemCode, l.MedListCode, l.ItemName, l.Spec, l.Manufacturer
			row[11], row[12], row[13], row[14], row[15], row[16] = l.BatchNo, h.localTime(l.ProduceDate), h.localTime(l.ExpiryDate), l.Qty, l.Unit, l.PackRatio
			row[17], row[18], row[19], row[20], row[21], row[22] = int64(len(l.Codes)), int64(len(d.Adjustments)), confirmedAt, d.ConfirmedBy, d.ReceiptNo, published
			if l.LineNo == 0 {
				row[17] = nil
			}
			if err := sh.Row(row...); err != nil {
				return err
			}
		}
		return nil
	})
}

// adjustmentRows writes the history of every kept draft: its creation,
// every adjustment (who, when, before → after, why) and its confirmation.
func (h *handler) adjustmentRows(ctx context.Context, sh *export.Sheet, f filter) error {
	row := make([]any, len(sheetSpecs[sheetAdjustments]))
	return h.drafts(ctx, f, func(d *draft, day time.Time) error {
		write := func(at time.Time, by, op string, line int, field, from, to, reason, msg string) error {
			row[0], row[1], row[2], row[3], row[4], row[5] = at.In(h.cfg.zone), day, d.SupplierBillNo, by, label(adjustOps, op), optInt(line)
			row[6], row[7], row[8], row[9], row[10] = label(draftFields, field), from, to, reason, msg
			return sh.Row(row...)
		}
		if err := write(d.CreatedAt, "medgate", "create", 0, "", "", "由一码通入库数据生成", "", ""); err != nil {
			return err
		}
		for _, a := range d.Adjustments {
			if err := write(a.At, a.By, a.Op, a.LineNo, a.Field, a.From, a.To, a.Reason, a.MessageID); err != nil {
				return err
			}
		}
		if d.Status == draftConfirmed {
			return write(d.ConfirmedAt, d.ConfirmedBy, "confirm", 0, "receiptNo", "", d.ReceiptNo, "", d.ConfirmMessageID)
		}
		return nil
	})
}
