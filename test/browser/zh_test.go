package browser_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"

	ecard "github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/sdk"
	selfpay "github.com/medgate/medgate/plugins/selfpay/adapter"
	tracecode "github.com/medgate/medgate/plugins/tracecode/adapter"
	workinjury "github.com/medgate/medgate/plugins/workinjury/adapter"
	ledger "github.com/medgate/medgate/test/plugins/ledger/adapter"
)

// goLayout matches Go's reference-time layout elements as they appear in
// a format hint ("2006-01-02", "15:04:05", "Z07:00", "Jan _2"): staff
// type dates as YYYY-MM-DD and times as HH:MM.
var goLayout = regexp.MustCompile(`2006|15:04|Z07|\bJan\b|\bMST\b`)

// declaredText is one text a plugin declares, where it is declared.
type declaredText struct{ where, text string }

// consoleTexts returns the texts of d that the console shows to staff:
// the plugin's description on the overview, its work lists, forms, work
// list columns and row actions, and document pages: titles, descriptions,
// field help, column titles, buttons and their questions.
func consoleTexts(d *sdk.DescribeResponse) []declaredText {
	var out []declaredText
	add := func(where, text string) {
		if text != "" {
			out = append(out, declaredText{d.Name + ": " + where, text})
		}
	}
	fields := func(where string, as []sdk.Argument) {
		for _, a := range as {
			add(fmt.Sprintf("%s field %s", where, a.Name), a.Description)
		}
	}
	columns := func(where string, cs []sdk.Column) {
		for _, c := range cs {
			add(fmt.Sprintf("%s column %s", where, c.Field), c.Title)
		}
	}
	display := func(where string, r sdk.Display) {
		columns(where+" result", r.Fields)
		columns(where+" result", r.Columns)
		columns(where+" result image", r.Images)
		add(where+" label title", r.LabelTitle)
	}
	add("description", d.Description)
	for _, w := range d.WorkLists {
		add("work list "+w.Name+" title", w.Title)
		add("work list "+w.Name+" description", w.Description)
	}
	for _, f := range d.Forms {
		at := "form " + f.Name
		add(at+" title", f.Title)
		add(at+" description", f.Description)
		fields(at, f.Fields)
		display(at, f.Result)
	}
	for _, v := range d.WorkListViews {
		at := "work list " + v.List
		columns(at, v.Columns)
		for _, a := range v.Actions {
			add(at+" action "+a.Name+" label", a.Label)
			add(at+" action "+a.Name+" question", a.Confirm)
			fields(at+" action "+a.Name, a.Fields)
		}
	}
	for _, v := range d.Documents {
		at := "document " + v.Name
		add(at+" title", v.Title)
		add(at+" description", v.Description)
		columns(at+" header", v.Header)
		columns(at+" line", v.LineColumns)
		if v.LineItems != nil {
			columns(at+" line items", []sdk.Column{*v.LineItems})
		}
		fields(at+" every edit", v.Adjust.Shared)
		for _, e := range v.Edits {
			add(at+" edit "+e.Name+" label", e.Label)
			add(at+" edit "+e.Name+" question", e.Confirm)
			fields(at+" edit "+e.Name, e.Fields)
		}
		if c := v.Confirm; c != nil {
			add(at+" confirm label", c.Label)
			add(at+" confirm question", c.Question)
			add(at+" confirm description", c.Description)
			display(at+" confirm", c.Result)
		}
		if v.History != nil {
			display(at+" history", *v.History)
		}
	}
	return out
}

// commandTexts returns the help of d's commands a person reads with
// `medgate <plugin> -h`: each command's summary and its arguments' help.
func commandTexts(d *sdk.DescribeResponse) []declaredText {
	var out []declaredText
	for _, c := range d.Commands {
		out = append(out, declaredText{d.Name + ": command " + c.Name + " summary", c.Summary})
		for _, a := range c.Arguments {
			if a.Description != "" {
				out = append(out, declaredText{d.Name + ": command " + c.Name + " argument " + a.Name, a.Description})
			}
		}
	}
	return out
}

// otherTexts returns the texts of d the console does not show to staff:
// command help (the command line), settings (the admin's site page) and
// examples. They need not be in Chinese, but a format hint among them is
// still written as people type it.
func otherTexts(d *sdk.DescribeResponse) []declaredText {
	var out []declaredText
	add := func(where, text string) {
		if text != "" {
			out = append(out, declaredText{d.Name + ": " + where, text})
		}
	}
	for _, c := range d.Commands {
		add("command "+c.Name+" summary", c.Summary)
		add("command "+c.Name+" description", c.Description)
		for _, a := range c.Arguments {
			add("command "+c.Name+" argument "+a.Name, a.Description)
			add("command "+c.Name+" argument "+a.Name+" example", a.Example)
		}
	}
	for _, s := range d.Settings {
		add("setting "+s.Name, s.Description)
	}
	for _, f := range d.Forms {
		for _, a := range f.Fields {
			add("form "+f.Name+" field "+a.Name+" example", a.Example)
		}
	}
	return out
}

// staffTexts returns the texts of d staff read besides the console's:
// each setting's help on the admin's site page, and each command's
// description and result column titles on the command line.
func staffTexts(d *sdk.DescribeResponse) []declaredText {
	var out []declaredText
	add := func(where, text string) {
		if text != "" {
			out = append(out, declaredText{d.Name + ": " + where, text})
		}
	}
	for _, s := range d.Settings {
		add("setting "+s.Name, s.Description)
	}
	for _, c := range d.Commands {
		add("command "+c.Name+" description", c.Description)
		for _, a := range c.Arguments {
			add("command "+c.Name+" argument "+a.Name, a.Description)
		}
		for _, col := range append(append([]sdk.Column{}, c.Result.Fields...), c.Result.Columns...) {
			add("command "+c.Name+" result column "+col.Field, col.Title)
		}
	}
	return out
}

