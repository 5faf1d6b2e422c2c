package simspec

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/medgate/medgate/schemas"
)

// agreementSystems are the systems whose embedded schemas both validators
// are run over.
var agreementSystems = []string{"workinjury", "tracecode", "hsa", "selfpay", "ecard"}

// knownDisagreements are the cases where simspec and the schemas package
// judge a document differently, by "system/code side: case"; each is a
// finding reported to the schemas package's owners (see the comment at
// each). The test fails when one appears that is not listed, or when a
// listed one is gone, so that the list stays true.
var knownDisagreements = map[string]string{}

// TestAgreesWithSchemasPackage runs both validators over the example
// document of every embedded schema, over variants of it that break one
// rule each, and over the golden requests of transforms/testdata, and
// compares what each refuses (path and rule).
func TestAgreesWithSchemasPackage(t *testing.T) {
	t.Parallel()
	base, err := RepoFiles()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := Load(base, agreementSystems...)
	if err != nil {
		t.Fatal(err)
	}
	theirs := schemas.Embedded()
	got := map[string]string{}
	compare := func(key string, tx *Tx, sc *schemas.Schema, side string, doc any) {
		var a []Violation
		var b []schemas.FieldError
		if side == "input" {
			a, b = tx.CheckInput(doc), sc.ValidateInput(doc)
		} else {
			a, b = tx.CheckOutput(doc), sc.ValidateOutput(doc)
		}
		var as, bs []string
		for _, v := range a {
			as = append(as, v.Path+" "+v.Rule)
		}
		for _, v := range b {
			bs = append(bs, v.Path+" "+v.Rule)
		}
		sort.Strings(as)
		sort.Strings(bs)
		as, bs = slices.Compact(as), slices.Compact(bs)
		if !slices.Equal(as, bs) {
			got[key] = fmt.Sprintf("simspec %v, schemas %v", as, bs)
		}
	}
	n := 0
	for _, sys := range agreementSystems {
		for _, sc := range theirs.List(sys) {
			tx, ok := mine.Tx(sys, sc.Code)
			if !ok {
				t.Errorf("%s/%s: not loaded by simspec", sys, sc.Code)
				continue
			}
			// Platform-only fields never reach the external system (the
			// adapter strips them): both judge what is sent.
			for side, fields := range map[string][]schemas.Field{"input": national(sc.Input), "output": sc.Output} {
				example := exampleOf(fields)
				compare(sys+"/"+sc.Code+" "+side+": example", tx, sc, side, example)
				n++
				batch := ""
				if bs, path := sc.BatchPath(); bs == side {
					batch = "$." + strings.Join(path, ".")
				}
				for _, m := range mutations(fields, example, "$", batch, sc.BatchLimit) {
					compare(sys+"/"+sc.Code+" "+side+": "+m.name, tx, sc, side, m.doc)
					n++
				}
			}
		}
	}
	golden, _ := filepath.Glob("../../../transforms/testdata/demo/*/*/*.out.json")
	for _, p := range golden {
		dir := filepath.Base(filepath.Dir(p))
		sys, code, _ := strings.Cut(dir, ".")
		sc, ok := theirs.Get(sys, code)
		tx, ok2 := mine.Tx(sys, code)
		if !ok || !ok2 {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if m, ok := doc.(map[string]any); ok {
			sc.StripPlatformOnly(m) // as the adapter does before sending
		}
		compare(sys+"/"+code+" input: golden "+filepath.Base(p), tx, sc, "input", doc)
		n++
	}
	if n < 1000 || len(golden) == 0 {
		t.Fatalf("only %d documents and %d golden requests compared; the test lost its data", n, len(golden))
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, listed := knownDisagreements[k]; !listed {
			t.Errorf("%s: %s", k, got[k])
		}
	}
	for k := range knownDisagreements {
		if _, still := got[k]; !still {
			t.Errorf("%s: listed as a disagreement, but both validators now agree; drop it from knownDisagreements", k)
		}
	}
}

// national returns fields without the platform-only ones, at any depth:
// the fields of what is sent to the external system.
func national(fields []schemas.Field) []schemas.Field {
	var out []schemas.Field
	for _, f := range fields {
		if f.PlatformOnly {
			continue
		}
		f.Fields = national(f.Fields)
		out = append(out, f)
	}
	return out
}

// exampleOf builds a document from the fields' examples, as JSON would
// decode it.
func exampleOf(fields []schemas.Field) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		switch f.Type.Kind {
		case schemas.KindObject:
			out[f.Name] = exampleOf(f.Fields)
		case schemas.KindArray:
			out[f.Name] = []any{exampleOf(f.Fields)}
		default:
			if f.Example == nil {
				continue
			}
			switch v := f.Example.(type) {
			case string:
				out[f.Name] = v
			case bool:
				out[f.Name] = v
			default:
				out[f.Name] = json.Number(fmt.Sprint(v))
			}
		}
	}
	return out
}

