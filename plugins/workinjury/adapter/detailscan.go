package adapter

import (
	"bytes"
	"container/list"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/medgate/medgate/plugins/internal/jsonscan"
	"github.com/medgate/medgate/plugins/sdk"
)

// uploadedAmong returns which of the detail numbers in nos a visit already
// has (revoked lines included), for the rule unique-detail-no. It reads
// the visit's maps (both layouts, see detailsKey) but keeps only their
// detail numbers: each map is scanned for its keys in one pass, without
// decoding its values, and the numbers are kept in l.a.seen by key and
// version. The scan tells the host which maps the plugin holds
// (sdk.ScanKnown), and the host sends only the others: the map the last
// call of the stay wrote, rather than every map of the stay each time
// (the 20th GYU102 of a stay read 465 KB through the host before).
func (l *lifecycle) uploadedAmong(ykc700 string, nos map[string]struct{}) (map[string]bool, error) {
	base := detailsKey(ykc700)
	site := l.c.code
	held := l.a.seen.held(site, base)
	var known map[string]int64
	if len(held) > 0 {
		known = make(map[string]int64, len(held))
		for k, sm := range held {
			known[k] = sm.version
		}
	}
	es, err := sdk.ScanKnown(l.ctx, l.h, base, 0, known)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", base, err)
	}
	hits := map[string]bool{}
	see := func(k []byte) {
		if _, ok := nos[string(k)]; ok {
			hits[string(k)] = true
		}
	}
	for _, e := range es {
		if e.Key != base && !strings.HasPrefix(e.Key, base+"/") {
			continue // another visit whose number starts with this one
		}
		if sm := held[e.Key]; sm != nil && sm.version == e.Version {
			sm.each(see) // held: the host may have left the value out
			continue
		}
		var list []byte // the map's numbers, for l.a.seen
		keep := func(k []byte) {
			see(k)
			list = append(append(list, k...), 0)
		}
		if !objectKeys(e.Value, keep) {
			// Not in the form json.Marshal writes (escapes, other values):
			// encoding/json reads it, and refuses it if it is not JSON.
			var m map[string]struct{}
			if err := json.Unmarshal(e.Value, &m); err != nil {
				return nil, fmt.Errorf("state %s is not readable JSON: %w", e.Key, err)
			}
			list = list[:0]
			nul := false
			for no := range m {
				keep([]byte(no))
				nul = nul || strings.IndexByte(no, 0) >= 0
			}
			if nul {
				continue // not kept: 0 separates the numbers held
			}
		}
		l.a.seen.put(site, base, e.Key, e.Version, list)
	}
	return hits, nil
}

// seenDetailsBytes bounds the detail numbers seenDetails keeps: about 400
// GYU102 calls of 500 lines (20 stays of 20 calls), the least recently
// used dropped first. A map dropped is read again from the host when its
// stay's next call comes.
const seenDetailsBytes = 4 << 20

// seenDetails keeps the detail numbers of the visit detail maps
// uploadedAmong has read, by site, state key and version, so that the
// next call of the stay asks the host only for the maps written since.
// A detail map's key names the GYU102 that wrote it and is never deleted,
// so a key at a version has one set of numbers (sdk.ScanKnown). The maps
// are grouped by the prefix they were read under (a stay), so a call
// looks at its stay's maps only, however many stays are held.
type seenDetails struct {
	mu     sync.Mutex
	groups map[seenKey]map[string]*list.Element // (site, prefix) → key → *seenMap
	lru    list.List                            // most recently used first
	bytes  int                                  // numbers held, plus seenEntryBytes per map
}

// seenEntryBytes is what a held map costs besides its numbers (list
// element, seenMap, map entries), counted against seenDetailsBytes so that
// many small maps stay bounded too.
const seenEntryBytes = 160

type seenKey struct{ site, key string }

type seenMap struct {
	group   seenKey // site and the prefix it was read under
	key     string
	version int64
	nos     []byte // the detail numbers, each followed by a 0 byte
}

func (sm *seenMap) size() int { return len(sm.nos) + seenEntryBytes }

// held returns the maps of site read under prefix that are held, by key,
// and marks them used. A seenMap is never changed once kept.
func (s *seenDetails) held(site, prefix string) map[string]*seenMap {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[seenKey{site, prefix}]
	if len(g) == 0 {
		return nil
	}
	out := make(map[string]*seenMap, len(g))
	for k, el := range g {
		out[k] = el.Value.(*seenMap)
		s.lru.MoveToFront(el)
	}
	return out
}

// each calls fn with each detail number of the map.
func (sm *seenMap) each(fn func(no []byte)) {
	for nos := sm.nos; len(nos) > 0; {
		i := bytes.IndexByte(nos, 0)
		fn(nos[:i])
		nos = nos[i+1:]
	}
}

// put keeps the numbers of the map key of site, read under prefix, at
// version.
func (s *seenDetails) put(site, prefix, key string, version int64, nos []byte) {
	if len(nos) > seenDetailsBytes/8 {
		return
	}
	gk := seenKey{site, prefix}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[seenKey]map[string]*list.Element{}
	}
	g := s.groups[gk]
	if g == nil {
		g = map[string]*list.Element{}
		s.groups[gk] = g
	}
	if el := g[key]; el != nil {
		s.bytes -= el.Value.(*seenMap).size()
		s.lru.Remove(el)
	}
	sm := &seenMap{group: gk, key: key, version: version, nos: nos}
	g[key] = s.lru.PushFront(sm)
	s.bytes += sm.size()
	for s.bytes > seenDetailsBytes {
		el := s.lru.Back()
		old := el.Value.(*seenMap)
		s.lru.Remove(el)
		og := s.groups[old.group]
		delete(og, old.key)
		if len(og) == 0 {
			delete(s.groups, old.group)
		}
		s.bytes -= old.size()
	}
}

// len returns how many maps are held.
func (s *seenDetails) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.groups {
		n += len(g)
	}
	return n
}

// objectKeys calls fn with each member name of b, a JSON object whose
// members are flat objects (a visitDetails as json.Marshal writes it), and
// reports true. It accepts only a subset of JSON: names and strings
// without escapes and in ASCII, member values that are objects of strings,
// numbers, true, false and null. For anything else it returns false
// (fn may have been called for some names), and the caller decodes b with
// encoding/json, which also rejects what is not JSON.
func objectKeys(b []byte, fn func(name []byte)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		name, j, ok := asciiString(b, i)
		if !ok {
			return false
		}
		if i = skipWS(b, j); i >= len(b) || b[i] != ':' {
			return false
		}
		if i, ok = flatObject(b, skipWS(b, i+1)); !ok {
			return false
		}
		fn(name)
		if i = skipWS(b, i); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// flatObject skips the object at b[i] whose members are scalars and returns
// the index after it.
func flatObject(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		_, j, ok := asciiString(b, i)
		if !ok {
			return 0, false
		}
		if i = skipWS(b, j); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		if i = skipWS(b, i+1); i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '"':
			if _, i, ok = asciiString(b, i); !ok {
				return 0, false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if i, ok = jsonscan.NumberEnd(b, i); !ok {
				return 0, false
			}
		case bytes.HasPrefix(b[i:], []byte("true")), bytes.HasPrefix(b[i:], []byte("null")):
			i += 4
		case bytes.HasPrefix(b[i:], []byte("false")):
			i += 5
		default:
			return 0, false
		}
		if i = skipWS(b, i); i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// asciiString returns the contents of the JSON string at b[i] when it is
// printable ASCII without escapes, and the index after it.
func asciiString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, 0, false
		}
	}
	return nil, 0, false
}
