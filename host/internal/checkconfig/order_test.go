package checkconfig

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
)

// TestCheckListsProblemsInFileOrder: check-config listed the problems the
// file's own checks found by line, then the secrets it could not read,
// then the plugins', so an administrator going down the file met line 16,
// then 105, then 47 (the production example before its files existed).
// They now come in the order of the file's lines.
func TestCheckListsProblemsInFileOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `http:
  adminToken: env:MEDGATE_TEST_ORDER_UNSET
kafka:
  embedded: {}
  maxInFlight: -5
store:
  path: db/medgate.db
  encryption:
    keys:
      - {id: k1, key: file:no-such-key}
`
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Check(t.Context(), path)
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Check: %v, want problems", err)
	}
	var lines []int
	for _, p := range ps {
		lines = append(lines, p.Line)
	}
	want := []int{2, 5, 10}
	if len(lines) != len(want) {
		t.Fatalf("problems at lines %v, want %v:\n%v", lines, want, err)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("problems at lines %v, want %v:\n%v", lines, want, err)
		}
	}
}
