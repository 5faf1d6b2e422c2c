package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

var rules = []string{RuleRequired, RuleLength, RuleType, RuleEnum, RuleFormat, RuleBatch, RuleUnknown, RulePattern}

func fuzzSchemas(tb testing.TB) []*Schema {
	tb.Helper()
	return append(Embedded().List(""), testSet(tb).List("")...)
}

// FuzzValidate feeds arbitrary JSON to every schema's validator. It must
// never panic, must be deterministic, must only use known rules and must
// report errors sorted by path.
func FuzzValidate(f *testing.F) {
	all := fuzzSchemas(f)
	for i, s := range all {
		for _, doc := range []map[string]any{s.ExampleInput(), s.ExampleOutput()} {
			b, err := json.Marshal(doc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), b)
		}
	}
	for _, seed := range []string{
		`{"fee": [{"qty": 1e999999999}, {"qty": -0.0e-5}, {"qty": "1.0000000000000000000000001"}]}`,
		`{"name": "\u0000\ud800", "fee": [null, [], {}, "x", 1]}`,
		`{"fee": ` + fees(12) + `}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`"just a string"`, `null`, `12`, `{}`,
		// White space alone, in required and optional fields of every kind.
		`{"name": "\u3000 \t", "nameb": " ", "code": "\u00a0", "count": " ", "day": "\ufeff", "flag": " ", "patient": " ", "fee": [{"qty": "\u200b", "item": "\r\n"}]}`,
		`{"name": " 张三\u3000", "patient": {"id": "\u3000"}, "fee": " "}`,
	} {
		f.Add(uint8(len(all)-3), []byte(seed)) // T001
	}
	// More seeds are in testdata/fuzz/FuzzValidate; pick indexes Embedded().List("")
	// followed by the test schemas T001, T002, T003.
	f.Fuzz(func(t *testing.T, pick uint8, data []byte) {
		s := all[int(pick)%len(all)]
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			doc = string(data)
		}
		for _, validate := range []func(any, ...ValidateOptions) []FieldError{s.ValidateInput, s.ValidateOutput} {
			got := validate(doc)
			if again := validate(doc); !cmp.Equal(got, again) {
				t.Fatalf("not deterministic:\n%v\n%v", got, again)
			}
			for _, e := range got {
				if !strings.HasPrefix(e.Path, "$") || !slices.Contains(rules, e.Rule) || e.Message == "" {
					t.Fatalf("malformed error %#v", e)
				}
			}
			// AllowUnknown drops exactly the unknown-field errors.
			var known []FieldError
			for _, e := range got {
				if e.Rule != RuleUnknown {
					known = append(known, e)
				}
			}
			if diff := cmp.Diff(known, validate(doc, ValidateOptions{AllowUnknown: true})); diff != "" {
				t.Fatalf("AllowUnknown (-want +got):\n%s", diff)
			}
		}
	})
}

// FuzzLoad feeds arbitrary bytes to the loader as a schema file and as a
// code table file. It must never panic, must explain every failure with a
// located problem, and whatever it accepts must survive WriteYAML.
func FuzzLoad(f *testing.F) {
	err := fs.WalkDir(EmbeddedFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(EmbeddedFS(), p)
		if err != nil {
			return err
		}
		f.Add(data, strings.Contains(p, "/codes/"))
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range brokenFS {
		f.Add(file.Data, false)
	}
	f.Add([]byte("code: GYU000\nname: x\nsystem: workinjury\ndirection: query\nsource: s\ninput:\n"+strings.Repeat("  - name: a\n    type: object\n    fields:\n", 20)), false)
	f.Add([]byte("a: &a [*a, *a]\n"), false)
	f.Add([]byte("\xff\xfe"), true)
	f.Fuzz(func(t *testing.T, data []byte, asCodes bool) {
		path := "workinjury/GYU000.yaml"
		if asCodes {
			path = "workinjury/codes/certType.yaml"
		}
		fsys := fstest.MapFS{path: {Data: data}}
		for _, load := range []func() (*Set, error){
			func() (*Set, error) { return Load(fsys) },
			func() (*Set, error) { return Embedded().OverlayFS(fsys) },
		} {
			set, err := load()
			if err != nil {
				var le *LoadError
				if !errors.As(err, &le) || len(le.Problems) == 0 {
					t.Fatalf("error is not a *LoadError with problems: %v", err)
				}
				for _, p := range le.Problems {
					if p.File == "" || p.Reason == "" {
						t.Fatalf("problem without file or reason: %#v", p)
					}
				}
				continue
			}
			for _, s := range set.List("") {
				if s.File != path {
					continue // only the fuzzed file is new
				}
				var buf bytes.Buffer
				if err := WriteYAML(&buf, s); err != nil {
					t.Fatalf("WriteYAML: %v", err)
				}
				back, err := Embedded().OverlayFS(fstest.MapFS{s.System + "/" + s.Code + ".yaml": {Data: buf.Bytes()}})
				if err != nil {
					t.Fatalf("accepted schema does not reload after WriteYAML: %v\n%s", err, buf.String())
				}
				if _, ok := back.Get(s.System, s.Code); !ok {
					t.Fatalf("%s lost in round trip", s.Code)
				}
			}
		}
	})
}
