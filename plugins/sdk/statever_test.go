package sdk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestStateFormats: a value tagged with TagState reads back with its
// format and as it was written; a value written untagged (by a version of
// the plugin from before it tagged its state) reads as format 0, as it is,
// whatever it holds; a format above the newest the reader knows (the
// binary was rolled back) is refused with ErrNewerState, naming both
// formats, and no value.
func TestStateFormats(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		stored     []byte
		newest     int
		wantFormat int
		wantValue  []byte
		wantErr    []string // in the error; nil: none
	}{
		"tagged":                  {stored: sdk.TagState(2, []byte(`{"fullName":"张三"}`)), newest: 2, wantFormat: 2, wantValue: []byte(`{"fullName":"张三"}`)},
		"tagged older":            {stored: sdk.TagState(1, []byte(`{"name":"张三"}`)), newest: 3, wantFormat: 1, wantValue: []byte(`{"name":"张三"}`)},
		"tagged empty value":      {stored: sdk.TagState(7, nil), newest: 7, wantFormat: 7, wantValue: []byte{}},
		"tagged binary value":     {stored: sdk.TagState(1, []byte{0, 1, 2}), newest: 1, wantFormat: 1, wantValue: []byte{0, 1, 2}},
		"largest format":          {stored: sdk.TagState(sdk.MaxStateFormat, []byte("x")), newest: sdk.MaxStateFormat, wantFormat: sdk.MaxStateFormat, wantValue: []byte("x")},
		"untagged JSON":           {stored: []byte(`{"name":"张三"}`), newest: 1, wantFormat: 0, wantValue: []byte(`{"name":"张三"}`)},
		"untagged empty":          {stored: []byte{}, newest: 1, wantFormat: 0, wantValue: []byte{}},
		"untagged like a tag":     {stored: []byte("\x00state/vx\x00y"), newest: 1, wantFormat: 0, wantValue: []byte("\x00state/vx\x00y")},
		"untagged, no terminator": {stored: []byte("\x00state/v1"), newest: 1, wantFormat: 0, wantValue: []byte("\x00state/v1")},
		"untagged, leading zero":  {stored: []byte("\x00state/v01\x00y"), newest: 1, wantFormat: 0, wantValue: []byte("\x00state/v01\x00y")},
		"newer than the reader":   {stored: sdk.TagState(3, []byte(`{}`)), newest: 2, wantFormat: 3, wantErr: []string{"format 3", "up to 2", "reinstall"}},
		"reader before tags":      {stored: sdk.TagState(1, []byte(`{}`)), newest: 0, wantFormat: 1, wantErr: []string{"format 1", "up to 0"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			format, value, err := sdk.UntagState(tc.stored, tc.newest)
			if format != tc.wantFormat {
				t.Errorf("format = %d, want %d", format, tc.wantFormat)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !bytes.Equal(value, tc.wantValue) {
					t.Errorf("value = %q, want %q", value, tc.wantValue)
				}
				return
			}
			if !errors.Is(err, sdk.ErrNewerState) {
				t.Fatalf("err = %v, want ErrNewerState", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to say %q", err, w)
				}
			}
			if value != nil {
				t.Errorf("value = %q with the error, want none", value)
			}
		})
	}
}

// TestTagStateRefusesFormatsOutOfRange: a format below 1 (0 is what an
// untagged value reads as) or above MaxStateFormat is a bug of the
// plugin's code.
func TestTagStateRefusesFormatsOutOfRange(t *testing.T) {
	t.Parallel()
	for _, f := range []int{0, -1, sdk.MaxStateFormat + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("TagState(%d, …) did not panic", f)
				}
			}()
			sdk.TagState(f, []byte("x"))
		}()
	}
}

// Version 2 of a plugin keeps a patient's name as {"family","given"}
// where version 1 kept {"name"}, untagged. It reads both and writes only
// its own, tagged format 1; version 1, rolled back to, cannot read
// format 1, so a version 1.5 that reads it ships first (see "Versioned
// state").
func ExampleUntagState() {
	type patient struct{ Family, Given string }
	const newest = 1
	read := func(stored []byte) (patient, error) {
		format, value, err := sdk.UntagState(stored, newest)
		if err != nil {
			return patient{}, err // answer sdk.Retry naming the key
		}
		var p patient
		switch format {
		case 0: // version 1: {"name": "张三"}
			var v1 struct{ Name string }
			err = json.Unmarshal(value, &v1)
			p.Family, p.Given = string([]rune(v1.Name)[:1]), string([]rune(v1.Name)[1:])
		case 1:
			err = json.Unmarshal(value, &p)
		}
		return p, err
	}
	write := func(p patient) []byte {
		b, _ := json.Marshal(p)
		return sdk.TagState(newest, b)
	}

	old, _ := read([]byte(`{"name":"张三丰"}`))
	fmt.Printf("%s %s\n", old.Family, old.Given)
	again, _ := read(write(old))
	fmt.Printf("%s %s\n", again.Family, again.Given)
	_, err := read(sdk.TagState(2, []byte(`{}`)))
	fmt.Println(errors.Is(err, sdk.ErrNewerState))
	// Output:
	// 张 三丰
	// 张 三丰
	// true
}
