package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// The adapter keeps its state in the host's store (namespaced by plugin and
// site). Keys:
//
//	msg/<message id>            sentRecord: serial and outcome of an upload
//	apply/<apply_no>            applyState: a downloaded filing application
//	filing/<filing_no>          filingState: a filing this site knows of
//	person/<hash>/<inst type>   filing_no of the person's valid filing
//	att/<attachment_id>         attachmentState: uploaded with GYU002
//	inst/<akb020>               instState: an institution and its type
//	instup/<akb020>             hash of the institution last uploaded (GYU009 job)
//	dl/<code>                   dlState: the download workflow of GYD001/GYD006/GYD009
//	dl/<code>/progress          dlProgress: records published of the current batch
//
// ID numbers never appear in keys: persons are keyed by a hash.

// getJSON reads key into v and returns its version (0 when absent).
func getJSON(ctx context.Context, h sdk.Host, key string, v any) (int64, error) {
	e, err := h.Get(ctx, key)
	if errors.Is(err, sdk.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read state %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return 0, fmt.Errorf("state %s is not readable JSON: %w", key, err)
	}
	return e.Version, nil
}

// putJSON writes v at key.
func putJSON(ctx context.Context, h sdk.Host, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode state %s: %w", key, err)
	}
	if _, err := h.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write state %s: %w", key, err)
	}
	return nil
}

// casJSON writes v at key if its version is still expect and returns the
// new version; a lost race is sdk.ErrConflict.
func casJSON(ctx context.Context, h sdk.Host, key string, expect int64, v any) (int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode state %s: %w", key, err)
	}
	n, err := h.CompareAndSet(ctx, key, expect, b)
	if err != nil {
		return 0, fmt.Errorf("write state %s: %w", key, err)
	}
	return n, nil
}

// sentRecord is what the adapter knows of an upload it sent for a message.
type sentRecord struct {
	Code   string    `json:"code"`
	Serial string    `json:"serial"`
	Date   string    `json:"date"` // day of the call, UTC+8, for GYD053
	SentAt time.Time `json:"sentAt"`
	Sends  int       `json:"sends"` // requests sent, over all serials
	// Done is set once the outcome is known; Status is ok or rejected.
	Done    bool            `json:"done,omitempty"`
	Status  string          `json:"status,omitempty"`
	ExtCode string          `json:"extCode,omitempty"`
	ExtMsg  string          `json:"extMsg,omitempty"`
	Output  json.RawMessage `json:"output,omitempty"`
	// Reconciled says the outcome came from GYD053.
	Reconciled bool `json:"reconciled,omitempty"`
}

// applyState is a filing application downloaded with GYD001.
type applyState struct {
	Status   string `json:"status"` // downloaded | audited
	Result   string `json:"result,omitempty"`
	FilingNo string `json:"filingNo,omitempty"`
	BatchNo  string `json:"batchNo,omitempty"`
	// FilingType and AKB020 come from the downloaded record.
	FilingType string    `json:"filingType,omitempty"`
	AKB020     string    `json:"akb020,omitempty"`
	At         time.Time `json:"at"`
}

// Application states.
const (
	applyDownloaded = "downloaded"
	applyAudited    = "audited"
)

// filingState is a filing this site knows of (uploaded, approved or
// downloaded). Status uses the filingStatus code table.
type filingState struct {
	Status   string    `json:"status"`
	Person   string    `json:"person"`
	InstType string    `json:"instType"`
	AKB020   string    `json:"akb020,omitempty"`
	AAB299   string    `json:"aab299,omitempty"`
	AAE030   string    `json:"aae030,omitempty"`
	AAE031   string    `json:"aae031,omitempty"`
	At       time.Time `json:"at"`
}

// Filing status codes (schemas/workinjury/codes/filingStatus.yaml).
const (
	filingPending    = "0"
	filingApproved   = "1"
	filingRefused    = "2"
	filingChanged    = "3"
	filingTerminated = "4"
)

// valid reports whether the filing can be used on day (YYYY-MM-DD).
func (f filingState) valid(day string) bool {
	if f.Status != filingApproved && f.Status != filingChanged {
		return false
	}
	return f.AAE031 == "" || f.AAE031 >= day
}

// invalid reports whether the filing is invalid for good: refused or
// terminated. Its status may never become valid again.
func (f filingState) invalid() bool {
	return f.Status == filingRefused || f.Status == filingTerminated
}

// attachmentState is an attachment uploaded with GYU002.
type attachmentState struct {
	BizType  string    `json:"bizType"`
	BizNo    string    `json:"bizNo"`
	Type     string    `json:"type"`
	FileName string    `json:"fileName"`
	At       time.Time `json:"at"`
}

// instState is an institution from GYD009 or GYU009.
type instState struct {
	Type  string    `json:"type"`
	Valid string    `json:"valid"`
	At    time.Time `json:"at"`
}

// personKey hashes a social-security number for use in state keys.
func personKey(aac002 string) string {
	sum := sha256.Sum256([]byte("medgate-workinjury-person:" + aac002))
	return hex.EncodeToString(sum[:12])
}

func str(doc map[string]any, k string) string {
	switch v := doc[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}
