package smenvelope

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/sm2"
)

// Default key file names inside KeyStoreConfig.Dir.
const (
	// DefaultPrivateKeyFile holds our private key (mode 0600).
	DefaultPrivateKeyFile = "private.pem"
	// DefaultPeerPublicKeyFile holds the peer's public key.
	DefaultPeerPublicKeyFile = "peer_public.pem"
)

// Key kinds accepted by ImportKey.
const (
	// KindPrivate imports our private key.
	KindPrivate = "private"
	// KindPublic imports the peer's public key.
	KindPublic = "public"
)

// maxKeyFileSize bounds what is read from a key file.
const maxKeyFileSize = 1 << 20

// KeyStoreConfig says where a KeyStore finds its key files.
type KeyStoreConfig struct {
	// Dir is the key directory.
	Dir string `json:"dir" yaml:"dir"`
	// PrivateKeyFile is our private key file, relative to Dir unless absolute.
	// It must have mode 0600 or stricter and belong to the current user.
	// Default DefaultPrivateKeyFile.
	PrivateKeyFile string `json:"privateKeyFile" yaml:"privateKeyFile"`
	// PeerPublicKeyFile is the peer's public key file, relative to Dir unless
	// absolute. Default DefaultPeerPublicKeyFile.
	PeerPublicKeyFile string `json:"peerPublicKeyFile" yaml:"peerPublicKeyFile"`
	// Password decrypts an "ENCRYPTED PRIVATE KEY"; empty for plain keys.
	Password Secret `json:"password" yaml:"password"`
}

func (c KeyStoreConfig) paths() (priv, pub string) {
	priv, pub = c.PrivateKeyFile, c.PeerPublicKeyFile
	if priv == "" {
		priv = DefaultPrivateKeyFile
	}
	if pub == "" {
		pub = DefaultPeerPublicKeyFile
	}
	if !filepath.IsAbs(priv) {
		priv = filepath.Join(c.Dir, priv)
	}
	if !filepath.IsAbs(pub) {
		pub = filepath.Join(c.Dir, pub)
	}
	return priv, pub
}

// KeyStore holds the current Keys loaded from files and swaps them atomically
// on Reload, so keys can be rotated without a restart. It is safe for
// concurrent use. It redacts itself when printed or logged.
type KeyStore struct {
	cfg    KeyStoreConfig
	reload sync.Mutex
	cur    atomic.Pointer[Keys]
	// loaded is the files' stamp taken just before the current keys were
	// read (guarded by reload): Watch compares against it, so a change
	// made after the keys were read and before Watch started is seen.
	loaded string
}

// NewKeyStore loads the key files named by cfg and returns the store, or an
// error saying which file is wrong and how to fix it. It refuses to give
// keys to a crypto implementation that fails SelfTest on this machine.
func NewKeyStore(cfg KeyStoreConfig) (*KeyStore, error) {
	if err := SelfTest(); err != nil {
		return nil, err
	}
	s := &KeyStore{cfg: cfg}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the keys in use. It never blocks on a running Reload.
func (s *KeyStore) Current() Keys {
	if k := s.cur.Load(); k != nil {
		return *k
	}
	return Keys{}
}

// Reload reads both key files again. On success the new keys replace the old
// ones for every later Current call. On failure the old keys stay in use and
// the error says why the new ones were refused.
func (s *KeyStore) Reload() error {
	s.reload.Lock()
	defer s.reload.Unlock()
	privPath, pubPath := s.cfg.paths()
	stamp := s.stamp() // before reading: a change while reading shows at the next look
	var errs []error
	priv, err := LoadPrivateKeyFile(privPath, s.cfg.Password)
	if err != nil {
		errs = append(errs, err)
	}
	pub, err := LoadPublicKeyFile(pubPath)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		if old := s.cur.Load(); old != nil {
			return fmt.Errorf("reload SM2 keys (still serving the previous keys %s): %w", old, err)
		}
		return fmt.Errorf("load SM2 keys: %w", err)
	}
	s.cur.Store(&Keys{Private: priv, PeerPublic: pub})
	s.loaded = stamp
	return nil
}

// stamp describes the key files as os.Stat sees them (size, modification
// time, mode, owner, file id): a rotation changes it.
func (s *KeyStore) stamp() string {
	privPath, pubPath := s.cfg.paths()
	var out string
	for _, p := range []string{privPath, pubPath} {
		fi, err := os.Stat(p)
		if err != nil {
			out += p + ":missing;"
			continue
		}
		out += fmt.Sprintf("%s:%d:%d:%v:%s;", p, fi.Size(), fi.ModTime().UnixNano(), fi.Mode(), fileIdentity(fi))
	}
	return out
}

// loadedStamp returns the stamp of the files the current keys came from.
func (s *KeyStore) loadedStamp() string {
	s.reload.Lock()
	defer s.reload.Unlock()
	return s.loaded
}

