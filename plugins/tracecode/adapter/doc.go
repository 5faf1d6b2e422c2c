// Package adapter is the trace-code plugin: it implements sdk.Plugin for
// the Xiamen drug and consumable trace-code platform (一码通).
//
// Operations (message types tracecode.*): token; stockin.upload and
// stockout.upload (documents with trace codes, the document number being
// the idempotency key); stockin.fetch and the hourly stockin-sync job
// (stock-in data by date with the suppliers' codes, stored for
// reconciliation by supplier and document number, each new document
// becoming a draft receipt, a draft whose document later changes on the
// platform flagged until staff acknowledge the change); drafts.list (the
// console's draft-receipts work list), draft.get, draft.adjust and
// draft.confirm (the formal purchase receipt event for HIS, published by
// the stockin-sync job when the confirming message could not, and once per
// site for drafts confirmed before confirmations were marked: see
// receipt_recovery.go); codes.bybill,
// codes.bybill.smallest and codes.smallest (codes and smallest sub-codes,
// checked against package ratios); mi.upload (national 3502 with
// drugtracinfo through plugins/hsa; a fetched document is sent as its
// confirmed draft receipt, the hospital's stock-in); and export (the one-click Excel
// workbook).
//
// Bulk data lives in the host's state store under keys that a prefix scan
// reads day by day in small groups, so exports stream with bounded memory;
// see store.go for the layout. The platform's wire format is configuration
// (package platform).
package adapter
