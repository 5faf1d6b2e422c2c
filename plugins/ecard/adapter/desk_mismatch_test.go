package adapter

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeskRefusesLabelOfAnotherName: the desk finds a person's card by
// the ID number, and the label names the person stored on the card. When
// the name the clerk typed is not that name (a typo then or now, a name
// changed since, a wrong ID number typed), the desk used to print the
// stored person's label for the person at the counter with only a warning;
// it now refuses to print (rule mismatch at $.name, the stored name masked
// in the reply) until the name is corrected (ecard.rename) or the clerk
// confirms the card is this person's (confirmName). Names that differ only
// in letter case, width or spacing are the same name; a newborn of the other
// gender under the same birth order is another child (the other twin).
func TestDeskRefusesLabelOfAnotherName(t *testing.T) {
	t.Parallel()
	with := func(base map[string]any, kv ...any) map[string]any {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	zhangDesk := map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"}
	smith := map[string]any{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"}
	tests := map[string]struct {
		first, desk map[string]any
		// refused: the desk refuses with rule mismatch at field.
		refused bool
		field   string
		// label is the masked name the printed label carries; warn the
		// field of the one warning the printing desk gives, if any.
		label, warn string
	}{
		"the same name":                 {first: zhangDesk, desk: zhangDesk, label: "张*丰"},
		"another name":                  {first: zhangDesk, desk: with(zhangDesk, "name", "张三峰"), refused: true, field: "$.name"},
		"another name, confirmed":       {first: zhangDesk, desk: with(zhangDesk, "name", "张三峰", "confirmName", true), label: "张*丰", warn: "$.name"},
		"the same name, upper case":     {first: smith, desk: with(smith, "name", "JOHN  SMITH"), label: "J********h"},
		"the same name, full width":     {first: smith, desk: with(smith, "name", "Ｊｏｈｎ　Ｓｍｉｔｈ"), label: "J********h"},
		"a Latin name of another":       {first: smith, desk: with(smith, "name", "Jane Smith"), refused: true, field: "$.name"},
		"the same newborn":              {first: newbornOf("李梅之女", "2", 1), desk: newbornOf("李梅之女", "2", 1), label: "李**女"},
		"a newborn of the other gender": {first: newbornOf("李梅之女", "2", 1), desk: newbornOf("李梅之女", "1", 1), refused: true, field: "$.gender"},
		"a newborn of another name":     {first: newbornOf("李梅之女", "2", 1), desk: newbornOf("李梅之子", "2", 1), refused: true, field: "$.name"},
		// confirmName confirms a name (a rare character, a provisional
		// name), never that a boy is a girl: the other twin under the
		// wrong birth order would get this child's label.
		"a newborn of another name, confirmed": {first: newbornOf("李梅之女", "2", 1), desk: with(newbornOf("李梅之子", "2", 1), "confirmName", true),
			label: "李**女", warn: "$.name"},
		"a newborn of the other gender, confirmed": {first: newbornOf("李梅之女", "2", 1), desk: with(newbornOf("李梅之女", "1", 1), "confirmName", true),
			refused: true, field: "$.gender"},
		"the other twin, confirmed": {first: newbornOf("李梅之女", "2", 1), desk: with(newbornOf("李梅之子", "1", 1), "confirmName", true),
			refused: true, field: "$.gender"},
		// An unknown or unspecified gender (GB/T 2261.1 0, 9) names no
		// other child: the clerk's confirmation stands.
		"a newborn of unknown gender then, confirmed": {first: newbornOf("李梅之女", "0", 1), desk: with(newbornOf("李梅之女", "2", 1), "confirmName", true),
			label: "李**女", warn: "$.gender"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			var first deskReply
			e.ok(OpDesk, tc.first, &first)
			issued := len(e.eventsOfType(EventQRIssued))
			r := e.call(OpDesk, tc.desk)
			if !tc.refused {
				var out deskReply
				if r.Status == sdk.StatusOK {
					_ = json.Unmarshal(r.Payload, &out)
				}
				if r.Status != sdk.StatusOK || out.CardNo != first.CardNo || out.Label.Name != tc.label || len(out.LabelPNG) == 0 {
					t.Fatalf("desk: %s card %s label %q %s; want ok, card %s, label %q", r.Status, out.CardNo, out.Label.Name, r.Diagnostics, first.CardNo, tc.label)
				}
				var want []diag
				if tc.warn != "" {
					want = []diag{{tc.warn, "mismatch", false}}
				}
				if got := diagsOf(r.Diagnostics); !slices.Equal(got, want) {
					t.Errorf("desk diagnostics %v, want %v", got, want)
				}
				return
			}
			var got struct {
				CardNo     string `json:"cardNo"`
				StoredName string `json:"storedName"`
				Text       string `json:"text"`
				LabelPNG   []byte `json:"labelPng"`
			}
			if len(r.Payload) > 0 {
				_ = json.Unmarshal(r.Payload, &got)
			}
			var fields []diag
			for _, d := range diagsOf(r.Diagnostics) {
				if d.Error {
					fields = append(fields, d)
				}
			}
			if r.Status != sdk.StatusInvalid || len(fields) != 1 || fields[0] != (diag{tc.field, "mismatch", true}) {
				t.Fatalf("desk for another person: %s %+v; want invalid with one error, rule mismatch at %s", r.Status, r.Diagnostics, tc.field)
			}
			if got.CardNo != first.CardNo || got.StoredName != first.Label.Name || got.Text != "" || len(got.LabelPNG) != 0 {
				t.Errorf("refusal payload: card %q stored name %q, text %q, label %d bytes; want card %s, name %q, no code",
					got.CardNo, got.StoredName, got.Text, len(got.LabelPNG), first.CardNo, first.Label.Name)
			}
			if n := len(e.eventsOfType(EventQRIssued)); n != issued {
				t.Errorf("%d codes issued by the refused desk call, want none", n-issued)
			}
		})
	}
}

// TestDeskSameMoment: two desks (two medgate instances) register the same
// ID number at the same moment. Under the same name, both print the one
// card; under two names (one of them typed the wrong number), one card is
// issued and printed, and the other desk prints nothing: its label would
// name the other person.
func TestDeskSameMoment(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		names   [2]string
		printed int
	}{
		"the same name": {[2]string{"张三丰", "张三丰"}, 2},
		"two names":     {[2]string{"张三丰", "王五"}, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e1 := newEnv(t, testSettings())
			envs := [2]*env{e1, e1.instance(testSettings())}
			var replies [2]*sdk.HandleResponse
			var wg sync.WaitGroup
			for i := range envs {
				wg.Go(func() {
					replies[i] = envs[i].call(OpDesk, map[string]any{"name": tc.names[i], "idType": "01", "idNumber": testResidentID, "phone": "13812345678"})
				})
			}
			wg.Wait()
			printed, created, cards := 0, 0, map[string]bool{}
			for i, r := range replies {
				var out deskReply
				_ = json.Unmarshal(r.Payload, &out)
				cards[out.CardNo] = true
				switch {
				case r.Status == sdk.StatusOK && len(out.LabelPNG) > 0:
					printed++
					if out.Created {
						created++
					}
				case r.Status == sdk.StatusInvalid && len(r.Diagnostics) > 0 && r.Diagnostics[0].Rule == "mismatch" && out.CardNo != "":
				default:
					t.Errorf("desk %d (%s): %s %s", i, tc.names[i], r.Status, r.Diagnostics)
				}
			}
			if printed != tc.printed || created != 1 || len(cards) != 1 || len(e1.keysWithPrefix(keyCard)) != 1 {
				t.Errorf("printed %d (want %d), created %d, cards in replies %v, card records %v; want one card created once",
					printed, tc.printed, created, cards, e1.keysWithPrefix(keyCard))
			}
		})
	}
}
