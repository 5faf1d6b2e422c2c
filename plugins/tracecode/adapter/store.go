package adapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// Host state layout (one namespace per site; see README.md):
//
//	count/<kind>/<yyyymmdd>              last index of a daily log
//	log/<kind>/<yyyymmdd>/<%08d index>   one record; kind token | doc | mi
//	                                     (a moved document's old record
//	                                     forwards: movedTo, saveDoc)
//	moved/<utc time>/<old log key>       a forwarding record to remove a
//	                                     day later (dropForwards)
//	codesave/<utc time>/<version>        a save under way; one left is
//	                                     finished a day later
//	                                     (dropOrphanCodes)
//	docidx/<source>/<docNo>[/<supplier>] {"key": <log key of the document>}
//	codes/<source>/<docNo>[/<supplier>]/;<version>/<%05d chunk>  up to
//	                                     chunkSize code rows of one version
//	                                     (codes/…/<%05d> before versions)
//	draft/<id>                           a draft receipt (compare-and-set)
//	draftidx/<id>                        {"key": the draft's log/draft key}
//	draftopen/<id>                       present while the draft is open
//	                                     or its receipt unpublished
//	receiptpending/<id>                  a confirmation began, its receipt
//	                                     is not published yet
//	recovery/receipts                    the one-time receipt recovery's
//	                                     progress (receipt_recovery.go)
//	miidx/<source/docNo>[/<supplier>]    the medical-insurance upload state
//	                                     (and the calls not yet in log/mi)
//	stock/<code>, codeparent/<code>      the stock ledger (stock.go)
//
// Fetched documents are the suppliers' and scoped by supplier (the
// "/<supplier>" part, docRecord.Scoped); uploaded ones are the hospital's
// own and keyed by number. Fetched documents stored before the scoping
// stay under their number and are read there by loadFetched.
//
// Daily logs are read by scanning groups of logGroup records, so no scan
// returns more than logGroup entries whatever the volume, and an export
// streams day by day, group by group, chunk by chunk.
const (
	kindToken = "token"
	kindDoc   = "doc"
	kindMI    = "mi"

	// logGroup is the number of records one scan returns at most: the
	// scan prefix fixes all but the last digit of the 8-digit index.
	logGroup = 10
	// chunkSize is the number of code rows per state entry.
	chunkSize = 500

	dayLayout      = "20060102"
	dateLayout     = "2006-01-02"
	dateTimeLayout = "2006-01-02 15:04:05"
)

// Document sources.
const (
	sourceUpload   = "up" // uploaded by the hospital
	sourcePlatform = "in" // stock-in data fetched from the platform
)

// errBusy: a compare-and-set kept failing; the message is retried.
var errBusy = errors.New("state changed concurrently")

// esc makes a document number or code safe inside a key.
func esc(s string) string { return url.PathEscape(s) }

// unesc reverses esc.
func unesc(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// increment adds one to a counter entry and returns the new value.
func increment(ctx context.Context, h sdk.Host, key string) (int64, error) {
	for range 20 {
		var cur, ver int64
		e, err := h.Get(ctx, key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return 0, fmt.Errorf("read counter %s: %w", key, err)
		default:
			cur, _ = strconv.ParseInt(string(e.Value), 10, 64)
			ver = e.Version
		}
		_, err = h.CompareAndSet(ctx, key, ver, []byte(strconv.FormatInt(cur+1, 10)))
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("write counter %s: %w", key, err)
		}
		return cur + 1, nil
	}
	return 0, errBusy
}

// reserveLog returns the key of the next record of a daily log, which the
// caller writes. A key reserved and never written leaves a gap, which
// readers (scanLog) skip.
func reserveLog(ctx context.Context, h sdk.Host, kind string, day time.Time) (string, error) {
	d := day.Format(dayLayout)
	n, err := increment(ctx, h, "count/"+kind+"/"+d)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("log/%s/%s/%08d", kind, d, n), nil
}

// appendLog stores v as the next record of a daily log and returns its key.
func appendLog(ctx context.Context, h sdk.Host, kind string, day time.Time, v any) (string, error) {
	key, err := reserveLog(ctx, h, kind, day)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s record: %w", kind, err)
	}
	if _, err := h.Put(ctx, key, b); err != nil {
		return "", fmt.Errorf("store %s: %w", key, err)
	}
	return key, nil
}

