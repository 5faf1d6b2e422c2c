package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Name is the plugin's name; message types are "tracecode.<operation>".
const Name = "tracecode"

// Message types.
const (
	OpToken          = "tracecode.token"
	OpStockInUpload  = "tracecode.stockin.upload"
	OpStockOutUpload = "tracecode.stockout.upload"
	OpStockInFetch   = "tracecode.stockin.fetch"
	OpDraftsList     = "tracecode.drafts.list"
	OpDraftGet       = "tracecode.draft.get"
	OpDraftAdjust    = "tracecode.draft.adjust"
	OpDraftConfirm   = "tracecode.draft.confirm"
	OpCodesByBill    = "tracecode.codes.bybill"
	OpCodesSmallest  = "tracecode.codes.bybill.smallest"
	OpCodeSmallest   = "tracecode.codes.smallest"
	OpMIUpload       = "tracecode.mi.upload"
	OpExport         = "tracecode.export"
	// OpHeldList lists the stock-outs holding codes with an unknown
	// outcome; OpHeldResolve resolves one (stockout_held.go).
	OpHeldList    = "tracecode.stockouts.held"
	OpHeldResolve = "tracecode.stockout.resolve"
)

// Event types published to the events topic.
const (
	// EventReceipt is the formal purchase receipt, published when staff
	// confirm a draft, for HIS.
	EventReceipt = "tracecode.purchase-receipt.confirmed"
	// EventStockIn announces a stock-in document fetched from the platform.
	EventStockIn = "tracecode.stockin.fetched"
	// EventExportProgress reports the progress of an export.
	EventExportProgress = "tracecode.export.progress"
)

// JobStockInSync is the scheduled job that fetches recent stock-in data.
const JobStockInSync = "stockin-sync"

// JobStockOutReconcile is the scheduled job that resolves the stock-outs
// whose outcome is unknown by asking the platform.
const JobStockOutReconcile = "stockout-reconcile"

// WorkListDrafts is the console's work list of draft receipts to review.
const WorkListDrafts = "draft-receipts"

// WorkListHeld is the console's work list of stock-outs holding codes
// with an unknown outcome.
const WorkListHeld = "held-stockouts"

// System is the name journaled with every exchange with the platform.
const System = "tracecode-platform"

// Adapter implements sdk.Plugin for the trace-code platform. Create it
// with New. It is safe for concurrent use.
type Adapter struct {
	now  func() time.Time
	http *http.Client
	log  *slog.Logger

	mu    sync.RWMutex
	sites map[string]*siteConfig
}

// Option changes an Adapter built by New.
type Option func(*Adapter)

// WithClock sets the clock (tests). Nil is ignored.
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) {
		if now != nil {
			a.now = now
		}
	}
}

// WithHTTPClient sets the HTTP client used for the platforms (tests).
func WithHTTPClient(c *http.Client) Option {
	return func(a *Adapter) { a.http = c }
}

// WithLogger sets the logger (default: sdk.Logger, JSON to stderr).
func WithLogger(l *slog.Logger) Option {
	return func(a *Adapter) {
		if l != nil {
			a.log = l
		}
	}
}

