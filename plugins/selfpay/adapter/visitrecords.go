package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/medgate/medgate/plugins/hsa"
)

// visitQuery runs the paged query infno (4207, 4209) about visit mdtrtID
// of the site's institution to the end and returns its records, every one
// of them the visit's (ownRecords).
func (r *run) visitQuery(ctx context.Context, infno, mdtrtID string) ([]json.RawMessage, error) {
	if err := r.beforeCall(ctx); err != nil {
		return nil, err
	}
	code := r.s.cfg.FixmedinsCode
	recs, err := r.s.client.QueryAll(ctx, r.h, r.req.MessageID, infno,
		map[string]any{"fixmedins_mdtrt_id": mdtrtID, "fixmedins_code": code}, r.s.opts.pageSize, 0)
	if err != nil {
		return nil, err
	}
	if err := ownRecords(infno, "", mdtrtID, code, recs); err != nil {
		return nil, err
	}
	return recs, nil
}

// ownRecords checks that the records of an answer to 4207 or 4209, asked
// about visit mdtrtID of institution code, are that visit's: a record
// naming another visit (fixmedinsMdtrtId, or fixmedins_mdtrt_id) or
// another institution (fixmedinsCode, fixmedins_code) makes the answer an
// *hsa.AnswerError, which settles nothing. Both queries name one visit,
// and their records carry its id and institution (the notes' output
// lists, S1 and S2); a bkkp_sn is unique only within its visit, so
// another visit's line taken for this visit's would make a line whose
// 4201A never arrived count as uploaded (never sent), a deleted visit
// count as still holding details, or staff clean up lines by another
// patient's bkkp_sn. A record naming neither is taken as the visit's: the
// query named it. Records that cannot be read are left to the caller.
func ownRecords(infno, msgid, mdtrtID, code string, recs []json.RawMessage) error {
	for i, raw := range recs {
		var rec map[string]any
		if decodeRecord(raw, &rec) != nil {
			continue
		}
		id, _ := field(rec, "fixmedins_mdtrt_id")
		c, _ := field(rec, "fixmedins_code")
		rid, rc := strings.TrimSpace(str(id)), strings.TrimSpace(str(c))
		if (rid == "" || rid == strings.TrimSpace(mdtrtID)) && (rc == "" || rc == strings.TrimSpace(code)) {
			continue
		}
		return &hsa.AnswerError{Infno: infno, MsgID: msgid, Err: fmt.Errorf(
			"record %d is of visit %q at institution %q, but %s was asked about visit %q at %q: an answer listing another visit's records "+
				"(a bkkp_sn is unique only within its visit) settles nothing and is not passed on; ask again, and if the platform keeps answering so, report it to the province",
			i+1, rid, rc, infno, mdtrtID, code)}
	}
	return nil
}

// ownInstitution tells whether a 4208 record is of the site's institution
// or names none (fixmedinsCode, or fixmedins_code). 4208 searches visits
// by person, time and total, so it may list the person's visits at other
// institutions, and a fixmedins_mdtrt_id is unique only within its
// institution: such a record is never the visit medgate looks for.
func (r *run) ownInstitution(rec map[string]any) bool {
	c, _ := field(rec, "fixmedins_code")
	code := strings.TrimSpace(str(c))
	return code == "" || code == r.s.cfg.FixmedinsCode
}