// codeTexts returns the meanings d declares for its columns' codes
// (sdk.Column.Codes), which the console and the command line show beside
// a code: "二维码已过期 expired (expired)".
func codeTexts(d *sdk.DescribeResponse) []declaredText {
	var out []declaredText
	columns := func(where string, cs ...sdk.Column) {
		for _, c := range cs {
			for code, m := range c.Codes {
				out = append(out, declaredText{fmt.Sprintf("%s: %s column %s code %q", d.Name, where, c.Field, code), m})
			}
		}
	}
	display := func(where string, r sdk.Display) {
		columns(where+" result", r.Fields...)
		columns(where+" result", r.Columns...)
	}
	for _, c := range d.Commands {
		display("command "+c.Name, c.Result)
	}
	for _, f := range d.Forms {
		display("form "+f.Name, f.Result)
	}
	for _, v := range d.WorkListViews {
		columns("work list "+v.List, v.Columns...)
	}
	for _, v := range d.Documents {
		at := "document " + v.Name
		columns(at+" header", v.Header...)
		columns(at+" line", v.LineColumns...)
		if v.LineItems != nil {
			columns(at+" line items", *v.LineItems)
		}
		if v.Confirm != nil {
			display(at+" confirm", v.Confirm.Result)
		}
		if v.History != nil {
			display(at+" history", *v.History)
		}
	}
	return out
}

// englishWords is two English words in a row: a phrase, not a key name
// or code ("SM2", "LIST.xlsx", "kept") that may come before the Chinese.
var englishWords = regexp.MustCompile(`[A-Za-z]{2,}[,;:]?\s+[A-Za-z]{2,}`)

// englishLead returns the English phrase text starts with before any
// Chinese (all of it when it has none), or "" when it leads in Chinese.
func englishLead(text string) string {
	head := text
	if i := strings.IndexFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) }); i >= 0 {
		head = text[:i]
	}
	if englishWords.MatchString(head) || !strings.ContainsFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		if r := []rune(head); len(r) > 60 {
			head = string(r[:60]) + "…"
		}
		return head
	}
	return ""
}

// mostlyEnglish reports whether text has eight English words or more and
// fewer than half as many Chinese characters: a Chinese label before an
// explanation in English ("卡号 the e-card number (on the registration
// reply …)") that staff reading Chinese cannot follow.
func mostlyEnglish(text string) bool {
	han := 0
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			han++
		}
	}
	en := len(englishWord.FindAllString(text, -1))
	return en >= 8 && 2*han < en
}

// englishWord is a word of two letters or more.
var englishWord = regexp.MustCompile(`[A-Za-z]{2,}`)

// TestZhDeclaredTexts: the cashiers, pharmacy staff and nurses at the
// console read Chinese. Every text a shipped plugin declares for the
// console (titles, descriptions, field help, columns, buttons, questions)
// has Chinese in it (English may follow it for the integration team, as
// in "扫码 Scan"), and no declared text, for the console or not, shows
// Go's layout ("2006-01-02") as a format hint. A vendor's plugin may be
// English-only: the rule covers the plugins shipped here. The command
// help (summary and arguments) of the four adapters is read by the
// hospital's staff too, and leads in Chinese; the test plugin ledger's is
// English (its help is the host's command-line tests' fixture). The
// meanings of declared codes (sdk.Column.Codes) lead in Chinese.
func TestZhDeclaredTexts(t *testing.T) {
	t.Parallel()
	type describer interface {
		Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error)
	}
	plugins := map[string]describer{
		"ecard":      ecard.New(),
		"selfpay":    selfpay.New(),
		"tracecode":  tracecode.New(),
		"workinjury": workinjury.New(),
		"ledger":     ledger.New(),
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, p := range plugins {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, err := p.Describe(t.Context(), &sdk.DescribeRequest{})
			if err != nil {
				t.Fatalf("describe: %v", err)
			}
			if d.Name != name {
				t.Fatalf("plugin %q describes itself as %q", name, d.Name)
			}
			shown := consoleTexts(d)
			if name != "ledger" {
				shown = append(shown, commandTexts(d)...)
			}
			for _, x := range shown {
				if !strings.ContainsFunc(x.text, han) {
					t.Errorf("%s has no Chinese: %q", x.where, x.text)
				} else if mostlyEnglish(x.text) {
					t.Errorf("%s is mostly English (a Chinese label before an English explanation): %q", x.where, x.text)
				}
			}
			if name != "ledger" {
				// The admin's site page shows each setting's help, and
				// `medgate <plugin> <command> -h` a command's description
				// and its result's column titles: Chinese first, the
				// English (key names, codes, the integration team's
				// text) after it.
				for _, x := range staffTexts(d) {
					if lead := englishLead(x.text); lead != "" {
						t.Errorf("%s does not lead in Chinese (it starts %q): %q", x.where, lead, x.text)
					}
				}
			}
			// A code's meaning is what the cashier reads instead of
			// the code: Chinese first, for every plugin shipped.
			for _, x := range codeTexts(d) {
				if lead := englishLead(x.text); lead != "" {
					t.Errorf("%s does not lead in Chinese (it starts %q): %q", x.where, lead, x.text)
				} else if mostlyEnglish(x.text) {
					t.Errorf("%s is mostly English (a Chinese label before an English explanation): %q", x.where, x.text)
				}
			}
			for _, x := range append(append(shown, otherTexts(d)...), commandTexts(d)...) {
				if m := goLayout.FindString(x.text); m != "" {
					t.Errorf("%s shows Go's layout %q where people read YYYY-MM-DD or HH:MM: %q", x.where, m, x.text)
				}
			}
		})
	}
}
