package workinjury

import (
	"context"
	"fmt"
	"maps"
	"sync"
)

// FaultKind is a way the simulator misbehaves.
type FaultKind string

// Fault kinds. Those marked "not processed" strike before the transaction
// runs; "processed" ones after it ran (its effects and its GYD053 record
// exist), which is the case medgate must reconcile before any resend.
const (
	// FaultTimeout: no answer until the client gives up (not processed; with
	// After: processed).
	FaultTimeout FaultKind = "timeout"
	// Fault5xx: HTTP 503 (not processed).
	Fault5xx FaultKind = "5xx"
	// FaultGarbage: HTTP 200 with a body that is not an envelope (not processed).
	FaultGarbage FaultKind = "garbage"
	// FaultUnsigned: an error response without data and signature (not processed).
	FaultUnsigned FaultKind = "unsigned"
	// FaultBusiness: a signed business error ErrCode/ErrMessage (not
	// processed; GYD053 reports it as failed).
	FaultBusiness FaultKind = "business"
	// FaultBadSignature: processed; the answer's signature does not verify.
	FaultBadSignature FaultKind = "badSignature"
	// FaultLostReply: processed ("success but lost reply"); HTTP 502.
	FaultLostReply FaultKind = "lostReply"
	// FaultOversize: processed; the signed answer of a download carries
	// more than MaxBatch records (copies of its first record under new
	// record ids), which the requirements never allow: a national system
	// breaking its own batch limit.
	FaultOversize FaultKind = "oversize"
	// FaultOmit: processed; the signed answer lacks the output fields
	// named in Omit (GYD053 still reports the complete output).
	FaultOmit FaultKind = "omit"
	// FaultAlter: processed; the signed answer carries the values of Set
	// in place of its own fields (GYD053 still reports the true output):
	// a national system that answers, correctly signed, about another
	// record than the one asked for (another attachment, another card
	// holder) or with a field that contradicts the rest (a file_size
	// that is not its content's).
	FaultAlter FaultKind = "alter"
	// FaultHold: the request blocks (before processing, or after it with
	// After) until Release or until the client goes away.
	FaultHold FaultKind = "hold"
)

// Fault describes an injected misbehaviour.
type Fault struct {
	// Code is the transaction code it applies to; "" means every code.
	Code string
	Kind FaultKind
	// Times is how many requests it strikes: 0 means 1, negative means
	// every matching request until cleared.
	Times int
	// After applies FaultTimeout and FaultHold after processing.
	After bool
	// Match, if set, restricts the fault to inputs it accepts.
	Match func(input map[string]any) bool
	// ErrCode and ErrMessage are the answer of FaultBusiness and
	// FaultUnsigned.
	ErrCode, ErrMessage string
	// Omit names the output fields FaultOmit leaves out of the answer.
	Omit []string
	// Set are the output fields FaultAlter puts into the answer.
	Set map[string]any
}

// Injected is an active fault.
type Injected struct {
	f       Fault
	mu      sync.Mutex
	left    int
	hits    int
	reached chan struct{}
	once    sync.Once
	release chan struct{}
	relOnce sync.Once
}

// Inject adds a fault; faults are tried in the order injected.
func (s *Server) Inject(f Fault) *Injected {
	left := f.Times
	if left == 0 {
		left = 1
	}
	in := &Injected{f: f, left: left, reached: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.faults = append(s.faults, in)
	s.mu.Unlock()
	return in
}

// ClearFaults removes every fault and releases every hold.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	fs := s.faults
	s.faults = nil
	s.mu.Unlock()
	for _, f := range fs {
		f.Release()
	}
}

// Reached is closed when the fault first strikes (for a hold: when a
// request is blocked on it).
func (in *Injected) Reached() <-chan struct{} { return in.reached }

// Release lets held requests go on (and ends a FaultTimeout wait).
func (in *Injected) Release() { in.relOnce.Do(func() { close(in.release) }) }

// Hits counts the requests the fault struck.
func (in *Injected) Hits() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.hits
}

// wait blocks a held request; it returns false when the client went away.
func (in *Injected) wait(ctx context.Context) bool {
	select {
	case <-in.release:
		return true
	case <-ctx.Done():
		return false
	}
}

// fault returns the first active fault for code and phase, counting it.
func (s *Server) fault(code string, input map[string]any, after bool) *Injected {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.faults {
		f := in.f
		if f.Code != "" && f.Code != code {
			continue
		}
		phaseAfter := f.Kind == FaultLostReply || f.Kind == FaultBadSignature || f.Kind == FaultOversize || f.Kind == FaultOmit || f.Kind == FaultAlter ||
			((f.Kind == FaultTimeout || f.Kind == FaultHold) && f.After)
		if phaseAfter != after {
			continue
		}
		if f.Match != nil && !f.Match(input) {
			continue
		}
		in.mu.Lock()
		if in.left == 0 {
			in.mu.Unlock()
			continue
		}
		if in.left > 0 {
			in.left--
		}
		in.hits++
		in.mu.Unlock()
		in.once.Do(func() { close(in.reached) })
		return in
	}
	return nil
}

// oversize pads the records of a download answer to MaxBatch+1 with copies
// of its first record under new record ids.
func oversize(code string, out map[string]any) map[string]any {
	recs, _ := out["records"].([]any)
	if len(recs) == 0 {
		return out
	}
	tmpl, _ := recs[0].(map[string]any)
	padded := append([]any(nil), recs...)
	for i := 1; len(padded) <= MaxBatch; i++ {
		c := maps.Clone(tmpl)
		c[recordID[code]] = fmt.Sprintf("%.24sX%05d", str(tmpl, recordID[code]), i)
		padded = append(padded, c)
	}
	res := maps.Clone(out)
	res["records"], res["record_count"] = padded, len(padded)
	return res
}