// Watch polls the key files every interval (default 10s when <= 0) and calls
// Reload when one of them changes, or again on every tick while the last
// Reload failed. report, if not nil, receives the result of every Reload it
// triggers (nil on success), but a repeated identical error only once. Watch
// returns when ctx is done.
func (s *KeyStore) Watch(ctx context.Context, interval time.Duration, report func(error)) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	last := s.loadedStamp() // not a new stamp: a change since the load counts
	failing, lastErr := false, ""
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.stamp()
		if now == last && !failing {
			continue
		}
		last = now
		err := s.Reload()
		if err == nil {
			failing, lastErr = false, ""
			if report != nil {
				report(nil)
			}
			continue
		}
		failing = true
		if err.Error() != lastErr && report != nil {
			report(err)
		}
		lastErr = err.Error()
	}
}

// String implements fmt.Stringer without revealing secrets.
func (s *KeyStore) String() string {
	if s == nil {
		return "smenvelope.KeyStore(<nil>)"
	}
	privPath, pubPath := s.cfg.paths()
	return fmt.Sprintf("smenvelope.KeyStore{private: %q, peerPublic: %q, keys: %s}", privPath, pubPath, s.Current())
}

// GoString implements fmt.GoStringer without revealing secrets.
func (s *KeyStore) GoString() string { return s.String() }

// LogValue implements slog.LogValuer without revealing secrets.
func (s *KeyStore) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("<nil>")
	}
	privPath, pubPath := s.cfg.paths()
	return slog.GroupValue(
		slog.String("privateKeyFile", privPath),
		slog.String("peerPublicKeyFile", pubPath),
		slog.Any("keys", s.Current()),
	)
}

// LoadPrivateKeyFile reads and parses our private key file (any form accepted
// by ParsePrivateKey). The file must be a regular file with mode 0600 or
// stricter, owned by the current user; otherwise it is refused with an error
// giving the chmod/chown command that fixes it.
func LoadPrivateKeyFile(path string, password []byte) (*sm2.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open private key file: %w (import it with `medgate import-keys`)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat private key file %s: %w", path, err)
	}
	if err := checkPrivateFileMode(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read private key file %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("private key file %s is larger than %d bytes: point privateKeyFile at the key itself", path, maxKeyFileSize)
	}
	k, err := ParsePrivateKeyWithPassword(data, password)
	if err != nil {
		return nil, fmt.Errorf("private key file %s: %w", path, err)
	}
	return k, nil
}

func checkPrivateFileMode(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("private key file %s is not a regular file (mode %v): point privateKeyFile at the key file itself", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("private key file %s has mode %04o and is accessible by group or others: run `chmod 600 %s`", path, perm, path)
	}
	return checkOwner(path, fi)
}

// LoadPublicKeyFile reads and parses the peer's public key file (any form
// accepted by ParsePublicKey).
func LoadPublicKeyFile(path string) (*ecdsa.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open peer public key file: %w (import it with `medgate import-keys`)", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read peer public key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("peer public key file %s is larger than %d bytes: point peerPublicKeyFile at the key itself", path, maxKeyFileSize)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("peer public key file %s: %w", path, err)
	}
	return k, nil
}

// ImportKey parses src (any form accepted by ParsePrivateKey for kind
// KindPrivate, or ParsePublicKey for KindPublic) and writes its canonical PEM
// ("PRIVATE KEY" PKCS#8 or "PUBLIC KEY" PKIX) to dstPath with mode 0600,
// atomically (temporary file + rename), creating the directory with mode 0700
// if needed. It backs `medgate import-keys`.
func ImportKey(src []byte, kind, dstPath string) error {
	return ImportKeyWithPassword(src, nil, kind, dstPath)
}

// ImportKeyWithPassword is ImportKey for an encrypted PKCS#8 private key: the
// key is decrypted with password and written unencrypted (mode 0600).
func ImportKeyWithPassword(src, password []byte, kind, dstPath string) error {
	var out []byte
	switch kind {
	case KindPrivate:
		k, err := ParsePrivateKeyWithPassword(src, password)
		if err != nil {
			return fmt.Errorf("import private key: %w", err)
		}
		if out, err = MarshalPrivateKeyPEM(k); err != nil {
			return fmt.Errorf("import private key: %w", err)
		}
		defer clear(out)
	case KindPublic:
		k, err := ParsePublicKey(src)
		if err != nil {
			return fmt.Errorf("import public key: %w", err)
		}
		if out, err = MarshalPublicKeyPEM(k); err != nil {
			return fmt.Errorf("import public key: %w", err)
		}
	default:
		return fmt.Errorf("import key: kind %q is not %q or %q", kind, KindPrivate, KindPublic)
	}
	if dstPath == "" {
		return errors.New("import key: destination path is empty")
	}
	if err := writeFileAtomic(dstPath, out); err != nil {
		return fmt.Errorf("import %s key: %w", kind, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("destination %s is a directory: give a file name", path)
	}
	tmp, err := os.CreateTemp(dir, ".import-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
