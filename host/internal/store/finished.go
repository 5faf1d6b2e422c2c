package store

import (
	"context"
	"fmt"
)

// sqlInsertFinished records a message that was never begun together with
// its outcome (see RecordFinished).
const sqlInsertFinished = `INSERT INTO messages
		(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at, request)
		VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`

// The group commit runs it: prepared with the other statements of the
// message path (see sqlStore.prepare).
func init() { groupStmts = append(groupStmts, sqlInsertFinished) }

// RecordFinished implements [Store.RecordFinished].
func (s *sqlStore) RecordFinished(ctx context.Context, m Message, journal ...Exchange) (*Message, error) {
	if m.Outcome == "" {
		return nil, s.errorf("record finished message %q: empty outcome", m.ID)
	}
	b, err := s.beginRow(m)
	if err != nil {
		return nil, err
	}
	reply, err := s.seal.seal(aad("messages.reply", m.ID), m.Reply)
	if err != nil {
		return nil, s.errorf("record finished message %q: %w", m.ID, err)
	}
	// beginRow's arguments: id, site, type, key, attempts, occurred,
	// received, updated, request.
	args := make([]any, 0, len(b.args)+2)
	args = append(args, b.args[:4]...)
	args = append(args, m.Outcome, nullBytes(reply))
	args = append(args, b.args[4:]...)
	rows := make([]exchangeRow, len(journal))
	for i, e := range journal {
		if rows[i], err = s.exchangeRow(e); err != nil {
			return nil, s.errorf("record finished message %q: %w", m.ID, err)
		}
	}
	var existing *Message
	err = s.writeTx(ctx, func(ctx context.Context, q querier) error {
		existing = nil
		res, err := s.execOn(ctx, q, sqlInsertFinished, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			if b.apart != nil {
				if _, err := s.execOn(ctx, q, sqlInsertRequest, m.ID, b.apart); err != nil {
					return fmt.Errorf("request: %w", err)
				}
			}
		} else {
			// As in begin: the conflicting row is committed or in this
			// transaction, so a read on q sees it.
			e, err := s.scanMessage(s.rowOn(ctx, q, sqlGetMessage, m.ID))
			if err != nil {
				return fmt.Errorf("existing: %w", err)
			}
			existing = &e
		}
		// The calls were made either way: their entries are kept.
		for _, r := range rows {
			if err := s.journalExchange(ctx, q, r); err != nil {
				return fmt.Errorf("journal entry (code %q, serial %q): %w", r.e.Code, r.e.Serial, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("record finished message %q: %w", m.ID, err)
	}
	return existing, nil
}
