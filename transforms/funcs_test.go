package transforms

import (
	"strings"
	"testing"
	"time"
)

// TestParseHL7TimeOffset: a UTC offset is read when its minutes are below
// 60 and it is at most 14 hours either way; any other offset is refused
// with an error naming the value, as other malformed times are.
func TestParseHL7TimeOffset(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("", 8*3600)
	cases := []struct {
		in      string
		wantOff int // seconds east of UTC; ignored when wantErr
		wantErr bool
	}{
		{in: "202612040800+0800", wantOff: 8 * 3600},
		{in: "202612040800-0330", wantOff: -(3*3600 + 30*60)},
		{in: "202612040800+0545", wantOff: 5*3600 + 45*60},
		{in: "202612040800+1400", wantOff: 14 * 3600},
		{in: "202612040800-1400", wantOff: -14 * 3600},
		{in: "202612040800+0000", wantOff: 0},
		{in: "202612040800+0859", wantOff: 8*3600 + 59*60},
		{in: "202612040800+0860", wantErr: true},
		{in: "202612040800+0899", wantErr: true},
		{in: "202612040800-0075", wantErr: true},
		{in: "202612040800+1401", wantErr: true},
		{in: "202612040800+1500", wantErr: true},
		{in: "202612040800-2400", wantErr: true},
		{in: "202612040800+9999", wantErr: true},
	}
	for _, tc := range cases {
		got, err := parseHL7Time(tc.in, loc)
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseHL7Time(%q) = %v, want an error", tc.in, got)
			} else if !strings.Contains(err.Error(), tc.in) {
				t.Errorf("parseHL7Time(%q): error %q does not name the value", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseHL7Time(%q): %v", tc.in, err)
			continue
		}
		want := time.Date(2026, 12, 4, 8, 0, 0, 0, time.FixedZone("", tc.wantOff))
		if !got.Equal(want) {
			t.Errorf("parseHL7Time(%q) = %v, want %v", tc.in, got, want)
		}
	}
}
