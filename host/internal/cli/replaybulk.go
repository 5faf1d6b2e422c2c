package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// siteList is a repeatable -site flag; each value may list several
// sites separated by commas.
type siteList []string

func (l *siteList) String() string { return strings.Join(*l, ",") }

func (l *siteList) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// bulkReplay holds the flags of `medgate replay -failed`: which failed
// messages to replay through POST /admin/messages/replay.
type bulkReplay struct {
	failed, dryRun       *bool
	sites                siteList
	typ, since, from, to *string
}

// bulkFlagNames are the flags that select messages for a bulk replay.
var bulkFlagNames = []string{"site", "type", "since", "from", "to", "dry-run"}

func bulkFlags(fs *flag.FlagSet) *bulkReplay {
	b := &bulkReplay{
		failed: fs.Bool("failed", false, "replay every failed message -site, -type, -since, -from and -to select (at most 1000 a run), instead of one MESSAGE-ID"),
		typ:    fs.String("type", "", "with -failed: message types starting with this (plugin.operation, or plugin. for every operation of a plugin)"),
		since:  fs.String("since", "", "with -failed: received within this long before now, a `DURATION` such as 30m, 2h, 36h"),
		from:   fs.String("from", "", "with -failed: received at or after this time, RFC 3339 (2026-12-05T08:30:00+08:00)"),
		to:     fs.String("to", "", "with -failed: received before this time, RFC 3339"),
		dryRun: fs.Bool("dry-run", false, "with -failed: list what would be replayed, per site, and replay nothing (the role viewer may)"),
	}
	fs.Var(&b.sites, "site", "with -failed: the `SITES` (S1,S2, or -site several times; none: every site you see)")
	return b
}

// filtersSet names the bulk flags given on the command line.
func (b *bulkReplay) filtersSet(fs *flag.FlagSet) []string {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(bulkFlagNames, f.Name) {
			set = append(set, "-"+f.Name)
		}
	})
	return set
}