// scanLog calls fn for every record of kind on the days from first to last
// (inclusive, in the site's zone), in order, reading logGroup records at a
// time. fn gets the record's key and value; returning an error stops.
func scanLog(ctx context.Context, h sdk.Host, kind string, first, last time.Time, fn func(key string, value []byte) error) error {
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		day := d.Format(dayLayout)
		e, err := h.Get(ctx, "count/"+kind+"/"+day)
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the %s count of %s: %w", kind, day, err)
		}
		n, _ := strconv.ParseInt(string(e.Value), 10, 64)
		for g := int64(0); g <= n/logGroup; g++ {
			prefix := fmt.Sprintf("log/%s/%s/%07d", kind, day, g)
			es, err := h.Scan(ctx, prefix, logGroup)
			if err != nil {
				return fmt.Errorf("scan %s: %w", prefix, err)
			}
			for _, e := range es {
				if err := fn(e.Key, e.Value); err != nil {
					return err
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// docLine is one line of a stored document.
type docLine struct {
	LineNo       int    `json:"lineNo"`
	ItemCode     string `json:"itemCode,omitempty"`
	MedListCode  string `json:"medListCode,omitempty"`
	ItemName     string `json:"itemName,omitempty"`
	Spec         string `json:"spec,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	ApprovalNo   string `json:"approvalNo,omitempty"`
	ProductCode  string `json:"productCode,omitempty"`
	BatchNo      string `json:"batchNo,omitempty"`
	ProduceDate  string `json:"produceDate,omitempty"`
	ExpiryDate   string `json:"expiryDate,omitempty"`
	Qty          string `json:"qty"`
	Unit         string `json:"unit,omitempty"`
	PackRatio    string `json:"packRatio,omitempty"`
	SplitFlag    string `json:"splitFlag,omitempty"`
	CodeCount    int    `json:"codeCount"`
}

// Upload states of a document.
const (
	statusSending  = "sending"  // the upload is being sent
	statusUnknown  = "unknown"  // sent, outcome unknown: reconcile first
	statusPending  = "pending"  // not sent (the platform was unreachable)
	statusUploaded = "uploaded" // the platform has it
	statusRejected = "rejected" // the platform refused it
	statusFetched  = "fetched"  // fetched from the platform
)

// docRecord is a stored document: header and lines; its codes are in
// chunks under codes/<source>/<docNo>/.
type docRecord struct {
	DocNo       string    `json:"docNo"`
	Source      string    `json:"source"`
	Direction   string    `json:"direction"`
	BillType    string    `json:"billType,omitempty"`
	BillTime    string    `json:"billTime"`
	FromOrgCode string    `json:"fromOrgCode,omitempty"`
	FromOrgName string    `json:"fromOrgName,omitempty"`
	ToOrgCode   string    `json:"toOrgCode,omitempty"`
	ToOrgName   string    `json:"toOrgName,omitempty"`
	Operator    string    `json:"operator,omitempty"`
	Warehouse   string    `json:"warehouse,omitempty"`
	Remark      string    `json:"remark,omitempty"`
	Lines       []docLine `json:"lines"`
	CodeCount   int       `json:"codeCount"`
	Chunks      int       `json:"chunks"`
	Hash        string    `json:"hash"`
	Status      string    `json:"status"`
	StatusText  string    `json:"statusText,omitempty"`
	StatusAt    time.Time `json:"statusAt,omitzero"`
	MessageID   string    `json:"messageId,omitempty"`
	Duplicate   bool      `json:"duplicate,omitempty"`
	MIStatus    string    `json:"miStatus,omitempty"`
	// StockNote flags a stock-out of codes that no stock-in of this
	// hospital holds (stock.go); the export shows it in 状态说明.
	StockNote string `json:"stockNote,omitempty"`
	// Resolution says how a stock-out whose outcome was unknown was
	// resolved: by the platform's answer or by an operator
	// (stockout_held.go).
	Resolution *heldResolution `json:"resolution,omitempty"`
	// SmallestFetched is true once the smallest sub-codes of a fetched
	// document were fetched and kept (setting fetchSmallest).
	SmallestFetched bool `json:"smallestFetched,omitempty"`
	// Pending is true while a fetched document's draft receipt and
	// stock-in event are not both done; the next fetch finishes them.
	Pending bool `json:"pending,omitempty"`
	// Scoped is true for a fetched document stored under its supplier and
	// number (docidx/in/<docNo>/<supplier>, …). A document number is the
	// supplier's own: two suppliers' documents may share one. Documents
	// fetched before (Scoped false) stay under their number alone and are
	// read there (loadFetched).
	Scoped bool `json:"scoped,omitempty"`
	// DraftID is the id of the fetched document's draft receipt once it
	// was created (empty before, and in records stored before it was
	// kept: see draftIDFor).
	DraftID string `json:"draftId,omitempty"`
	// CodesVersion names the chunks of this version's codes
	// (codes/…/;<version>/<%05d>, saveDoc); empty in records stored
	// before versions, whose chunks are codes/…/<%05d>.
	CodesVersion string `json:"codesVersion,omitempty"`
	// MovedTo is set on the forwarding record left at a document's old
	// log key when its date moved: the log key it moved to. A forwarding
	// record is never indexed; an export that meets it looks the document
	// up (docs).
	MovedTo string `json:"movedTo,omitempty"`
}

// scope is the part of a scoped document's keys after its number.
func (rec *docRecord) scope() string {
	if !rec.Scoped {
		return ""
	}
	return "/" + esc(rec.FromOrgCode)
}

// indexKey is the key of the document's index entry.
func (rec *docRecord) indexKey() string {
	return "docidx/" + rec.Source + "/" + esc(rec.DocNo) + rec.scope()
}

// codesBase is the key prefix of the document's code chunks.
func (rec *docRecord) codesBase() string {
	return "codes/" + rec.Source + "/" + esc(rec.DocNo) + rec.scope() + "/"
}

// chunkKey is the key of the i-th chunk of the document's codes. The
// version's segment starts with ';', which esc never leaves in a number or
// a supplier code, so it is no other document's key.
func (rec *docRecord) chunkKey(i int) string {
	return versionChunkKey(rec.codesBase(), rec.CodesVersion, i)
}

// versionChunkKey is the key of the i-th chunk of version v of the codes
// under base (codesBase); v "" is a record stored before versions.
func versionChunkKey(base, v string, i int) string {
	if v == "" {
		return fmt.Sprintf("%s%05d", base, i)
	}
	return fmt.Sprintf("%s;%s/%05d", base, v, i)
}

// miKey is the key of the document's medical-insurance upload state.
func (rec *docRecord) miKey() string {
	return "miidx/" + esc(rec.Source+"/"+rec.DocNo) + rec.scope()
}

// qualifiedDraftID is the draft id of a fetched document whose number
// is taken by another supplier's draft: "<number>@<supplier>" ('%' and '@'
// inside either escaped).
func (rec *docRecord) qualifiedDraftID() string {
	at := strings.NewReplacer("%", "%25", "@", "%40")
	return at.Replace(rec.DocNo) + "@" + at.Replace(rec.FromOrgCode)
}

// codeRow is one stored trace code.
type codeRow struct {
	Line   int    `json:"l"`
	Code   string `json:"c"`
	Kind   string `json:"k,omitempty"`
	Level  int    `json:"v,omitempty"`
	Parent string `json:"p,omitempty"`
}

// docRef is the value of a docidx entry.
type docRef struct {
	Key string `json:"key"`
}

// loadDoc returns a stored document by its number alone (uploaded
// documents, and fetched ones stored before documents were scoped by
// supplier), its log key and version, or sdk.ErrNotFound.
func loadDoc(ctx context.Context, h sdk.Host, source, docNo string) (*docRecord, string, int64, error) {
	return loadIndexed(ctx, h, "docidx/"+source+"/"+esc(docNo), docNo)
}

// loadFetched returns the stored fetched document of a supplier and
// number: under its scoped key, or else a document stored before
// documents were scoped, under the number alone, if it is that supplier's.
func loadFetched(ctx context.Context, h sdk.Host, docNo, supplier string) (*docRecord, string, int64, error) {
	probe := docRecord{Source: sourcePlatform, DocNo: docNo, FromOrgCode: supplier, Scoped: true}
	rec, key, ver, err := loadIndexed(ctx, h, probe.indexKey(), docNo)
	if !errors.Is(err, sdk.ErrNotFound) {
		return rec, key, ver, err
	}
	rec, key, ver, err = loadDoc(ctx, h, sourcePlatform, docNo)
	if err != nil {
		return nil, "", 0, err
	}
	if rec.Scoped || rec.FromOrgCode != supplier {
		return nil, "", 0, sdk.ErrNotFound // another supplier's document of that number
	}
	return rec, key, ver, nil
}

// findFetched returns every stored fetched document of a number, one per
// supplier.
func findFetched(ctx context.Context, h sdk.Host, docNo string) ([]*docRecord, []string, error) {
	var recs []*docRecord
	var keys []string
	rec, key, _, err := loadDoc(ctx, h, sourcePlatform, docNo)
	switch {
	case err == nil:
		recs, keys = append(recs, rec), append(keys, key)
	case !errors.Is(err, sdk.ErrNotFound):
		return nil, nil, err
	}
	es, err := h.Scan(ctx, "docidx/"+sourcePlatform+"/"+esc(docNo)+"/", 0)
	if err != nil {
		return nil, nil, fmt.Errorf("look up the documents numbered %s: %w", docNo, err)
	}
	for _, e := range es {
		rec, key, _, err := loadIndexed(ctx, h, e.Key, docNo)
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		recs, keys = append(recs, rec), append(keys, key)
	}
	return recs, keys, nil
}

// loadIndexed reads the document an index entry names.
func loadIndexed(ctx context.Context, h sdk.Host, indexKey, docNo string) (*docRecord, string, int64, error) {
	e, err := h.Get(ctx, indexKey)
	if err != nil {
		return nil, "", 0, err
	}
	var ref docRef
	if err := json.Unmarshal(e.Value, &ref); err != nil {
		return nil, "", 0, fmt.Errorf("decode the index of %s (%s): %w", docNo, indexKey, err)
	}
	d, err := h.Get(ctx, ref.Key)
	if err != nil {
		return nil, "", 0, fmt.Errorf("read %s (%s): %w", docNo, ref.Key, err)
	}
	var rec docRecord
	if err := json.Unmarshal(d.Value, &rec); err != nil {
		return nil, "", 0, fmt.Errorf("decode %s: %w", ref.Key, err)
	}
	return &rec, ref.Key, d.Version, nil
}

// saveDoc writes a document with its codes and returns its log key. A new
// document is appended to the daily log of its date and indexed; an
// existing one (key != "") is rewritten in place, or moved when its date
// changed.
//
// Readers (an export, a stock-out, a medical-insurance upload) read the
// record, then its chunks, while a fetch or an upload may save a new
// version of the same document: so the codes of every version are written
// under keys of their own (codesVersion) before the record that names them
// replaces the old one (with compare-and-set, so the version replaced is
// the one whose chunks are removed), and the old version's chunks are
// removed only then. A reader sees the whole version its record names, or
// finds a chunk gone and is told the document changed (readChunks), never
// the chunks of two versions. A record moved to another day leaves a
// forwarding record (movedTo) where it was, so that an export that read
// the new day already finds the document at the old place (docs).
//
// now is when it is saved: a forwarding record is listed under it
// (forwardMarkKey) and removed a day later (dropForwards).
//
// Before any code is written the save is listed (saveMarkKey) with the
// version it writes and the one stored, the stored record's log key and
// the one it appends (reserved first), and the listing is removed once
// the record names the new version and the old one's codes are gone. A
// save that stopped in between (the plugin stopped, a store write failed
// or its answer was lost) leaves its listing, and the stock-in sync
// removes, a day later, the codes of both versions but the one the
// document's index names then (dropOrphanCodes), the record a move to
// another day left at the old place when it stopped after the index
// named the new one, and the record it appended when it stopped before
// the index named it (dropLeftRecord), with the codes they name: no
// version's codes and no record stay for good named by no index, and
// none the index names is removed.
func saveDoc(ctx context.Context, h sdk.Host, rec *docRecord, rows []codeRow, day time.Time, key string, now time.Time) (string, error) {
	rec.CodeCount = len(rows)
	rec.Chunks = (len(rows) + chunkSize - 1) / chunkSize
	rec.CodesVersion = newCodesVersion()
	rec.MovedTo = ""
	// A new document, or one moved to another day, gets a new record: its
	// key is taken before the save is listed, so that the listing names
	// it (a save that stops before the index names it leaves it unindexed).
	appendKey := ""
	if key == "" || !strings.HasPrefix(key, dayPrefix(day)) {
		var err error
		if appendKey, err = reserveLog(ctx, h, kindDoc, day); err != nil {
			return "", err
		}
	}
	mark, err := listSave(ctx, h, rec, key, appendKey, now)
	if err != nil {
		return "", err
	}
	newKey, err := writeDoc(ctx, h, rec, rows, key, appendKey, now)
	if err != nil {
		return "", err
	}
	// Done: nothing to remove later. A listing left (this delete failing)
	// only makes the sync look again.
	_ = h.Delete(ctx, mark)
	return newKey, nil
}

// saveMark is the listing of a save (saveDoc): the document's index and
// codes, the version the save writes and the one stored when it began.
type saveMark struct {
	Index string       `json:"index"`
	Base  string       `json:"base"`
	New   savedVersion `json:"new"`
	Old   savedVersion `json:"old"`
	// OldKey is the log key of the record stored when the save began
	// (empty for a new document): a save that moves the document to
	// another day and stops once the index names the new record leaves
	// the record there neither forwarding nor indexed.
	OldKey string `json:"oldKey,omitempty"`
	// NewKey is the log key of the record the save appends (a new
	// document, or one moved to another day; empty for a save in place):
	// a save that stops after writing it and before the index names it
	// leaves it neither indexed nor forwarding.
	NewKey string `json:"newKey,omitempty"`
}

// savedVersion is one version of a document's codes: its name and chunks.
type savedVersion struct {
	Version string `json:"v"`
	Chunks  int    `json:"n"`
}

// saveMarkKey lists a save of version v at time at: codesave/<UTC time,
// fixed width>/<v>, so the oldest come first.
func saveMarkKey(at time.Time, v string) string {
	return "codesave/" + at.UTC().Format(markTimeLayout) + "/" + v
}

// markTimeLayout is the fixed-width UTC time of moved/ and codesave/ keys.
const markTimeLayout = "20060102T150405.000000000"

// listSave writes the listing of a save of rec (replacing the version of
// it stored at key, or the one its index names; appending the record at
// appendKey unless that is empty) and returns its key.
func listSave(ctx context.Context, h sdk.Host, rec *docRecord, key, appendKey string, now time.Time) (string, error) {
	m := saveMark{Index: rec.indexKey(), Base: rec.codesBase(), New: savedVersion{Version: rec.CodesVersion, Chunks: rec.Chunks}, NewKey: appendKey}
	cur := key
	if e, err := h.Get(ctx, m.Index); err == nil {
		var ref docRef
		if json.Unmarshal(e.Value, &ref) == nil && ref.Key != "" {
			cur = ref.Key
		}
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return "", fmt.Errorf("read the index of %s (%s) before saving it: %w", rec.DocNo, m.Index, err)
	}
	if cur != "" {
		e, err := h.Get(ctx, cur)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return "", fmt.Errorf("read %s (%s) before saving it: %w", rec.DocNo, cur, err)
		default:
			var old docRecord
			if json.Unmarshal(e.Value, &old) == nil && old.MovedTo == "" && old.codesBase() == m.Base {
				m.Old = savedVersion{Version: old.CodesVersion, Chunks: old.Chunks}
				m.OldKey = cur
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	mk := saveMarkKey(now, rec.CodesVersion)
	if _, err := h.Put(ctx, mk, b); err != nil {
		return "", fmt.Errorf("list the save of %s (%s): %w", rec.DocNo, mk, err)
	}
	return mk, nil
}

// dayPrefix is the prefix of the document log keys of day.
func dayPrefix(day time.Time) string {
	return "log/" + kindDoc + "/" + day.Format(dayLayout) + "/"
}

// writeDoc is saveDoc's work once the save is listed: the record is
// rewritten at key, or written at appendKey (reserved) when that is not
// empty.
func writeDoc(ctx context.Context, h sdk.Host, rec *docRecord, rows []codeRow, key, appendKey string, now time.Time) (string, error) {
	for i := 0; i < rec.Chunks; i++ {
		end := min((i+1)*chunkSize, len(rows))
		b, err := json.Marshal(rows[i*chunkSize : end])
		if err != nil {
			return "", fmt.Errorf("encode codes of %s: %w", rec.DocNo, err)
		}
		if _, err := h.Put(ctx, rec.chunkKey(i), b); err != nil {
			return "", fmt.Errorf("store codes of %s: %w", rec.DocNo, err)
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	if appendKey == "" {
		replaced, err := casReplace(ctx, h, key, b, func(old []byte) error { return notMoved(old, rec.DocNo, key) })
		if err != nil {
			if errors.Is(err, errDocChanged) || errors.Is(err, errBusy) {
				// Not written: the codes written for this version are
				// named by no record. (A write that failed otherwise may
				// have been made: the sync tells, a day later.)
				_ = removeChunks(context.WithoutCancel(ctx), h, b)
			}
			return "", fmt.Errorf("store %s: %w", rec.DocNo, err)
		}
		return key, removeChunks(ctx, h, replaced)
	}
	newKey := appendKey
	if _, err := h.Put(ctx, newKey, b); err != nil {
		return "", fmt.Errorf("store %s (%s): %w", rec.DocNo, newKey, err)
	}
	ref, _ := json.Marshal(docRef{Key: newKey})
	replacedRef, err := casReplace(ctx, h, rec.indexKey(), ref, nil)
	if err != nil {
		return "", fmt.Errorf("index %s: %w", rec.DocNo, err)
	}
	oldKey := key
	if replacedRef != nil {
		var r docRef
		if json.Unmarshal(replacedRef, &r) == nil && r.Key != "" {
			oldKey = r.Key
		}
	}
	if oldKey == "" || oldKey == newKey {
		return newKey, nil
	}
	// The record at the old place is no longer indexed: it becomes a
	// forwarding record, and its codes go.
	e, err := h.Get(ctx, oldKey)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return newKey, nil
	case err != nil:
		return "", fmt.Errorf("read the moved record %s: %w", oldKey, err)
	}
	stub := docRecord{DocNo: rec.DocNo, Source: rec.Source, Direction: rec.Direction, BillTime: rec.BillTime, FromOrgCode: rec.FromOrgCode,
		Scoped: rec.Scoped, Status: rec.Status, MovedTo: newKey, Lines: []docLine{}}
	sb, err := json.Marshal(&stub)
	if err != nil {
		return "", err
	}
	// Listed first, so that no forwarding record is left unlisted (one
	// listed and never written is passed over when removed).
	if _, err := h.Put(ctx, forwardMarkKey(now, oldKey), []byte("{}")); err != nil {
		return "", fmt.Errorf("list the forwarding record at %s for %s, moved to %s: %w", oldKey, rec.DocNo, newKey, err)
	}
	if _, err := h.Put(ctx, oldKey, sb); err != nil {
		return "", fmt.Errorf("leave a forwarding record at %s for %s, moved to %s: %w", oldKey, rec.DocNo, newKey, err)
	}
	return newKey, removeChunks(ctx, h, e.Value)
}

// forwardKeep is how long a forwarding record is kept: far longer than
// any export or other message runs (the host abandons a call after its
// processing.callTimeout, 60s by default), so none still reads the old
// day at the old place when it goes.
const forwardKeep = 24 * time.Hour

// forwardBatch bounds the forwarding records one stock-in sync removes.
const forwardBatch = 100

// forwardMarkKey lists the forwarding record left at oldKey at time at:
// moved/<UTC time, fixed width>/<old log key>, so the oldest come first.
func forwardMarkKey(at time.Time, oldKey string) string {
	return "moved/" + at.UTC().Format(markTimeLayout) + "/" + oldKey
}

// dropForwards removes the forwarding records (and their marks) listed
// more than forwardKeep before now, the oldest first, at most
// forwardBatch a call. It returns how many it removed, and the marks it
// could not read (skipped).
//
// A mark whose key is not moved/<time>/<log key> is skipped and left in
// place, and the run goes on with the next, as dropOrphanCodes skips a
// listing it cannot read: it stopped the run before, so that every later
// run stopped at the same mark and no forwarding record after it was
// ever removed. The record it may name cannot be told, so it stays too.
func dropForwards(ctx context.Context, h sdk.Host, now time.Time) (n int, skipped []unreadableListing, err error) {
	es, err := h.Scan(ctx, "moved/", forwardBatch)
	if err != nil {
		return 0, nil, fmt.Errorf("list the forwarding records of moved documents: %w", err)
	}
	for _, e := range es {
		stamp, oldKey, ok := strings.Cut(strings.TrimPrefix(e.Key, "moved/"), "/")
		at, err := time.Parse(markTimeLayout, stamp)
		if !ok || err != nil || oldKey == "" {
			skipped = append(skipped, unreadableListing{Key: e.Key, Why: "its key is not moved/<time>/<log key> (time " + markTimeLayout + " UTC)"})
			continue
		}
		if now.Sub(at) < forwardKeep {
			break // the rest are younger
		}
		rec, err := h.Get(ctx, oldKey)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return n, skipped, fmt.Errorf("read the forwarding record %s: %w", oldKey, err)
		default:
			// Only a forwarding record goes: a record at a log key never
			// becomes one again once it forwards (notMoved), so this
			// guards against a mark naming something else.
			if notMoved(rec.Value, "", oldKey) != nil {
				if err := h.Delete(ctx, oldKey); err != nil {
					return n, skipped, fmt.Errorf("remove the forwarding record %s: %w", oldKey, err)
				}
				n++
			}
		}
		if err := h.Delete(ctx, e.Key); err != nil {
			return n, skipped, fmt.Errorf("remove the mark %s of a forwarding record: %w", e.Key, err)
		}
	}
	return n, skipped, nil
}

// orphanChunkBudget bounds the code chunks one stock-in sync removes for
// saves that stopped (dropOrphanCodes): a listing it did not get to is
// done by the next run.
const orphanChunkBudget = 5000

// dropOrphanCodes finishes the saves (saveDoc) listed more than
// forwardKeep before now and never done, the oldest first, at most
// forwardBatch a call: it removes the codes of the version the save wrote
// and of the one it replaced, but those of the version the document's
// index names now (a save that stopped after switching the record, or
// whose answer was lost, wrote the version stored), then the listing. A
// day on, no save of either version is still under way, and no message
// reads a version no index names. It returns how many chunks it removed,
// and the listings it could not read (skipped).
//
// A listing it cannot read (a key that is not codesave/<time>/<version>,
// or a value that is not a save's listing) is skipped, and the run goes
// on with the next: it stopped the run before, so that every later run
// stopped at the same listing and no save after it was ever finished. It
// is left where it is, neither deleted nor moved: it names the chunks of
// a save no one can tell (deleting it would leave them for good, the very
// thing the listing is for), and one written by a later version of the
// plugin during an upgrade may be read by that version.
func dropOrphanCodes(ctx context.Context, h sdk.Host, now time.Time) (n int, skipped []unreadableListing, err error) {
	es, err := h.Scan(ctx, "codesave/", forwardBatch)
	if err != nil {
		return 0, nil, fmt.Errorf("list the saves of documents not finished: %w", err)
	}
	for _, e := range es {
		stamp, _, ok := strings.Cut(strings.TrimPrefix(e.Key, "codesave/"), "/")
		at, err := time.Parse(markTimeLayout, stamp)
		if !ok || err != nil {
			skipped = append(skipped, unreadableListing{Key: e.Key, Why: "its key is not codesave/<time>/<version> (time " + markTimeLayout + " UTC)"})
			continue
		}
		if now.Sub(at) < forwardKeep || n >= orphanChunkBudget {
			break // the rest are younger, or for the next run
		}
		var m saveMark
		if err := json.Unmarshal(e.Value, &m); err != nil || m.Base == "" || m.Index == "" {
			why := "its value names no document index and codes (index, base)"
			if err != nil {
				why = "its value is not a save's listing: " + err.Error()
			}
			skipped = append(skipped, unreadableListing{Key: e.Key, Why: why})
			continue
		}
		stored, storedKey, known, err := storedVersion(ctx, h, m.Index)
		if err != nil {
			return n, skipped, err
		}
		for _, v := range []savedVersion{m.New, m.Old} {
			if v.Chunks == 0 || known && v.Version == stored || v.Version == "" && !known {
				continue // the codes the document has (or, before versions, may have)
			}
			for i := 0; i < v.Chunks; i++ {
				if err := h.Delete(ctx, versionChunkKey(m.Base, v.Version, i)); err != nil {
					return n, skipped, fmt.Errorf("remove the codes of an unfinished save (%s): %w", e.Key, err)
				}
				n++
			}
		}
		if known && m.OldKey != "" && m.OldKey != storedKey {
			k, err := dropLeftRecord(ctx, h, m.OldKey, m.Index, stored)
			n += k
			if err != nil {
				return n, skipped, fmt.Errorf("finish the unfinished save %s: %w", e.Key, err)
			}
		}
		if m.NewKey != "" && m.NewKey != storedKey {
			// The record the save appended, which the index never named
			// (it stopped in between; no index at all for a new
			// document whose save was never made again).
			k, err := dropLeftRecord(ctx, h, m.NewKey, m.Index, stored)
			n += k
			if err != nil {
				return n, skipped, fmt.Errorf("finish the unfinished save %s: %w", e.Key, err)
			}
		}
		if err := h.Delete(ctx, e.Key); err != nil {
			return n, skipped, fmt.Errorf("remove the listing %s of a document's save: %w", e.Key, err)
		}
	}
	return n, skipped, nil
}

// unreadableListing is a codesave/ listing dropOrphanCodes skipped, or a
// moved/ mark dropForwards skipped, and why. Its key holds a time and a
// codes version or log key (a date and a number), no personal data; its
// value is never shown.
type unreadableListing struct {
	Key, Why string
}

// storedVersion returns the codes version and the log key of the record
// an index names (known false: there is no such record).
func storedVersion(ctx context.Context, h sdk.Host, index string) (version, key string, known bool, err error) {
	e, err := h.Get(ctx, index)
	if errors.Is(err, sdk.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read the index %s: %w", index, err)
	}
	var ref docRef
	if err := json.Unmarshal(e.Value, &ref); err != nil {
		return "", "", false, fmt.Errorf("decode the index %s: %w", index, err)
	}
	d, err := h.Get(ctx, ref.Key)
	if errors.Is(err, sdk.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read %s (index %s): %w", ref.Key, index, err)
	}
	var rec docRecord
	if err := json.Unmarshal(d.Value, &rec); err != nil {
		return "", "", false, fmt.Errorf("decode %s: %w", ref.Key, err)
	}
	return rec.CodesVersion, ref.Key, true, nil
}

// dropLeftRecord removes a record an unfinished save left at key, which
// the document's index (index) does not name: the one at the document's
// old place (saveMark.OldKey) when a save that moved the document to
// another day stopped (or its index write's answer was lost) once the
// index named the new record, before the old one became a forwarding
// record; or the one the save appended (saveMark.NewKey) when it stopped
// before the index named it. Nothing reads it (an export reads only the
// record an index names), and the codes it names (the version it has now,
// which a message that read it before the move may have written since)
// are named by no other record, but the version stored. A forwarding
// record, or a record of another document, is left to dropForwards. It
// returns how many chunks it removed.
func dropLeftRecord(ctx context.Context, h sdk.Host, key, index, stored string) (int, error) {
	e, err := h.Get(ctx, key)
	if errors.Is(err, sdk.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the record %s an unfinished save left: %w", key, err)
	}
	var old docRecord
	if err := json.Unmarshal(e.Value, &old); err != nil {
		return 0, fmt.Errorf("decode the record %s an unfinished save left: %w", key, err)
	}
	if old.MovedTo != "" || old.indexKey() != index {
		return 0, nil
	}
	n := 0
	if old.CodesVersion != stored {
		for i := 0; i < old.Chunks; i++ {
			if err := h.Delete(ctx, old.chunkKey(i)); err != nil {
				return n, fmt.Errorf("remove the codes of the record %s an unfinished save left: %w", key, err)
			}
			n++
		}
	}
	if err := h.Delete(ctx, key); err != nil {
		return n, fmt.Errorf("remove the record %s of %s an unfinished save left (its index %s names another, or none): %w", key, old.DocNo, index, err)
	}
	return n, nil
}

// casReplace writes value at key with compare-and-set on the entry it
// replaces and returns that entry's value (nil: there was none). guard,
// if not nil, may refuse the entry found.
func casReplace(ctx context.Context, h sdk.Host, key string, value []byte, guard func(old []byte) error) ([]byte, error) {
	for range 20 {
		var old []byte
		var ver int64
		e, err := h.Get(ctx, key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			old, ver = e.Value, e.Version
			if guard != nil {
				if err := guard(old); err != nil {
					return nil, err
				}
			}
		}
		_, err = h.CompareAndSet(ctx, key, ver, value)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return old, nil
	}
	return nil, errBusy
}

// notMoved returns errDocChanged when a document record read at key (its
// JSON) is the forwarding record of a document moved to another day: the
// key was read before the move, and the message reads the document again.
func notMoved(value []byte, docNo, key string) error {
	var r struct {
		MovedTo string `json:"movedTo"`
	}
	if json.Unmarshal(value, &r) == nil && r.MovedTo != "" {
		return fmt.Errorf("%w: document %s moved from %s to %s (its date changed) while it was handled; it is read again there", errDocChanged, docNo, key, r.MovedTo)
	}
	return nil
}

// removeChunks removes the code chunks of a replaced document record (its
// JSON; nil or undecodable: nothing to remove).
func removeChunks(ctx context.Context, h sdk.Host, replaced []byte) error {
	if replaced == nil {
		return nil
	}
	var old docRecord
	if json.Unmarshal(replaced, &old) != nil || old.MovedTo != "" {
		return nil
	}
	for i := 0; i < old.Chunks; i++ {
		if err := h.Delete(ctx, old.chunkKey(i)); err != nil {
			return fmt.Errorf("remove the replaced codes of %s: %w", old.DocNo, err)
		}
	}
	return nil
}

// newCodesVersion returns a fresh name for the chunks of one version of a
// document's codes.
func newCodesVersion() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// updateDoc applies fn to a stored document with compare-and-set.
func updateDoc(ctx context.Context, h sdk.Host, key string, fn func(*docRecord)) error {
	for range 20 {
		e, err := h.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		var rec docRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if err := notMoved(e.Value, rec.DocNo, key); err != nil {
			return err
		}
		fn(&rec)
		b, err := json.Marshal(&rec)
		if err != nil {
			return err
		}
		_, err = h.CompareAndSet(ctx, key, e.Version, b)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		return nil
	}
	return errBusy
}

// readCodes calls fn for every code row of a document, one chunk at a time.
func readCodes(ctx context.Context, h sdk.Host, rec *docRecord, fn func(codeRow) error) error {
	return readChunks(ctx, h, rec, func(rows []codeRow) error {
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// readChunks calls fn with each chunk of a document's code rows, in order.
// Each call gets a slice of its own, which fn may keep. A chunk gone
// because another version of the document replaced the one rec is
// (saveDoc) is an errDocChanged: the rows read so far and those of the
// new version must not be mixed, so the caller reads the document again.
// A version with the same content (an upload sent again as it was, as the
// host does every so often while the platform does not answer) has the
// same rows in the same chunks: the read goes on in it. A chunk missing
// from the version still stored (left so by a version before codesVersion
// that stopped mid-write) is skipped, as it was.
func readChunks(ctx context.Context, h sdk.Host, rec *docRecord, fn func([]codeRow) error) error {
	cur := rec // the version whose chunks are read
	for i, moves := 0, 0; i < rec.Chunks; i++ {
		key := cur.chunkKey(i)
		e, err := h.Get(ctx, key)
		if errors.Is(err, sdk.ErrNotFound) {
			now, err := stillStored(ctx, h, cur)
			if err != nil {
				return err
			}
			if now != nil && moves < 20 {
				// The same content saved again: chunk i of that version.
				cur, moves = now, moves+1
				i--
				continue
			}
			if now != nil {
				return errBusy
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read codes of %s: %w", rec.DocNo, err)
		}
		var rows []codeRow
		if err := json.Unmarshal(e.Value, &rows); err != nil {
			return fmt.Errorf("decode codes of %s chunk %d: %w", rec.DocNo, i, err)
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	return nil
}

// errDocChanged: a document was saved again while its codes were read.
var errDocChanged = errors.New("the document changed while its codes were read")

// stillStored tells what a reader of rec does when a chunk of its codes
// is missing: nil, nil when the version the document's index names now
// is rec's (the chunk is skipped); that version when it is another with
// the same content, hash, codes and chunks (the read goes on in it);
// errDocChanged otherwise.
func stillStored(ctx context.Context, h sdk.Host, rec *docRecord) (*docRecord, error) {
	cur, _, _, err := loadIndexed(ctx, h, rec.indexKey(), rec.DocNo)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return nil, err
	case cur.CodesVersion == rec.CodesVersion:
		return nil, nil
	case cur.MovedTo == "" && rec.Hash != "" && cur.Hash == rec.Hash && cur.CodeCount == rec.CodeCount && cur.Chunks == rec.Chunks:
		return cur, nil
	}
	return nil, fmt.Errorf("%w: document %s (%s) was saved again (a later fetch or upload of it) while its codes were read; it is read again as it is now",
		errDocChanged, rec.DocNo, rec.indexKey())
}

// dayOf returns the start of the day of a "2006-01-02[ 15:04:05]" time in
// zone.
func dayOf(s string, zone *time.Location) (time.Time, error) {
	if len(s) < len(dateLayout) {
		return time.Time{}, fmt.Errorf("%q is not a date", s)
	}
	return time.ParseInLocation(dateLayout, s[:len(dateLayout)], zone)
}