// New returns the trace-code adapter.
func New(opts ...Option) *Adapter {
	a := &Adapter{now: time.Now, log: sdk.Logger(Name), sites: map[string]*siteConfig{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// operations lists the message types with their schemas.
//
// The draft reads and the code queries are pure queries
// (sdk.Operation.Query): they read the plugin's state or ask the platform
// and keep nothing per message, so the host stores no pending record
// before the call. A code query may renew the access token on the way,
// as any call does; a second run only uses or renews it again.
func operations() []sdk.Operation {
	return []sdk.Operation{
		{Type: OpToken, Schema: "tracecode/token", Summary: "obtain (or with force, renew) the platform access token; replies with its expiry, never the token"},
		{Type: OpStockInUpload, Schema: "tracecode/upload", Summary: "upload a stock-in document (bill types 1xx) with its trace codes; the document number is the idempotency key", Upload: true},
		{Type: OpStockOutUpload, Schema: "tracecode/upload", Summary: "upload a stock-out document (bill types 2xx) with its trace codes; the document number is the idempotency key", Upload: true},
		{Type: OpStockInFetch, Schema: "tracecode/stockin", Summary: "fetch the stock-in documents of a date range with the suppliers' trace codes, store them and create draft receipts"},
		{Type: OpDraftsList, Summary: "list the draft receipts awaiting review (the console's draft-receipts work list)", Query: true},
		{Type: OpDraftGet, Summary: "read one draft receipt with its lines, codes and adjustments", Query: true},
		{Type: OpDraftAdjust, Summary: "adjust a draft receipt (quantities, codes, lines, fields); every change is recorded with who and when"},
		{Type: OpDraftConfirm, Summary: "confirm a draft receipt once and publish the formal purchase receipt event for HIS"},
		{Type: OpCodesByBill, Schema: "tracecode/billcodes", Summary: "trace codes of a document by its number, without hierarchy", Query: true},
		{Type: OpCodesSmallest, Schema: "tracecode/billsmallest", Summary: "trace codes of a document resolved to their smallest sub-codes, with pack-ratio checks", Query: true},
		{Type: OpCodeSmallest, Schema: "tracecode/smallest", Summary: "smallest sub-codes of one trace code, with a pack-ratio check", Query: true},
		{Type: OpMIUpload, Schema: "tracecode/3502", Summary: "upload a stored stock-in document with its trace codes to medical insurance (national 3502 with drugtracinfo), one record per document", Upload: true},
		{Type: OpHeldList, Summary: "list the stock-outs whose outcome is unknown, with the codes each holds out of stock and why", Query: true},
		{Type: OpHeldResolve, Summary: "resolve a stock-out whose outcome is unknown: the platform's answer decides; where it cannot tell, the operator's (kept or released), recorded with who, when and why"},
		{Type: OpExport, Summary: "write the one-click Excel export (token log, stock in/out data, trace-code details, medical-insurance uploads) for a date range and reply with its path, size and SHA-256"},
	}
}

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name:        Name,
		Version:     Version,
		Description: "厦门药品耗材追溯码一体化服务平台（一码通）：身份令牌、出入库上传、入库数据、临时入库单、追溯码及子码、医保上传、Excel 导出。Xiamen drug and consumable trace-code platform (一码通): token, stock in/out upload, stock-in data, draft receipts, codes and sub-codes, medical-insurance upload, Excel export.",
		Operations:  operations(),
		Jobs: []sdk.Job{
			{Name: JobStockInSync, Interval: time.Hour, Summary: "fetch today's (and syncDays earlier) stock-in documents and create draft receipts"},
			{Name: JobStockOutReconcile, Interval: 15 * time.Minute, MaxRun: 5 * time.Minute,
				Summary: "resolve the stock-outs whose outcome is unknown by the platform's document status: codes of a stock-out it has stay out, those of one it never received go back in stock"},
		},
		WorkListViews: workListViews(),
		Settings:      settings(),
		Commands:      commands(),
		Forms:         forms(),
		Documents:     documents(),
		Schemas:       schemas.Documents(Name),
		WorkLists: []sdk.WorkList{{
			Name: WorkListDrafts, Title: "待审核入库单 (draft receipts)", ListOperation: OpDraftsList,
			Description: "由一码通入库数据生成的入库单草稿；逐张核对、调整并确认后，生成正式采购入库单。Stock-in drafts generated from the platform's stock-in data; review, adjust and confirm each one to publish the formal purchase receipt.",
		}, {
			Name: WorkListHeld, Title: "结果未知的出库单 (held stock-outs)", ListOperation: OpHeldList,
			Description: "已发送但未收到平台结果的出库单：其追溯码暂不入库，直到平台单据状态给出结果（stockout-reconcile 任务会查询）；平台无法判断时，核对后选择已出库或未出库。Stock-outs sent without an answer: their codes stay out of stock until the platform's document status tells (the stockout-reconcile job asks it); where it cannot tell, keep or release them after checking.",
		}},
	}, nil
}

// Configure implements sdk.Plugin. Every problem is reported at once; on
// any error the site keeps its previous configuration.
func (a *Adapter) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	cfg, ds := a.parseSettings(req.Site, req.Settings)
	if cfg != nil {
		a.mu.Lock()
		// The replaced medical-insurance client only has its idle
		// connections released (hsa.Client.Close): uploads in flight
		// hold the old configuration and finish on it.
		if old := a.sites[req.Site]; old != nil && old.mi != nil {
			defer old.mi.client.Close()
		}
		a.sites[req.Site] = cfg
		a.mu.Unlock()
	}
	// The site's own schemas, for the host to map against.
	overlay, err := schemas.DirDocuments(strings.TrimSpace(req.Settings[setSchemaDir]), Name)
	if err != nil {
		ds.Warn(setSchemaDir, "schema", "the host cannot be given the site's schemas", err.Error())
	}
	return &sdk.ConfigureResponse{Diagnostics: ds, Schemas: overlay}, nil
}

