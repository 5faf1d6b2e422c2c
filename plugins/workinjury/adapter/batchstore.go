package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medgate/medgate/plugins/sdk"
)

// A download batch (at most 500 records) is kept in chunks of records, each
// one state value of its own, not in the workflow's state (dl/<code>): the
// host takes at most stateValueBytes (1 MiB by default) in one value, and
// 500 records with the longest fields the schemas allow are larger
// (TestWorstCaseBatchIsDelivered, TestWorstCaseBatchesFitInChunks).
//
//	dl/<code>/batch/<fetch serial>/<index>   JSON array of the records from
//	                                         index on, as the national system sent them
//	dl/<code>/batch/<fetch serial>/<index>/<part>
//	                                         the bytes of record index, in order, when
//	                                         the host refuses it as one value (dlState.Parts)
//
// The chunks are written before the compare-and-set that moves the step to
// stored and names them (dlState.ChunkPrefix, Chunks, RecordCount), so a
// stored batch always has its chunks. A run stopped in between leaves the
// step fetching: the batch is asked for again (GYD008, GYR005) under a new
// serial, and the chunks of the lost fetch are dropped (recoverFetch). The
// chunks of a batch are dropped once it is acknowledged (batchDone).

// chunkBytes is what a chunk holds at most, unless one record alone is
// larger: well below the host's default limit of a state value. A host
// configured below it refuses a chunk (sdk.ErrTooLarge): it is split in
// two, down to one record a chunk, and a record the host refuses alone is
// stored in parts of its bytes (putParts), so that no record holds up its
// code (GYD003's items and GYD001's attachments have no bound of their own).
const chunkBytes = 256 << 10

// chunkPrefix is the key prefix of the chunks of the batch fetched with
// serial.
func chunkPrefix(key, serial string) string {
	return key + "/batch/" + serial + "/"
}

// chunkKey is the key of the chunk whose first record is index i.
func chunkKey(prefix string, i int) string {
	return prefix + fmt.Sprintf("%04d", i)
}

// storeRecords writes the records of st (just fetched) into chunks and
// says in st where they are.
func (a *Adapter) storeRecords(ctx context.Context, h sdk.Host, key string, st *dlState) error {
	prefix := chunkPrefix(key, st.FetchSerial)
	st.Parts = nil
	var starts []int
	for i := 0; i < len(st.Records); {
		j, size := i, 0
		for j < len(st.Records) && (j == i || size+len(st.Records[j])+1 <= chunkBytes) {
			size += len(st.Records[j]) + 1
			j++
		}
		written, err := a.putChunk(ctx, h, prefix, st, i, j)
		if err != nil {
			return err
		}
		starts = append(starts, written...)
		i = j
	}
	st.Inline, st.ChunkPrefix, st.Chunks, st.RecordCount = nil, prefix, starts, len(st.Records)
	return nil
}

// putChunk writes records [i, j) of st as one chunk, or, when the host
// refuses a value that large, as two halves, and so on; it returns the
// first index of each chunk written.
func (a *Adapter) putChunk(ctx context.Context, h sdk.Host, prefix string, st *dlState, i, j int) ([]int, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for k := i; k < j; k++ {
		if k > i {
			b.WriteByte(',')
		}
		b.Write(st.Records[k])
	}
	b.WriteByte(']')
	_, err := h.Put(ctx, chunkKey(prefix, i), b.Bytes())
	switch {
	case err == nil:
		return []int{i}, nil
	case errors.Is(err, sdk.ErrTooLarge) && j-i > 1:
		m := i + (j-i)/2
		first, err := a.putChunk(ctx, h, prefix, st, i, m)
		if err != nil {
			return nil, err
		}
		rest, err := a.putChunk(ctx, h, prefix, st, m, j)
		return append(first, rest...), err
	case errors.Is(err, sdk.ErrTooLarge):
		if err := a.putParts(ctx, h, prefix, st, i); err != nil {
			return nil, err
		}
		return []int{i}, nil
	default:
		return nil, fmt.Errorf("store %s batch %s (records %d to %d): %w", st.Code, st.BatchNo, i+1, j, err)
	}
}

// minPartBytes is the smallest part a record is split into: a host that
// refuses values this small cannot keep a batch at all.
const minPartBytes = 1 << 10

// partKey is the key of part k of the record whose chunk key is ck.
func partKey(ck string, k int) string {
	return ck + "/" + fmt.Sprintf("%04d", k)
}

