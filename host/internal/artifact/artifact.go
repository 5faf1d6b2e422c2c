// Package artifact is host-held storage for the files plugins hand over
// (exports, labels): a plugin streams a file in with Host.PutArtifact and
// gets a reference; the console and the command line serve only such
// references, so no plugin can make the host open a path of its choosing.
//
// Files live in one directory, each as <id> with its metadata in
// <id>.json; ids are random. Files older than the store's TTL are removed
// when new ones arrive.
package artifact

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ErrNotFound: no artifact has that id (or it expired).
var ErrNotFound = errors.New("artifact not found")

// Meta describes a stored artifact.
type Meta struct {
	ID          string    `json:"id"`
	Plugin      string    `json:"plugin"`
	Site        string    `json:"site"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType,omitempty"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Created     time.Time `json:"created"`
}

// Store keeps artifacts in a directory.
type Store struct {
	dir string
	ttl time.Duration
	now func() time.Time
	// MaxSize bounds one artifact (default 1 GiB).
	MaxSize int64
}

// DefaultTTL is how long an artifact is kept.
const DefaultTTL = 24 * time.Hour

// New returns a store in dir, creating it with mode 0700; an existing
// directory others may enter is tightened to 0700.
func New(dir string, ttl time.Duration) (*Store, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("artifact store: create %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("artifact store: %s is not a directory; point artifacts.dir at a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("artifact store: %s has mode %o and holds exported personal data: %w; run chmod 700 %s as its owner", dir, st.Mode().Perm(), err, dir)
		}
	}
	return &Store{dir: dir, ttl: ttl, now: time.Now, MaxSize: 1 << 30}, nil
}

var (
	defaultOnce  sync.Once
	defaultStore *Store
	defaultErr   error
)

// Default returns a store for callers given none (tests and tools without
// a configuration): $MEDGATE_ARTIFACT_DIR, else medgate-artifacts in the
// temporary directory. medgate itself uses the configured artifacts.dir.
func Default() (*Store, error) {
	defaultOnce.Do(func() {
		dir := os.Getenv("MEDGATE_ARTIFACT_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "medgate-artifacts")
		}
		defaultStore, defaultErr = newShared(dir)
	})
	return defaultStore, defaultErr
}

// newShared opens a store in dir, which may sit where any user can
// write (the temporary directory): dir must be a directory of this
// user's own, never a symbolic link nor another user's directory, which
// New would tighten (as root: whatever the link points to) and then fill
// with exports.
func newShared(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("artifact store: create %s: %w; set MEDGATE_ARTIFACT_DIR to a directory of your own", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("artifact store: %s is a symbolic link or a file, not a directory of its own; remove it, or set MEDGATE_ARTIFACT_DIR to a directory of your own", dir)
	}
	if uid, ok := owner(fi); ok && uid != os.Getuid() {
		return nil, fmt.Errorf("artifact store: %s belongs to uid %d, not to this user (uid %d); remove it, or set MEDGATE_ARTIFACT_DIR to a directory of your own", dir, uid, os.Getuid())
	}
	return New(dir, DefaultTTL)
}

var idRE = regexp.MustCompile(`^[0-9a-f]{48}$`)

// Put streams r into the store as name for plugin and site and returns its
// metadata.
func (s *Store) Put(plugin, site, name, contentType string, r io.Reader) (Meta, error) {
	s.prune()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return Meta{}, fmt.Errorf("artifact store: no randomness: %w", err)
	}
	m := Meta{ID: hex.EncodeToString(b), Plugin: plugin, Site: site, Name: cleanName(name), ContentType: contentType, Created: s.now().UTC()}
	tmp, err := os.CreateTemp(s.dir, ".put-*")
	if err != nil {
		return Meta{}, fmt.Errorf("artifact store: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, s.MaxSize+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return Meta{}, fmt.Errorf("artifact store: write %s: %w", m.Name, err)
	case n > s.MaxSize:
		return Meta{}, fmt.Errorf("artifact store: %s is over %d bytes; split it", m.Name, s.MaxSize)
	}
	m.Size, m.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	meta, err := json.Marshal(m)
	if err != nil {
		return Meta{}, err
	}
	if err := os.WriteFile(filepath.Join(s.dir, m.ID+".json"), meta, 0o600); err != nil {
		return Meta{}, fmt.Errorf("artifact store: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, m.ID)); err != nil {
		return Meta{}, fmt.Errorf("artifact store: %w", err)
	}
	return m, nil
}

// Open returns an artifact's metadata and content. It checks the content
// against the stored SHA-256 first, so a changed file is never served.
func (s *Store) Open(id string) (Meta, *os.File, error) {
	if !idRE.MatchString(id) {
		return Meta{}, nil, ErrNotFound
	}
	raw, err := os.ReadFile(filepath.Join(s.dir, id+".json"))
	if err != nil {
		return Meta{}, nil, ErrNotFound
	}
	var m Meta
	if err := json.Unmarshal(raw, &m); err != nil || m.ID != id {
		return Meta{}, nil, fmt.Errorf("artifact %s: unreadable metadata", id)
	}
	if !s.now().Before(m.Created.Add(s.ttl)) {
		return Meta{}, nil, ErrNotFound
	}
	f, err := os.Open(filepath.Join(s.dir, id))
	if err != nil {
		return Meta{}, nil, ErrNotFound
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		f.Close()
		return Meta{}, nil, fmt.Errorf("artifact %s (%s) changed since it was stored; ask the plugin for it again", id, m.Name)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return Meta{}, nil, err
	}
	return m, f, nil
}

// prune removes expired artifacts, and the temporary files of Puts cut
// short (a crash) once they are as old.
func (s *Store) prune() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	cutoff := s.now().Add(-s.ttl)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".put-") {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
				os.Remove(filepath.Join(s.dir, e.Name()))
			}
			continue
		}
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !idRE.MatchString(id) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(s.dir, id))
			os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
}

// cleanName keeps the base name of a file, without separators; "." and
// ".." become "file" and control characters "_" (the name becomes the
// download's file name and appears in the log and the audit trail).
func cleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == ".." || name == "/" || name == "" {
		return "file"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '_'
		}
		return r
	}, name)
}
