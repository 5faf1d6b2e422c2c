package transforms

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// addExampleInputs seeds a fuzzer with the golden inputs of one format (the
// corpus in testdata/fuzz/<Fuzzer> adds hand-made edge cases).
func addExampleInputs(f *testing.F, suffix string) {
	f.Helper()
	exs, err := Examples(os.DirFS("testdata"))
	if err != nil {
		f.Fatal(err)
	}
	for _, ex := range exs {
		if strings.HasSuffix(ex.InputFile, suffix) {
			f.Add(ex.Input)
		}
	}
}

// checkApply applies every built-in mapping of a format to data and checks
// what any result must satisfy: no panic, problems that name a field, a
// rule and the mapping, and an output that validates when there are none.
func checkApply(t *testing.T, format string, data []byte) {
	for _, m := range Embedded().List() {
		if m.Format != format {
			continue
		}
		out, problems := m.Apply(data, Tables{"items": {"X": "Y"}})
		for _, p := range problems {
			if !strings.HasPrefix(p.Field, "$") || p.Rule == "" || p.Mapping != m.Name || p.Message == "" {
				t.Fatalf("%s: malformed problem %+v", m.Name, p)
			}
		}
		if len(problems) > 0 {
			continue
		}
		if errs := m.Schema.ValidateInput(out); len(errs) > 0 {
			t.Fatalf("%s: accepted output does not validate: %v", m.Name, errs)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("%s: output does not encode: %v", m.Name, err)
		}
	}
}

// FuzzApplyHL7 runs the hl7v2 mappings of the demo site on arbitrary
// messages.
func FuzzApplyHL7(f *testing.F) {
	addExampleInputs(f, ".in.hl7")
	f.Add(dftBatch(3))
	// Over Kafka the message is a JSON string; it may still declare GB 18030.
	quoted, _ := json.Marshal(strings.Replace(string(dftBatch(2)), "|2.5\r", "|2.5|||||CHN|GB 18030-2000\r", 1))
	f.Add(quoted)
	f.Fuzz(func(t *testing.T, data []byte) { checkApply(t, FormatHL7v2, data) })
}

// FuzzApplyJSON runs the json mappings of the demo site on arbitrary
// payloads.
func FuzzApplyJSON(f *testing.F) {
	addExampleInputs(f, ".in.json")
	f.Fuzz(func(t *testing.T, data []byte) { checkApply(t, FormatJSON, data) })
}

// FuzzLoad feeds arbitrary text to the mapping loader as a mapping file
// and as a code table: it must never panic, and must either load or report
// problems that name the file.
func FuzzLoad(f *testing.F) {
	err := fs.WalkDir(mappingsFS, "mappings", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(mappingsFS, p)
			f.Add(string(data))
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fsys := fstest.MapFS{
			"demo/hl7v2/workinjury.GYU102.yaml": {Data: []byte(text)},
			"demo/json/ecard.register.yaml":     {Data: []byte(text)},
			"demo/tables/x.yaml":                {Data: []byte(text)},
			"demo/out/hl7v2/reply.yaml":         {Data: []byte(text)},
			"demo/out/json/event.x.y.yaml":      {Data: []byte(text)},
		}
		set, err := Load(fsys)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("err = %v, want a *LoadError with problems", err)
			}
			for _, p := range le.Problems {
				if p.File == "" || p.Reason == "" {
					t.Fatalf("malformed problem %+v", p)
				}
			}
			return
		}
		for _, m := range set.List() {
			_, _ = m.Apply([]byte(text), nil)
		}
		for _, m := range set.OutboundList() {
			_, _ = m.Render([]byte(text), nil)
		}
	})
}
