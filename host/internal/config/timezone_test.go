package config

import (
	"strings"
	"testing"
	"time"
)

// TestConsoleTimeZone: console.timeZone names the zone the console and
// the CLI show times in: an IANA name (Asia/Shanghai, the hospital's),
// UTC, or Local (the server's zone, also the default); anything else is a
// problem at start naming the forms it takes.
func TestConsoleTimeZone(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		zone    string // "": not written
		want    string // the location's name; "": a problem
		problem []string
	}{
		"default":        {zone: "", want: "Local"},
		"Local":          {zone: "Local", want: "Local"},
		"UTC":            {zone: "UTC", want: "UTC"},
		"Asia/Shanghai":  {zone: "Asia/Shanghai", want: "Asia/Shanghai"},
		"not a zone":     {zone: "Asia/Xiamen", problem: []string{"m.yaml:3: console.timeZone:", `"Asia/Xiamen" is not a time zone`, "Asia/Shanghai", "UTC", "Local"}},
		"an offset":      {zone: "+08:00", problem: []string{"console.timeZone:", `"+08:00" is not a time zone`, "Asia/Shanghai"}},
		"a path":         {zone: "../../etc/passwd", problem: []string{"console.timeZone:", "is not a time zone"}},
		"lowercase name": {zone: "asia/shanghai", problem: []string{"console.timeZone:", "is not a time zone", "Asia/Shanghai"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\n"
			if tc.zone != "" {
				src = "kafka:\n  embedded: {}\nconsole: {timeZone: \"" + tc.zone + "\"}\n"
			}
			c, err := Parse("m.yaml", []byte(src))
			if tc.want == "" {
				got := problemsOf(t, src)
				for _, w := range tc.problem {
					if !hasProblem(got, w) {
						t.Errorf("problems lack %q:\n%s", w, strings.Join(got, "\n"))
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			loc := c.Console.Location()
			if loc == nil || loc.String() != tc.want {
				t.Fatalf("console.timeZone %q: location %v, want %s", tc.zone, loc, tc.want)
			}
			if tc.want == "Asia/Shanghai" {
				if _, off := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).In(loc).Zone(); off != 8*3600 {
					t.Errorf("Asia/Shanghai: offset %ds, want +8h", off)
				}
			}
		})
	}
}