// putParts writes record i of st, which the host refuses as one state
// value, as consecutive parts of its bytes (chunk key, "/", part number),
// halving the part size until the host takes them, and records their
// count in st.Parts; loadRecords joins them again. A part refused at
// minPartBytes means a host that keeps nothing of this size.
func (a *Adapter) putParts(ctx context.Context, h sdk.Host, prefix string, st *dlState, i int) error {
	rec, ck := st.Records[i], chunkKey(prefix, i)
	for size := min(chunkBytes, (len(rec)+1)/2); ; size /= 2 {
		n, err := 0, error(nil)
		for off := 0; off < len(rec) && err == nil; off += size {
			_, err = h.Put(ctx, partKey(ck, n), rec[off:min(off+size, len(rec))])
			n++
		}
		switch {
		case err == nil:
			if st.Parts == nil {
				st.Parts = map[int]int{}
			}
			st.Parts[i] = n
			a.log.Info("a downloaded record larger than one state value was stored in parts", "code", st.Code, "batch", st.BatchNo,
				"record", i+1, "bytes", len(rec), "parts", n)
			return nil
		case !errors.Is(err, sdk.ErrTooLarge):
			return fmt.Errorf("store %s batch %s (record %d, part %d): %w", st.Code, st.BatchNo, i+1, n, err)
		case size/2 < minPartBytes:
			return &dlError{err: fmt.Errorf("record %d of %s batch %s (%d bytes) cannot be stored: the host refuses even parts of %d bytes; nothing of the batch was stored, "+
				"published or fed back, and the next run asks for it again (GYD008, GYR005); raise limits.stateValueBytes of the workinjury plugin (at least 262144, at most 4194304) and reload: %w",
				i+1, st.Code, st.BatchNo, len(rec), size, err)}
		}
	}
}

// loadRecords reads the records of the stored batch of st into st.Records:
// from its chunks, or from the state itself when it was written before
// batches were kept in chunks (Inline).
func (a *Adapter) loadRecords(ctx context.Context, h sdk.Host, st *dlState) error {
	if st.Inline != nil || st.ChunkPrefix == "" {
		st.Records = st.Inline
		return nil
	}
	recs := make([]json.RawMessage, 0, st.RecordCount)
	for _, i := range st.Chunks {
		k := chunkKey(st.ChunkPrefix, i)
		var part []json.RawMessage
		if n := st.Parts[i]; n > 0 {
			// One record, stored in parts (putParts).
			rec, err := a.joinParts(ctx, h, st, k, n)
			if err != nil {
				return err
			}
			part = []json.RawMessage{rec}
		} else {
			e, err := h.Get(ctx, k)
			if err != nil {
				// A stored batch always has its chunks (written before the
				// step moved to stored): their loss is a fault of the store.
				return fmt.Errorf("read %s batch %s: chunk %s: %w", st.Code, st.BatchNo, k, err)
			}
			if err := json.Unmarshal(e.Value, &part); err != nil {
				return fmt.Errorf("read %s batch %s: chunk %s is not readable JSON: %w", st.Code, st.BatchNo, k, err)
			}
		}
		if len(recs) != i {
			return fmt.Errorf("read %s batch %s: chunk %s starts at record %d, after %d records", st.Code, st.BatchNo, k, i, len(recs))
		}
		recs = append(recs, part...)
	}
	if len(recs) != st.RecordCount {
		return fmt.Errorf("read %s batch %s: its chunks hold %d records, the batch has %d", st.Code, st.BatchNo, len(recs), st.RecordCount)
	}
	st.Records = recs
	return nil
}

// joinParts reads the n parts of the record stored under chunk key ck
// (putParts) and returns the record.
func (a *Adapter) joinParts(ctx context.Context, h sdk.Host, st *dlState, ck string, n int) (json.RawMessage, error) {
	var rec []byte
	for p := range n {
		e, err := h.Get(ctx, partKey(ck, p))
		if err != nil {
			return nil, fmt.Errorf("read %s batch %s: part %d of %d of record %s: %w", st.Code, st.BatchNo, p+1, n, ck, err)
		}
		rec = append(rec, e.Value...)
	}
	if !json.Valid(rec) {
		return nil, fmt.Errorf("read %s batch %s: the %d parts of record %s do not join into readable JSON", st.Code, st.BatchNo, n, ck)
	}
	return rec, nil
}

// dropChunks removes the chunks under prefix (none: ""). It is called once
// no state names them; one that cannot be removed is left and logged.
func (a *Adapter) dropChunks(ctx context.Context, h sdk.Host, prefix string) {
	if prefix == "" {
		return
	}
	es, err := h.Scan(ctx, prefix, 0)
	if err != nil {
		a.log.Warn("cannot list the chunks of a finished download batch; they stay in the store", "prefix", prefix, "err", err)
		return
	}
	for _, e := range es {
		if err := h.Delete(ctx, e.Key); err != nil {
			a.log.Warn("cannot remove a chunk of a finished download batch; it stays in the store", "key", e.Key, "err", err)
		}
	}
}
