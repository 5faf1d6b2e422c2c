package adapter

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

// Patient statuses, as import-pending reports them.
const (
	statusPending    = "pending"
	statusUploading  = "uploading"
	statusUploaded   = "uploaded"
	statusFailed     = "failed"
	statusCancelling = "cancelling"
	statusCancelled  = "cancelled"
	statusInvalid    = "invalid"
)

// patientRecord is what medgate remembers of one visit, under
// patient/<fixmedins_mdtrt_id>. Names and ID numbers are kept masked; the
// ID number is also kept as a keyed hash (HMAC-SHA-256 with a per-site
// random key) to match pending lists.
type patientRecord struct {
	MdtrtID      string    `json:"mdtrtId"`
	Status       string    `json:"status"`
	Step         string    `json:"step,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	MessageID    string    `json:"messageId"`
	Name         string    `json:"name,omitempty"`   // masked
	Certno       string    `json:"certno,omitempty"` // masked
	CertHash     string    `json:"certHash,omitempty"`
	Begntime     string    `json:"begntime,omitempty"`
	Endtime      string    `json:"endtime,omitempty"`
	MedfeeSumamt string    `json:"medfeeSumamt,omitempty"`
	FeeLines     int       `json:"feeLines,omitempty"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

func patientKey(id string) string { return "patient/" + id }

func certIndexKey(hash, id string) string { return "cert/" + hash + "/" + id }

// patient returns the record of a visit, or nil.
func (r *run) patient(ctx context.Context, id string) (*patientRecord, error) {
	e, err := r.h.Get(ctx, patientKey(id))
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("selfpay: read the record of visit %s: %w", id, err)
	}
	var p patientRecord
	if err := json.Unmarshal(e.Value, &p); err != nil {
		return nil, nil // an unreadable record is treated as none
	}
	return &p, nil
}

func (r *run) putPatient(ctx context.Context, p *patientRecord) error {
	p.UpdatedAt = r.a.now().UTC()
	b, _ := json.Marshal(p)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := r.h.Put(pctx, patientKey(p.MdtrtID), b); err != nil {
		return fmt.Errorf("selfpay: store the record of visit %s: %w", p.MdtrtID, err)
	}
	return nil
}

// notePatient records an upload's progress with the visit's identity.
func (r *run) notePatient(ctx context.Context, in *uploadInput, status, reason, step string) error {
	p, err := r.patient(ctx, in.mdtrtID)
	if err != nil {
		return err
	}
	if p == nil {
		p = &patientRecord{MdtrtID: in.mdtrtID}
	}
	certno := str(in.mdtrt["certno"])
	hash, err := r.certHash(ctx, certno)
	if err != nil {
		return err
	}
	if hash != "" && hash != p.CertHash {
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, err := r.h.Put(ictx, certIndexKey(hash, in.mdtrtID), []byte("{}"))
		cancel()
		if err != nil {
			return fmt.Errorf("selfpay: index visit %s: %w", in.mdtrtID, err)
		}
	}
	p.Status, p.Reason, p.Step, p.MessageID = status, hsa.MaskText(reason), step, r.req.MessageID
	p.Name, p.Certno, p.CertHash = hsa.MaskName(str(in.mdtrt["psn_name"])), hsa.MaskID(certno), hash
	p.Begntime, p.Endtime, p.MedfeeSumamt = str(in.mdtrt["begntime"]), str(in.mdtrt["endtime"]), str(in.mdtrt["medfee_sumamt"])
	p.FeeLines = len(in.fees)
	return r.putPatient(ctx, p)
}

// setPatientStatus updates a visit's status (cancel knows no identity).
func (r *run) setPatientStatus(ctx context.Context, id, status, reason string) error {
	p, err := r.patient(ctx, id)
	if err != nil {
		return err
	}
	if p == nil {
		p = &patientRecord{MdtrtID: id}
	}
	p.Status, p.Reason, p.MessageID = status, hsa.MaskText(reason), r.req.MessageID
	return r.putPatient(ctx, p)
}

const saltKey = "salt"

// certHash is the keyed hash of an ID number ("" for none).
func (r *run) certHash(ctx context.Context, certno string) (string, error) {
	certno = strings.ToUpper(strings.TrimSpace(certno))
	if certno == "" {
		return "", nil
	}
	key, err := r.salt(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(certno))
	return hex.EncodeToString(m.Sum(nil))[:32], nil
}

// salt returns the site's random HMAC key, creating it once.
func (r *run) salt(ctx context.Context) ([]byte, error) {
	for range 3 {
		e, err := r.h.Get(ctx, saltKey)
		if err == nil {
			return e.Value, nil
		}
		if !errors.Is(err, sdk.ErrNotFound) {
			return nil, fmt.Errorf("selfpay: read the site's hashing key: %w", err)
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		_, err = r.h.CompareAndSet(ctx, saltKey, 0, b[:])
		if err == nil {
			return b[:], nil
		}
		if !errors.Is(err, sdk.ErrConflict) {
			return nil, fmt.Errorf("selfpay: store the site's hashing key: %w", err)
		}
	}
	return nil, errors.New("selfpay: the site's hashing key keeps changing; retry")
}

// visitsByCert returns the records of the visits of one ID number.
func (r *run) visitsByCert(ctx context.Context, certno string) ([]*patientRecord, error) {
	hash, err := r.certHash(ctx, certno)
	if err != nil || hash == "" {
		return nil, err
	}
	prefix := "cert/" + hash + "/"
	es, err := r.h.Scan(ctx, prefix, 0)
	if err != nil {
		return nil, fmt.Errorf("selfpay: look up visits by ID number: %w", err)
	}
	var out []*patientRecord
	for _, e := range es {
		id := strings.TrimPrefix(e.Key, prefix)
		p, err := r.patient(ctx, id)
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out, nil
}
