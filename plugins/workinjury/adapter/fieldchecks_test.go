package adapter

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// withRequestCount counts every HTTP request that reaches the simulator.
func withRequestCount(n *atomic.Int64) envOption {
	return func(c *envConfig) {
		c.wrap = func(next http.Handler, _ smenvelope.Options, _ wisim.KeyPair) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				next.ServeHTTP(w, r)
			})
		}
	}
}

// fieldCase is one field of a transaction's input, reached through
// objects and the first item of arrays, as the schema's example input
// holds them.
type fieldCase struct {
	path  string   // JSON path as the validator writes it: $.fee[0].qty
	steps []string // keys; "[0]" for the first item of an array
	field *schemas.Field
}

// inputFields lists every input field of sc, nested ones included.
func inputFields(sc *schemas.Schema) []fieldCase {
	var out []fieldCase
	var walk func(fields []schemas.Field, path string, steps []string)
	walk = func(fields []schemas.Field, path string, steps []string) {
		for i := range fields {
			f := &fields[i]
			p, s := path+"."+f.Name, append(append([]string(nil), steps...), f.Name)
			out = append(out, fieldCase{path: p, steps: s, field: f})
			switch f.Type.Kind {
			case schemas.KindObject:
				walk(f.Fields, p, s)
			case schemas.KindArray:
				walk(f.Fields, p+"[0]", append(s, "[0]"))
			}
		}
	}
	walk(sc.Input, "$", nil)
	return out
}

// deepCopy copies a JSON document built of maps and slices.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// edit returns a copy of doc with the field at steps deleted (del) or
// set to v.
func edit(doc map[string]any, steps []string, del bool, v any) map[string]any {
	out := deepCopy(doc).(map[string]any)
	var cur any = out
	for i, s := range steps {
		last := i == len(steps)-1
		if s == "[0]" {
			cur = cur.([]any)[0]
			continue
		}
		m := cur.(map[string]any)
		if last {
			if del {
				delete(m, s)
			} else {
				m[s] = v
			}
			return out
		}
		cur = m[s]
	}
	return out
}

// maxTestedLength is the longest limit tested: a longer value would not
// fit in one message.
const maxTestedLength = 1 << 20

// tooLong returns a value one longer than f allows, and the rule the
// validator names for it; ok is false when f has no length limit.
func tooLong(f *schemas.Field) (v any, rule string, ok bool) {
	switch f.Type.Kind {
	case schemas.KindString, schemas.KindEnum, schemas.KindDate, schemas.KindDateTime:
		if f.MaxLength <= 0 {
			return nil, "", false
		}
		// A Chinese character is one char and three bytes: over the
		// limit in either unit.
		return strings.Repeat("字", f.MaxLength+1), schemas.RuleLength, true
	case schemas.KindInteger:
		if f.MaxLength <= 0 {
			return nil, "", false
		}
		return json.Number("1" + strings.Repeat("0", f.MaxLength)), schemas.RuleLength, true
	case schemas.KindDecimal:
		// Decimals are bounded by their precision: one integer digit too many.
		return json.Number("1" + strings.Repeat("0", f.Type.Precision-f.Type.Scale)), schemas.RuleType, true
	}
	return nil, "", false
}