func (a *Adapter) site(name string) *siteConfig {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.sites[name]
}

// handler serves one message.
type handler struct {
	a   *Adapter
	cfg *siteConfig
	req *sdk.HandleRequest
}

// Handle implements sdk.Plugin.
func (a *Adapter) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	cfg := a.site(req.Site)
	if cfg == nil {
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Diagnostics: sdk.Diagnostics{{
			Rule: "precondition", Summary: fmt.Sprintf("the tracecode plugin is not configured for site %q", req.Site),
			Detail: "enable the plugin for the site with valid settings; the message is retried once it is configured",
		}}}, nil
	}
	if req.Format != "" && req.Format != "json" {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.format", Rule: "enum", Summary: fmt.Sprintf("format %q is not supported by the tracecode plugin", req.Format),
			Detail: `send the payload as a JSON object with "format": "json"`}), nil
	}
	h := &handler{a: a, cfg: cfg, req: req}
	var resp *sdk.HandleResponse
	var err error
	switch req.Type {
	case OpToken:
		resp, err = h.token(ctx)
	case OpStockInUpload:
		resp, err = h.upload(ctx, "in")
	case OpStockOutUpload:
		resp, err = h.upload(ctx, "out")
	case OpStockInFetch:
		resp, err = h.fetch(ctx)
	case OpDraftsList:
		resp, err = h.listDrafts(ctx)
	case OpDraftGet:
		resp, err = h.getDraft(ctx)
	case OpDraftAdjust:
		resp, err = h.adjustDraft(ctx)
	case OpDraftConfirm:
		resp, err = h.confirmDraft(ctx)
	case OpCodesByBill:
		resp, err = h.codesByBill(ctx)
	case OpCodesSmallest:
		resp, err = h.codesSmallest(ctx)
	case OpCodeSmallest:
		resp, err = h.codeSmallest(ctx)
	case OpMIUpload:
		resp, err = h.miUpload(ctx)
	case OpExport:
		resp, err = h.export(ctx)
	case OpHeldList:
		resp, err = h.listHeld(ctx)
	case OpHeldResolve:
		resp, err = h.resolveHeldOp(ctx)
	default:
		return sdk.Invalid(sdk.Diagnostic{Field: "$.type", Rule: "enum", Summary: fmt.Sprintf("unknown message type %q", req.Type),
			Detail: "see `medgate plugins` for the tracecode operations"}), nil
	}
	if errors.Is(err, errBusy) {
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			Diagnostics: sdk.Diagnostics{{Rule: "state", Summary: "the record changed concurrently too often", Detail: "the message is retried"}}}, nil
	}
	if errors.Is(err, errDocChanged) {
		return sdk.Wait(sdk.Diagnostic{Rule: "state", Summary: err.Error(),
			Detail: "the message is retried and reads the document as it is now; nothing of the version it began to read is kept; should this be its last reply (the host gave up on it), send the request again under a new message id once the document's uploads are answered"}), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Type, err)
	}
	return resp, nil
}

