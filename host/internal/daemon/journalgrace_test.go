package daemon

import (
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pluginhost"
)

// A plugin's late journal entries are taken for as long as a call may
// run: a callTimeout raised above the default raises the grace with it.
func TestJournalGraceFollowsCallTimeout(t *testing.T) {
	for _, tc := range []struct {
		callTimeout time.Duration
		want        time.Duration
	}{
		{0, pluginhost.DefaultJournalGrace},
		{10 * time.Second, pluginhost.DefaultJournalGrace},
		{60 * time.Second, 70 * time.Second},
		{5 * time.Minute, 5*time.Minute + 10*time.Second},
	} {
		cfg := &config.Config{Processing: config.Processing{CallTimeout: config.Duration(tc.callTimeout)}}
		if got := journalGrace(cfg); got != tc.want {
			t.Errorf("callTimeout %s: journal grace %s, want %s", tc.callTimeout, got, tc.want)
		}
	}
}