// TestEveryFieldCheckedBeforeSending: for every transaction's input schema,
// generated from the schema files so that new fields are covered by
// themselves, a message that lacks one required field, or carries one field
// longer than the schema allows, is refused by the adapter (invalid, with
// the field's path, the rule and what to do) and no HTTP request reaches
// the national system – not even the filing verification (GYD051) that the
// business rules of an admission, settlement or card check would ask.
func TestEveryFieldCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	e := newEnv(t, withRequestCount(&requests))
	c, err := e.impl.site(testSite)
	if err != nil {
		t.Fatal(err)
	}
	list := schemas.Embedded().List(Name)
	if len(list) != 39 {
		t.Fatalf("%d work-injury schemas, want the 39 transactions", len(list))
	}
	cases := 0
	for _, sc := range list {
		base := sc.ExampleInput()
		if errs := sc.ValidateInput(base); len(errs) > 0 {
			t.Fatalf("%s: the schema's example input is not valid itself: %v", sc.Code, errs)
		}
		for _, fc := range inputFields(sc) {
			type variant struct {
				name string
				doc  map[string]any
				rule string
			}
			var vs []variant
			if fc.field.Required {
				doc := edit(base, fc.steps, true, nil)
				// A field the adapter fills in itself when it is missing
				// (GYU000's aab301 and aae036, GYD001's and GYD006's
				// aab299) is not refused: the README documents those.
				probe := deepCopy(doc).(map[string]any)
				if len(fc.steps) == 1 && e.impl.defaults(c, sc.Code, probe) && probe[fc.steps[0]] != nil {
					t.Logf("%s %s: filled in by the adapter when missing", sc.Code, fc.path)
				} else {
					vs = append(vs, variant{"missing", doc, schemas.RuleRequired})
				}
			}
			if fc.field.MaxLength > maxTestedLength {
				// GYU002's file_content (14,000,000 bytes): the host
				// refuses a message that large before any plugin sees it
				// (processing.maxPayloadBytes).
				t.Logf("%s %s: limit %d is beyond any message the host takes", sc.Code, fc.path, fc.field.MaxLength)
			} else if v, rule, ok := tooLong(fc.field); ok {
				vs = append(vs, variant{"too long", edit(base, fc.steps, false, v), rule})
			}
			for _, v := range vs {
				cases++
				before := requests.Load()
				r := e.send(sc.Code, v.doc)
				if r.Status != sdk.StatusInvalid {
					t.Errorf("%s %s %s: status %s, want invalid (%s)", sc.Code, fc.path, v.name, r.Status, r.Diagnostics)
				}
				if n := requests.Load() - before; n != 0 {
					t.Errorf("%s %s %s: %d HTTP request(s) reached the national system; an invalid message sends nothing", sc.Code, fc.path, v.name, n)
				}
				var found *sdk.Diagnostic
				for i, d := range r.Diagnostics {
					if d.Field == fc.path && d.Rule == v.rule {
						found = &r.Diagnostics[i]
					}
				}
				if found == nil {
					t.Errorf("%s %s %s: no %q error on %s: %v", sc.Code, fc.path, v.name, v.rule, fc.path, fields(r))
					continue
				}
				text := found.Summary + " " + found.Detail
				if !strings.Contains(text, "("+fc.field.Name+")") && !strings.HasPrefix(text, fc.field.Name) {
					t.Errorf("%s %s %s: the message does not name the field: %q", sc.Code, fc.path, v.name, text)
				}
				if v.rule == schemas.RuleLength && !strings.Contains(text, fmt.Sprint(fc.field.MaxLength)) {
					t.Errorf("%s %s %s: the message does not say the limit %d: %q", sc.Code, fc.path, v.name, fc.field.MaxLength, text)
				}
				if !containsAny(found.Detail, "correct "+fc.path) || !strings.Contains(found.Detail, sc.Code+".yaml") {
					t.Errorf("%s %s %s: the error does not say how to fix it (correct the path, the schema file): %q", sc.Code, fc.path, v.name, found.Detail)
				}
			}
		}
	}
	if cases < 39 {
		t.Fatalf("only %d cases generated", cases)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d HTTP requests reached the national system in all", n)
	}
	if got := maps.Collect(func(yield func(string, int) bool) {
		for _, x := range e.host.Exchanges() {
			if !yield(x.Exchange.Code, 1) {
				return
			}
		}
	}); len(got) != 0 {
		t.Fatalf("exchanges journaled: %v", got)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// TestEveryBatchLimitCheckedBeforeSending: for every transaction whose
// input schema declares a batch limit (500; 10 for GYU002), a message one
// item over it is refused (rule batch on the array's path, naming the
// limit) and nothing reaches the national system; one at the limit is not
// refused for its size.
func TestEveryBatchLimitCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	e := newEnv(t, withRequestCount(&requests))
	tested := 0
	for _, sc := range schemas.Embedded().List(Name) {
		side, path := sc.BatchPath()
		if side != "input" {
			continue
		}
		tested++
		t.Logf("%s: batch limit %d on %s", sc.Code, sc.BatchLimit, sc.BatchField)
		base := sc.ExampleInput()
		steps := path
		jsonPath := "$." + strings.Join(path, ".")
		// The example holds one item: repeat it.
		var item any = base
		for _, s := range steps {
			item = item.(map[string]any)[s]
		}
		one := item.([]any)[0]
		for _, n := range []int{sc.BatchLimit, sc.BatchLimit + 1} {
			items := make([]any, n)
			for i := range items {
				items[i] = deepCopy(one)
			}
			before := requests.Load()
			r := e.send(sc.Code, edit(base, steps, false, items))
			over := hasField(r, jsonPath, schemas.RuleBatch)
			if n <= sc.BatchLimit {
				if over {
					t.Errorf("%s with %d items (the limit): refused for its size: %s", sc.Code, n, r.Diagnostics)
				}
				continue
			}
			if r.Status != sdk.StatusInvalid || !over {
				t.Errorf("%s with %d items: status %s, %v; want invalid with %s:%s", sc.Code, n, r.Status, fields(r), jsonPath, schemas.RuleBatch)
				continue
			}
			if sent := requests.Load() - before; sent != 0 {
				t.Errorf("%s with %d items: %d HTTP request(s) reached the national system", sc.Code, n, sent)
			}
			for _, d := range r.Diagnostics {
				if d.Field == jsonPath && d.Rule == schemas.RuleBatch && !strings.Contains(d.Summary, fmt.Sprint(sc.BatchLimit)) {
					t.Errorf("%s: the batch error does not name the limit %d: %q", sc.Code, sc.BatchLimit, d.Summary)
				}
			}
		}
	}
	if tested == 0 {
		t.Fatal("no input schema declares a batch limit")
	}
}
