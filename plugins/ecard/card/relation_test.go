package card

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gbt4761 is the part of the two-digit table of GB/T 4761-2008 家庭关系代码
// that a newborn's guardian can hold, as the public copies cited at
// relationNames give it, and whether the guardian relation accepts it.
var gbt4761 = []struct {
	code, name string
	accepted   bool
}{
	{"50", "父母", false}, // a group heading: say which parent
	{"51", "父亲", true},
	{"52", "母亲", true},
	{"53", "公公", false},
	{"54", "婆婆", false},
	{"55", "岳父", false},
	{"56", "岳母", false},
	{"57", "继父或养父", true},
	{"58", "继母或养母", true},
	{"59", "其他父母关系", false},
	{"60", "祖父母或外祖父母", false}, // a group heading: say which one
	{"61", "祖父", true},
	{"62", "祖母", true},
	{"63", "外祖父", true},
	{"64", "外祖母", true},
	{"97", "其他亲属", true},
	{"99", "非亲属", true},
}

// TestRelationCodesGBT4761: the guardian relations are the codes and names
// of GB/T 4761-2008 as its public copies give them, every other code of
// 00–99 (98 included: 保姆 in the 1984 edition, 非亲属 in one deviant copy)
// and the one-digit group codes are refused, and the list an error message
// offers is the accepted table.
func TestRelationCodesGBT4761(t *testing.T) {
	t.Parallel()
	want := map[string]string{}
	var list []string
	for _, r := range gbt4761 {
		if r.accepted {
			want[r.code] = r.name
			list = append(list, fmt.Sprintf("%s (%s)", r.code, r.name))
		}
	}
	got := map[string]string{}
	for i := range 100 {
		code := fmt.Sprintf("%02d", i)
		if name := RelationName(code); name != "" {
			got[code] = name
		}
	}
	for _, code := range []string{"5", "6", "9", "1", "051", " 52", "52 "} {
		if name := RelationName(code); name != "" {
			got[code] = name
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("accepted relation codes differ from GB/T 4761-2008 (-want +got):\n%s", diff)
	}
	wantList := strings.Join(list[:len(list)-1], ", ") + " or " + list[len(list)-1]
	if diff := cmp.Diff(wantList, relationList()); diff != "" {
		t.Errorf("relationList differs from the accepted table (-want +got):\n%s", diff)
	}
}
