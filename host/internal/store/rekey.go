package store

import (
	"context"
	"database/sql"
	"time"
)

// Rekeyer is implemented by the stores that encrypt at rest (both engines).
type Rekeyer interface {
	// Rekey re-encrypts, under the current (first) key, every stored value
	// written plain or with another key, binds the journal entries written
	// before schema version 7 to their row (see WithRefuseUnboundJournal),
	// and returns how many rows it rewrote. It runs in small batches beside normal traffic; a row
	// written meanwhile is left to its writer (it is written with the
	// current key anyway). Run it after putting a new key first, before
	// removing the old key from the configuration.
	//
	// With WithRefusePlain, a plain value stops it with ErrPlain naming
	// the row, like any read: Rekey never encrypts, and so vouches for, a
	// value no key authenticates. Run it with refusePlain off to encrypt
	// the rows written before encryption was turned on.
	Rekey(ctx context.Context) (int64, error)
}

// rekeyBatch is how many rows Rekey reads at a time.
const rekeyBatch = 200

// Rekey implements [Rekeyer].
func (s *sqlStore) Rekey(ctx context.Context) (int64, error) {
	if s.seal == nil || s.seal.current == "" {
		return 0, s.errorf("rekey: no encryption key is configured (store.encryption)")
	}
	var total int64
	for _, step := range []func(context.Context) (int64, error){s.rekeyMessages, s.rekeyRequests, s.rekeyExchanges, s.rekeyState, s.rekeyBatches} {
		n, err := step(ctx)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// reseal decrypts a stored value and encrypts it again under the current key.
func (s *sqlStore) reseal(aad string, b []byte) ([]byte, error) {
	plain, err := s.seal.open(aad, b)
	if err != nil {
		return nil, err
	}
	return s.seal.seal(aad, plain)
}

func (s *sqlStore) rekeyMessages(ctx context.Context) (int64, error) {
	type row struct {
		id, status, outcome string
		attempts            int
		updated             time.Time
		reply, request      []byte
	}
	var n int64
	after := ""
	for {
		rows, err := readAll(ctx, s, func(r rowScanner) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.status, &x.outcome, &x.attempts, &scanTime{t: &x.updated}, &x.reply, &x.request)
			return x, err
		}, `SELECT id, status, outcome, attempts, updated_at, reply, request FROM messages WHERE id > ? ORDER BY id LIMIT ?`, after, rekeyBatch)
		if err != nil {
			return n, s.errorf("rekey messages: %w", err)
		}
		for _, x := range rows {
			after = x.id
			if !s.seal.stale(x.reply) && !s.seal.stale(x.request) {
				continue
			}
			reply, err := s.reseal(aad("messages.reply", x.id), x.reply)
			if err != nil {
				return n, s.errorf("rekey message %q: reply: %w", x.id, err)
			}
			request, err := s.reseal(aad("messages.request", x.id), x.request)
			if err != nil {
				return n, s.errorf("rekey message %q: request: %w", x.id, err)
			}
			// Only if nobody wrote the row since it was read.
			res, err := s.exec(ctx, `UPDATE messages SET reply = ?, request = ?
				WHERE id = ? AND status = ? AND outcome = ? AND attempts = ? AND updated_at = ?`,
				nullBytes(reply), nullBytes(request), x.id, x.status, x.outcome, x.attempts, s.d.encodeTime(normTime(x.updated)))
			if err != nil {
				return n, s.errorf("rekey message %q: %w", x.id, err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if len(rows) < rekeyBatch {
			return n, nil
		}
	}
}

// rekeyRequests re-encrypts the requests kept apart from their message's
// row (message_requests). A request is never changed once written, but
// its message may be pruned and begun again with the same id.
func (s *sqlStore) rekeyRequests(ctx context.Context) (int64, error) {
	type row struct {
		id      string
		request []byte
	}
	var n int64
	after := ""
	for {
		rows, err := readAll(ctx, s, func(r rowScanner) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.request)
			return x, err
		}, `SELECT id, request FROM message_requests WHERE id > ? ORDER BY id LIMIT ?`, after, rekeyBatch)
		if err != nil {
			return n, s.errorf("rekey message requests: %w", err)
		}
		if s.rekeyRead != nil {
			s.rekeyRead("message_requests")
		}
		for _, x := range rows {
			after = x.id
			if !s.seal.stale(x.request) {
				continue
			}
			request, err := s.reseal(aad("messages.request", x.id), x.request)
			if err != nil {
				return n, s.errorf("rekey message %q: request: %w", x.id, err)
			}
			// Only if the row still holds what was read: a message
			// pruned and begun again meanwhile has the same id and a new
			// request (an encrypted value is never written twice the
			// same, its nonce is random).
			res, err := s.exec(ctx, `UPDATE message_requests SET request = ? WHERE id = ? AND request = ?`, request, x.id, x.request)
			if err != nil {
				return n, s.errorf("rekey message %q: request: %w", x.id, err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if len(rows) < rekeyBatch {
			return n, nil
		}
	}
}

// rekeyExchanges re-encrypts the journal bodies written plain or with
// another key, and binds those of entries written before schema version 7
// (no seal id) to their row: it gives them a seal id and seals them again
// bound to it and to their columns (see exchangeAAD).
func (s *sqlStore) rekeyExchanges(ctx context.Context) (int64, error) {
	type row struct {
		e      Exchange
		sealID sql.NullString
	}
	var n int64
	var after int64
	for {
		rows, err := readAll(ctx, s, func(r rowScanner) (row, error) {
			var x row
			e := &x.e
			err := r.Scan(&e.ID, &e.MessageID, &e.Plugin, &e.Site, &e.System, &e.Code, &e.Serial, &e.Request, &e.Response,
				&e.Status, &e.Error, &e.DurationMS, &scanTime{t: &e.At}, &x.sealID)
			return x, err
		}, `SELECT id, message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at, seal_id
			FROM exchanges WHERE id > ? ORDER BY id LIMIT ?`, after, rekeyBatch)
		if err != nil {
			return n, s.errorf("rekey exchanges: %w", err)
		}
		if s.rekeyRead != nil {
			s.rekeyRead("exchanges")
		}
		for _, x := range rows {
			e := x.e
			after = e.ID
			unbound := !x.sealID.Valid && (e.Request != nil || e.Response != nil)
			if !unbound && !s.seal.stale(e.Request) && !s.seal.stale(e.Response) {
				continue
			}
			request, err := s.seal.openExchange("request", x.sealID.String, e, e.Request)
			if err != nil {
				return n, s.errorf("rekey exchange %d: request: %w", e.ID, err)
			}
			response, err := s.seal.openExchange("response", x.sealID.String, e, e.Response)
			if err != nil {
				return n, s.errorf("rekey exchange %d: response: %w", e.ID, err)
			}
			sealID := x.sealID.String
			if sealID == "" {
				if sealID, err = s.seal.newSealID(); err != nil {
					return n, s.errorf("rekey exchange %d: %w", e.ID, err)
				}
			}
			if request, err = s.seal.seal(exchangeAAD("request", sealID, e), request); err != nil {
				return n, s.errorf("rekey exchange %d: request: %w", e.ID, err)
			}
			if response, err = s.seal.seal(exchangeAAD("response", sealID, e), response); err != nil {
				return n, s.errorf("rekey exchange %d: response: %w", e.ID, err)
			}
			// Journal entries are never updated, only pruned; the seal id
			// read is compared so that of two Rekeys at once (two
			// instances) only one binds an entry.
			same := `seal_id = ?`
			args := []any{nullBytes(request), nullBytes(response), sealID, e.ID}
			if !x.sealID.Valid {
				same = `seal_id IS NULL`
			} else {
				args = append(args, sealID)
			}
			res, err := s.exec(ctx, `UPDATE exchanges SET request = ?, response = ?, seal_id = ? WHERE id = ? AND `+same, args...)
			if err != nil {
				return n, s.errorf("rekey exchange %d: %w", e.ID, err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if len(rows) < rekeyBatch {
			return n, nil
		}
	}
}

func (s *sqlStore) rekeyState(ctx context.Context) (int64, error) {
	type row struct {
		ns, key string
		value   []byte
		version int64
	}
	var n int64
	afterNS, afterKey := "", ""
	for {
		rows, err := readAll(ctx, s, func(r rowScanner) (row, error) {
			var x row
			err := r.Scan(&x.ns, &x.key, &x.value, &x.version)
			return x, err
		}, `SELECT ns, key, value, version FROM plugin_state WHERE ns > ? OR (ns = ? AND key > ?) ORDER BY ns, key LIMIT ?`,
			afterNS, afterNS, afterKey, rekeyBatch)
		if err != nil {
			return n, s.errorf("rekey plugin state: %w", err)
		}
		if s.rekeyRead != nil {
			s.rekeyRead("plugin_state")
		}
		for _, x := range rows {
			afterNS, afterKey = x.ns, x.key
			if !s.seal.stale(x.value) {
				continue
			}
			value, err := s.reseal(aad("plugin_state", x.ns, x.key), x.value)
			if err != nil {
				return n, s.errorf("rekey state %q key %q: %w", x.ns, x.key, err)
			}
			// The version is kept: the value means the same. A writer in
			// between bumped it, so this does nothing; a key deleted and
			// created again meanwhile is back at version 1 with another
			// value, which the comparison with the value read keeps.
			res, err := s.exec(ctx, `UPDATE plugin_state SET value = ? WHERE ns = ? AND key = ? AND version = ? AND value = ?`,
				nullBytes(value), x.ns, x.key, x.version, x.value)
			if err != nil {
				return n, s.errorf("rekey state %q key %q: %w", x.ns, x.key, err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if len(rows) < rekeyBatch {
			return n, nil
		}
	}
}

func (s *sqlStore) rekeyBatches(ctx context.Context) (int64, error) {
	type row struct {
		b       Batch
		updated time.Time
	}
	var n int64
	var last Batch
	for {
		rows, err := readAll(ctx, s, func(r rowScanner) (row, error) {
			var x row
			err := r.Scan(&x.b.Plugin, &x.b.Site, &x.b.Job, &x.b.BatchID, &x.b.Step, &x.b.Payload, &scanTime{t: &x.updated})
			return x, err
		}, `SELECT plugin, site, job, batch_id, step, payload, updated_at FROM batches
			WHERE (plugin, site, job, batch_id) > (?, ?, ?, ?) ORDER BY plugin, site, job, batch_id LIMIT ?`,
			last.Plugin, last.Site, last.Job, last.BatchID, rekeyBatch)
		if err != nil {
			return n, s.errorf("rekey batches: %w", err)
		}
		for _, x := range rows {
			last = x.b
			if !s.seal.stale(x.b.Payload) {
				continue
			}
			b := x.b
			payload, err := s.reseal(aad("batches", b.Plugin, b.Site, b.Job, b.BatchID), b.Payload)
			if err != nil {
				return n, s.errorf("rekey batch %s/%s/%s %q: %w", b.Plugin, b.Site, b.Job, b.BatchID, err)
			}
			res, err := s.exec(ctx, `UPDATE batches SET payload = ?
				WHERE plugin = ? AND site = ? AND job = ? AND batch_id = ? AND step = ? AND updated_at = ?`,
				nullBytes(payload), b.Plugin, b.Site, b.Job, b.BatchID, b.Step, s.d.encodeTime(normTime(x.updated)))
			if err != nil {
				return n, s.errorf("rekey batch %s/%s/%s %q: %w", b.Plugin, b.Site, b.Job, b.BatchID, err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if len(rows) < rekeyBatch {
			return n, nil
		}
	}
}

var _ Rekeyer = (*sqlStore)(nil)