type mutation struct {
	name string
	doc  map[string]any
}

// mutations returns copies of doc (built by exampleOf from fields) with
// one value of fields, or of the first item of an array, changed to one
// that tries a rule.
// batch is the path of the side's batch array ("$.fee") and limit its
// batch limit.
func mutations(fields []schemas.Field, doc map[string]any, at, batch string, limit int) []mutation {
	var out []mutation
	for _, f := range fields {
		p := at + "." + f.Name
		set := func(what string, v any, remove bool) {
			c := cloneDoc(doc)
			if remove {
				delete(c, f.Name)
			} else {
				c[f.Name] = v
			}
			out = append(out, mutation{p + " " + what, c})
		}
		set("missing", nil, true)
		set("null", nil, false)
		set("empty", "", false)
		// White space alone: a required field's value is missing, an
		// optional one's is judged by its type; U+200D is content.
		for _, b := range blankTries {
			set(fmt.Sprintf("= %+q", b), b, false)
		}
		set("unknown sibling", nil, false)
		out[len(out)-1].doc = cloneDoc(doc)
		out[len(out)-1].doc[f.Name+"_x"] = "x"
		switch f.Type.Kind {
		case schemas.KindObject:
			sub, _ := doc[f.Name].(map[string]any)
			for _, m := range mutations(f.Fields, sub, p, batch, limit) {
				c := cloneDoc(doc)
				c[f.Name] = m.doc
				out = append(out, mutation{m.name, c})
			}
			set("not an object", "x", false)
		case schemas.KindArray:
			items, _ := doc[f.Name].([]any)
			first, _ := items[0].(map[string]any)
			for _, m := range mutations(f.Fields, first, p+"[0]", batch, limit) {
				c := cloneDoc(doc)
				c[f.Name] = []any{m.doc}
				out = append(out, mutation{m.name, c})
			}
			set("no items", []any{}, false)
			// Around each bound: minItems, maxItems, the batch limit.
			n := 0
			if p == batch {
				n = limit
			}
			for _, k := range bounds(f.MinItems, f.MaxItems, n) {
				many := make([]any, k)
				for i := range many {
					many[i] = first
				}
				set(fmt.Sprintf("%d items", k), many, false)
			}
			set("item not an object", []any{"x"}, false)
			set("not an array", first, false)
		default:
			for _, v := range scalarTries(f) {
				set(fmt.Sprintf("= %#v", v), v, false)
			}
		}
	}
	return out
}

// blankTries are values of white space alone (ASCII, full-width U+3000,
// tabs and line breaks, no-break, zero-width and BOM, a line separator),
// and a zero-width joiner, which is not white space.
var blankTries = []string{" ", "\u3000\u3000", "\t\r\n", "\u00a0", "\u200b\ufeff", "\u2028", "\u200d"}

// scalarTries are values that try the rules of a scalar field.
func scalarTries(f schemas.Field) []any {
	out := []any{json.Number("12"), true, []any{}, map[string]any{}, "x"}
	if n := f.MaxLength; n > 0 {
		out = append(out, strings.Repeat("a", n), strings.Repeat("a", n+1), strings.Repeat("张", n), strings.Repeat("张", n+1),
			strings.Repeat("张", n/3), strings.Repeat("张", n/3+1), strings.Repeat("9", n), strings.Repeat("9", n+1),
			json.Number(strings.Repeat("9", n)), json.Number(strings.Repeat("9", n+1)))
	}
	switch f.Type.Kind {
	case schemas.KindInteger, schemas.KindDecimal:
		out = append(out, "12.5", "-0.50", "12.50", "1.234", "1.2345", "1.23456789", "00012", "+1", "1e2", " 1", "1,5", "12.",
			".5", json.Number("1e2"), json.Number("1.5e-1"), json.Number("-0"), json.Number("1.0"), json.Number("0.10"),
			json.Number("123456789012345.5"), json.Number("12345678901234567"), json.Number("9999999999999999.99"), 0.1, 1e20, 12.0)
	case schemas.KindDate, schemas.KindDateTime:
		out = append(out, "2026-02-03", "2026-02-30", "2026-2-3", "20260203", "2026-02-03 10:00:00", "2026-02-03T10:00:00",
			"2026-02-03 10:00:00.5", "2026-02-03 24:00:00", "20260203100000", " 2026-02-03", "2026-02-03 10:00")
	case schemas.KindEnum:
		for c := range f.Codes {
			out = append(out, c, c+" ", " "+c)
			break
		}
		out = append(out, "ZZ", "0", "1", "01", "99")
	}
	return out
}

func cloneDoc(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// bounds returns the item counts just inside and just outside each
// non-zero bound.
func bounds(ns ...int) []int {
	var out []int
	for _, n := range ns {
		if n > 0 {
			out = append(out, n-1, n, n+1)
		}
	}
	return out
}