// RunJob implements sdk.Plugin.
func (a *Adapter) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	if req.Job != JobStockInSync && req.Job != JobStockOutReconcile {
		return nil, fmt.Errorf("tracecode: unknown job %q; the plugin declares %s and %s", req.Job, JobStockInSync, JobStockOutReconcile)
	}
	cfg := a.site(req.Site)
	if cfg == nil {
		return nil, fmt.Errorf("tracecode: site %q is not configured", req.Site)
	}
	if req.Job == JobStockOutReconcile {
		h := &handler{a: a, cfg: cfg, req: &sdk.HandleRequest{Site: req.Site, Type: OpHeldResolve, MessageID: "job-" + req.TraceID, TraceID: req.TraceID, Host: req.Host}}
		return h.reconcileHeldJob(ctx)
	}
	h := &handler{a: a, cfg: cfg, req: &sdk.HandleRequest{Site: req.Site, Type: OpStockInFetch, MessageID: "job-" + req.TraceID, TraceID: req.TraceID, Host: req.Host}}
	// Drafts confirmed before confirmations were marked, whose receipt
	// was never published, are marked once (receipt_recovery.go); a
	// failure is reported and the next run continues.
	recovery, rds, err := h.recoverLostReceipts(ctx)
	if err != nil {
		rds.Error("", "state", "the one-time recovery of receipts confirmed before the confirmation mark stopped",
			fmt.Sprintf("%v; the next run of %s continues from the last stored draft", err, JobStockInSync))
	}
	published := ""
	if recovery != nil {
		published = "; " + recovery.summary()
	}
	// Hierarchy answers kept before the child index existed are indexed
	// once (child_recovery.go), so a confirmation walks down their
	// packages; a failure is reported and the next run continues.
	children, cds, err := h.recoverChildIndex(ctx, childRecoveryNodes)
	rds = append(rds, cds...)
	if err != nil {
		rds.Error("", "state", "the one-time child index of hierarchy answers kept before it stopped",
			fmt.Sprintf("%v; the next run of %s continues from the last answer read", err, JobStockInSync))
	}
	if children != nil {
		published += "; " + children.summary()
	}
	// So are the parents that stock-in listings gave their codes.
	listed, lds, err := h.recoverListingChildren(ctx, childRecoveryNodes)
	rds = append(rds, lds...)
	if err != nil {
		rds.Error("", "state", "the one-time child index of stock-in listings kept before it stopped",
			fmt.Sprintf("%v; the next run of %s continues from the last document read", err, JobStockInSync))
	}
	if listed != nil {
		published += "; " + listed.summary()
	}
	// Forwarding records of moved documents no export can still need go,
	// a bounded number a run; a failure is reported and the next run
	// goes on.
	// A mark it cannot read is skipped (told once a run), not a stop.
	fn, fskipped, err := dropForwards(ctx, req.Host, a.now())
	if err != nil {
		rds.Warn("", "state", "the forwarding records of documents whose date moved were not all removed",
			fmt.Sprintf("%v; the next run of %s removes them", err, JobStockInSync))
	}
	if fn > 0 {
		published += fmt.Sprintf("; %d forwarding record(s) of moved documents removed", fn)
	}
	published += a.tellSkipped(req.Site, &rds, fskipped, skippedKind{
		log:     "unreadable marks of forwarding records are skipped; the others are removed",
		what:    "mark(s) of forwarding records of moved documents",
		others:  "the others were removed. Such a mark is left in place",
		summary: "unreadable mark(s) of forwarding records"})
	// Codes of document saves that stopped before they were done (named
	// by no record) go a day later, a bounded number a run.
	// A listing it cannot read is skipped (told once a run), not a stop.
	n, skipped, err := dropOrphanCodes(ctx, req.Host, a.now())
	if err != nil {
		rds.Warn("", "state", "the codes of document saves that stopped before they were done were not all removed",
			fmt.Sprintf("%v; the next run of %s removes them", err, JobStockInSync))
	}
	if n > 0 {
		published += fmt.Sprintf("; %d code chunk(s) of unfinished document saves removed", n)
	}
	published += a.tellSkipped(req.Site, &rds, skipped, skippedKind{
		log:     "unreadable listings of unfinished document saves are skipped; the others are cleaned up",
		what:    "listing(s) of unfinished document saves",
		others:  "the others were cleaned up. Such a listing is left in place, as the codes it names cannot be told",
		summary: "unreadable listing(s) of unfinished document saves"})
	// Receipts whose confirming message could not publish them are
	// published first, whatever the platform's state and the sync setting.
	// One that cannot be published is reported and does not stop the fetch.
	receipts, pds, err := h.publishPendingReceipts(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracecode: %s: publish the receipts of confirmed drafts: %w", JobStockInSync, err)
	}
	rds = append(rds, pds...)
	if receipts > 0 {
		published += fmt.Sprintf("; %d confirmed receipt(s) published that their confirmation had not", receipts)
	}
	if !cfg.syncEnabled {
		return &sdk.RunJobResponse{Diagnostics: rds, Summary: "stock-in sync is disabled for this site (syncEnabled: false)" + published}, nil
	}
	now := req.Now
	if now.IsZero() {
		now = a.now()
	}
	end := now.In(cfg.zone)
	begin := end.AddDate(0, 0, -cfg.syncDays)
	sum, ds, err := h.fetchRange(ctx, begin.Format(dateLayout), end.Format(dateLayout))
	if err != nil && rds.HasError() {
		return nil, fmt.Errorf("tracecode: %s: %w (and %s)", JobStockInSync, err, rds)
	}
	if err != nil {
		return nil, fmt.Errorf("tracecode: %s: %w", JobStockInSync, err)
	}
	return &sdk.RunJobResponse{Diagnostics: append(rds, ds...), Processed: int64(sum.Bills),
		Summary: fmt.Sprintf("%s to %s: %d document(s), %d new, %d draft(s) created", sum.BeginDate, sum.EndDate, sum.Bills, sum.New, len(sum.Drafts)) + published}, nil
}

var _ sdk.Plugin = (*Adapter)(nil)

// skippedKind names, in the words of the stock-in sync's log line, its
// warning and its summary, what a cleanup skipped (unreadableListing).
type skippedKind struct{ log, what, others, summary string }

// tellSkipped tells of the entries a cleanup of the stock-in sync could
// not read and skipped, once a run: a log line (the count, the first key
// and why; never a value), a warning and the summary's part it returns
// ("" when none was skipped).
func (a *Adapter) tellSkipped(site string, rds *sdk.Diagnostics, skipped []unreadableListing, k skippedKind) string {
	if len(skipped) == 0 {
		return ""
	}
	first := skipped[0]
	a.log.Warn(k.log, "site", site, "job", JobStockInSync, "skipped", len(skipped), "first", first.Key, "why", first.Why)
	rds.Warn(first.Key, "state", fmt.Sprintf("%d %s cannot be read and were skipped", len(skipped), k.what),
		fmt.Sprintf("the first, %s: %s; %s: if no medgate version writes it, delete it by hand from the plugin's state (it then stops being reported)", first.Key, first.Why, k.others))
	return fmt.Sprintf("; %d %s skipped", len(skipped), k.summary)
}