// window is the received-time range the flags give: [from, to), a zero
// bound being open.
func (b *bulkReplay) window(now time.Time) (from, to time.Time, err error) {
	if *b.since != "" {
		if *b.from != "" {
			return from, to, usageError{"replay: -since and -from both give the start of the time range: give one of them"}
		}
		d, err := time.ParseDuration(*b.since)
		if err != nil || d <= 0 {
			return from, to, usageError{fmt.Sprintf("replay: -since %q is not a duration: give one such as 30m, 2h or 36h", *b.since)}
		}
		from = now.Add(-d)
	}
	for _, v := range []struct {
		name string
		val  string
		into *time.Time
	}{{"-from", *b.from, &from}, {"-to", *b.to, &to}} {
		if v.val == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v.val)
		if err != nil {
			return from, to, usageError{fmt.Sprintf("replay: %s %q is not an RFC 3339 time: give one such as 2026-12-05T08:30:00+08:00", v.name, v.val)}
		}
		*v.into = t
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, usageError{fmt.Sprintf("replay: the time range is empty: its start %s is not before its end -to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))}
	}
	return from, to, nil
}

// bulkAnswer is the admin API's answer to POST /admin/messages/replay.
type bulkAnswer struct {
	Status   string `json:"status"`
	DryRun   bool   `json:"dryRun"`
	Selected int    `json:"selected"`
	Replayed int    `json:"replayed"`
	Sites    map[string]struct {
		Selected int `json:"selected"`
		Replayed int `json:"replayed"`
	} `json:"sites"`
	More     bool     `json:"more"`
	Problems []string `json:"problems"`
	// Messages are a dry run's selection.
	Messages []struct {
		ID         string    `json:"id"`
		Site       string    `json:"site"`
		Type       string    `json:"type"`
		ReceivedAt time.Time `json:"receivedAt"`
	} `json:"messages"`
}

// run replays (or with -dry-run lists) the failed messages the flags
// select, and prints per site what it replayed or would replay. The dry
// run is the admin API's (dryRun=true): the same selection, scope checks
// and limit as the replay, which replays nothing.
func (b *bulkReplay) run(ctx context.Context, cfgPath, addr string, stdout io.Writer) error {
	from, to, err := b.window(time.Now())
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, s := range b.sites {
		q.Add("site", s)
	}
	if *b.typ != "" {
		q.Set("type", *b.typ)
	}
	if !from.IsZero() {
		q.Set("from", from.Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.Format(time.RFC3339))
	}
	if *b.dryRun {
		q.Set("dryRun", "true")
	}
	path := "/admin/messages/replay"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	a, err := adminRequest(ctx, cfgPath, addr, "POST", path)
	if err != nil {
		return err
	}
	if err := a.err(); err != nil {
		var e struct{ Code string }
		if a.status == http.StatusForbidden && !*b.dryRun && json.Unmarshal(a.body, &e) == nil && e.Code == "forbidden" {
			// A role too low to replay may still see what would be.
			return fmt.Errorf("%w; to list what it would replay, add -dry-run (the role viewer may)", err)
		}
		return err
	}
	what := b.describe(from, to, a.loc)
	var ans bulkAnswer
	if err := json.Unmarshal(a.body, &ans); err != nil {
		return fmt.Errorf("POST %s: the answer is not a bulk replay's (%v); is -addr a medgate of this version?", path, err)
	}
	if *b.dryRun {
		if !ans.DryRun {
			return fmt.Errorf("POST %s: the answer is not a dry run's (status %q, %d replayed): the medgate at -addr is older than this command and ignores dryRun; check GET /admin/audit for a message.replay.bulk, and upgrade it before using -dry-run", path, ans.Status, ans.Replayed)
		}
		printDryRun(stdout, &ans, what, a.loc)
		return nil
	}
	if ans.Selected == 0 {
		fmt.Fprintf(stdout, "no failed message %s: nothing was replayed\n", what)
		return nil
	}
	fmt.Fprintf(stdout, "replayed %d of %s %s\n", ans.Replayed, failedMessages(ans.Selected), what)
	for _, site := range slices.Sorted(maps.Keys(ans.Sites)) {
		t := ans.Sites[site]
		fmt.Fprintf(stdout, "  %s: replayed %d of %d\n", site, t.Replayed, t.Selected)
	}
	for _, p := range ans.Problems {
		fmt.Fprintf(stdout, "  not replayed: %s\n", p)
	}
	if ans.More {
		fmt.Fprintln(stdout, "more failed messages match than one run replays (1000): run the same command again for the rest")
	}
	if ans.Replayed > 0 {
		fmt.Fprintln(stdout, "those replayed are pending again; the same command with -dry-run lists those that fail again")
	}
	return nil
}

// failedMessages is "1 failed message" or "n failed messages".
func failedMessages(n int) string {
	if n == 1 {
		return "1 failed message"
	}
	return fmt.Sprintf("%d failed messages", n)
}

// printDryRun prints a dry run's answer: per site, how many failed
// messages a replay would take and each of them.
func printDryRun(stdout io.Writer, ans *bulkAnswer, what string, loc *time.Location) {
	if ans.Selected == 0 {
		fmt.Fprintf(stdout, "no failed message %s (dry run: nothing was replayed)\n", what)
		return
	}
	fmt.Fprintf(stdout, "would replay %s %s (dry run: nothing was replayed):\n", failedMessages(ans.Selected), what)
	bySite := map[string][]string{}
	for _, m := range ans.Messages {
		bySite[m.Site] = append(bySite[m.Site], fmt.Sprintf("%s  %s  received %s", m.ID, m.Type, showTime(m.ReceivedAt, loc)))
	}
	for _, site := range slices.Sorted(maps.Keys(ans.Sites)) {
		fmt.Fprintf(stdout, "  %s: %d\n", site, ans.Sites[site].Selected)
		for _, line := range bySite[site] {
			fmt.Fprintf(stdout, "    %s\n", line)
		}
	}
	if ans.More {
		fmt.Fprintln(stdout, "more failed messages match than one run replays (1000): a run replays those listed, and the same command again the rest")
	}
}

// describe says which messages the flags select, for the summary line.
func (b *bulkReplay) describe(from, to time.Time, loc *time.Location) string {
	parts := []string{"selected"}
	if len(b.sites) > 0 {
		parts = append(parts, "at "+strings.Join(b.sites, ", "))
	} else {
		parts = append(parts, "at every site you see")
	}
	if *b.typ != "" {
		parts = append(parts, "of type "+*b.typ+"*")
	}
	if !from.IsZero() {
		parts = append(parts, "received since "+showTime(from, loc))
	}
	if !to.IsZero() {
		parts = append(parts, "before "+showTime(to, loc))
	}
	return strings.Join(parts, " ")
}
