package adapter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/tracecode/platform"
)

// TestPlatformFailuresLeadInChinese: the console's staff read the reason
// of a failed trace-code message first (the 30-minute board, a message's
// page); each kind of platform failure said it in English only ("the
// trace-code platform issued no access token; …"). Each now starts in
// Chinese and keeps its English after it.
func TestPlatformFailuresLeadInChinese(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		err     error
		english string
	}{
		"credentials refused": {fmt.Errorf("token: %w", platform.ErrAuth), "the trace-code platform refused the hospital's credentials"},
		"business refusal":    {&platform.BusinessError{Code: "E1", Message: "单据不存在"}, "the trace-code platform refused tracecode.stockin.upload"},
		"no token":            {fmt.Errorf("token: %w: %w", platform.ErrNotSent, platform.ErrUnavailable), "the trace-code platform issued no access token"},
		"outcome unknown":     {fmt.Errorf("upload: %w", platform.ErrUnknownOutcome), "no answer from the trace-code platform; the outcome is unknown"},
		"unavailable":         {fmt.Errorf("upload: %w", platform.ErrUnavailable), "the trace-code platform is unavailable"},
		"not understood":      {fmt.Errorf("upload: %w", platform.ErrProtocol), "the trace-code platform's answer was not understood"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := platformFailure("tracecode.stockin.upload", tc.err)
			if err != nil || r == nil || len(r.Diagnostics) == 0 {
				t.Fatalf("platformFailure = %+v, %v; want a response with a diagnostic", r, err)
			}
			s := r.Diagnostics[0].Summary
			if first, _ := utf8.DecodeRuneInString(s); !unicode.Is(unicode.Han, first) {
				t.Errorf("summary %q does not start in Chinese", s)
			}
			if !strings.Contains(s, tc.english) {
				t.Errorf("summary %q lost its English %q", s, tc.english)
			}
		})
	}
	if r, err := platformFailure("x", errors.New("the host's own")); r != nil || err == nil {
		t.Errorf("an error of the host's own = %+v, %v; want it returned", r, err)
	}
}
