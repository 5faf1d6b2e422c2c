package smenvelope

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/pkcs8"
	"github.com/emmansun/gmsm/sm2"
)

// writeKeys imports a fresh key pair for us and a peer public key into dir.
func writeKeys(t *testing.T, dir string) (*sm2.PrivateKey, *sm2.PrivateKey) {
	t.Helper()
	ours, _ := sm2.GenerateKey(rand.Reader)
	peer, _ := sm2.GenerateKey(rand.Reader)
	d := hex.EncodeToString(ours.D.FillBytes(make([]byte, 32)))
	if err := ImportKey([]byte(d), KindPrivate, filepath.Join(dir, DefaultPrivateKeyFile)); err != nil {
		t.Fatal(err)
	}
	pp, _ := MarshalPublicKeyPEM(&peer.PublicKey)
	if err := ImportKey(pp, KindPublic, filepath.Join(dir, DefaultPeerPublicKeyFile)); err != nil {
		t.Fatal(err)
	}
	return ours, peer
}

func TestImportKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys", "sub")
	ours, peer := writeKeys(t, dir)
	for _, f := range []string{DefaultPrivateKeyFile, DefaultPeerPublicKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory has mode %v, want 0700", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(filepath.Join(dir, DefaultPrivateKeyFile))
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("private key not canonical PEM: %.30s", b)
	}
	if k, err := LoadPrivateKeyFile(filepath.Join(dir, DefaultPrivateKeyFile), nil); err != nil || !k.Equal(ours) {
		t.Fatal(err)
	}
	if k, err := LoadPublicKeyFile(filepath.Join(dir, DefaultPeerPublicKeyFile)); err != nil || !k.Equal(&peer.PublicKey) {
		t.Fatal(err)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("directory has %d entries, want 2", len(ents))
	}
	// Errors.
	if err := ImportKey([]byte("x"), "secret", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), `"private"`) {
		t.Errorf("bad kind: %v", err)
	}
	if err := ImportKey([]byte("garbage"), KindPrivate, filepath.Join(dir, "x")); err == nil {
		t.Error("garbage imported")
	}
	if err := ImportKey([]byte(hex.EncodeToString(ours.D.Bytes())), KindPrivate, dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory destination: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Error("failed import left a file")
	}
}

func TestPrivateKeyFilePermissions(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	path := filepath.Join(dir, DefaultPrivateKeyFile)
	for _, mode := range []os.FileMode{0o400, 0o600} {
		os.Chmod(path, mode)
		if _, err := LoadPrivateKeyFile(path, nil); err != nil {
			t.Errorf("mode %v refused: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o700 | 0o007} {
		os.Chmod(path, mode)
		_, err := LoadPrivateKeyFile(path, nil)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %v: %v", mode, err)
		}
	}
	os.Chmod(path, 0o600)
	// Not a regular file.
	if _, err := LoadPrivateKeyFile(dir, nil); err == nil || !strings.Contains(err.Error(), "regular file") {
		t.Errorf("directory as key file: %v", err)
	}
	// Owned by somebody else (only testable as root).
	if os.Geteuid() == 0 {
		if err := os.Chown(path, 65534, -1); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPrivateKeyFile(path, nil)
		if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), "chown 0 "+path) {
			t.Errorf("foreign owner: %v", err)
		}
		os.Chown(path, 0, -1)
	} else {
		t.Log("not root: foreign-owner refusal not exercised")
	}
	if _, err := LoadPrivateKeyFile(filepath.Join(dir, "missing.pem"), nil); err == nil || !strings.Contains(err.Error(), "import-keys") {
		t.Errorf("missing file: %v", err)
	}
}

func TestKeyStoreReload(t *testing.T) {
	dir := t.TempDir()
	ours1, peer1 := writeKeys(t, dir)
	ks, err := NewKeyStore(KeyStoreConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if k := ks.Current(); !k.Private.Equal(ours1) || !k.PeerPublic.Equal(&peer1.PublicKey) {
		t.Fatal("wrong keys loaded")
	}

	// Rotation.
	ours2, peer2 := writeKeys(t, dir)
	if err := ks.Reload(); err != nil {
		t.Fatal(err)
	}
	if k := ks.Current(); !k.Private.Equal(ours2) || !k.PeerPublic.Equal(&peer2.PublicKey) {
		t.Fatal("rotation did not take effect")
	}

	// A broken new key keeps the old keys and reports why.
	privPath := filepath.Join(dir, DefaultPrivateKeyFile)
	os.WriteFile(filepath.Join(dir, DefaultPeerPublicKeyFile), []byte("garbage"), 0o600)
	err = ks.Reload()
	if err == nil || !strings.Contains(err.Error(), "still serving the previous keys") || !strings.Contains(err.Error(), DefaultPeerPublicKeyFile) {
		t.Fatalf("broken public key: %v", err)
	}
	if k := ks.Current(); !k.Private.Equal(ours2) || !k.PeerPublic.Equal(&peer2.PublicKey) {
		t.Fatal("old keys not kept")
	}
	os.Chmod(privPath, 0o644)
	err = ks.Reload()
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+privPath) {
		t.Fatalf("world-readable private key: %v", err)
	}
	if k := ks.Current(); !k.Private.Equal(ours2) {
		t.Fatal("old keys not kept")
	}

	// NewKeyStore refuses bad files outright.
	if _, err := NewKeyStore(KeyStoreConfig{Dir: dir}); err == nil {
		t.Fatal("NewKeyStore accepted bad files")
	}
	if _, err := NewKeyStore(KeyStoreConfig{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "import-keys") {
		t.Fatalf("empty dir: %v", err)
	}

	// Encrypted PKCS#8 with the configured password.
	encDir := t.TempDir()
	_, pe := writeKeys(t, encDir)
	ke, _ := sm2.GenerateKey(rand.Reader)
	der, err := pkcs8.MarshalPrivateKey(ke, []byte("s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(encDir, "enc.pem"), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), 0o600)
	if _, err := NewKeyStore(KeyStoreConfig{Dir: encDir, PrivateKeyFile: "enc.pem"}); !errors.Is(err, ErrEncryptedKey) {
		t.Fatalf("encrypted key without password: %v", err)
	}
	kse, err := NewKeyStore(KeyStoreConfig{Dir: encDir, PrivateKeyFile: "enc.pem", Password: Secret("s3cret")})
	if err != nil || !kse.Current().Private.Equal(ke) || !kse.Current().PeerPublic.Equal(&pe.PublicKey) {
		t.Fatalf("encrypted key with password: %v", err)
	}

	// Custom file names and absolute paths.
	other := t.TempDir()
	o3, p3 := writeKeys(t, other)
	abs := filepath.Join(other, DefaultPrivateKeyFile)
	ks2, err := NewKeyStore(KeyStoreConfig{Dir: dir, PrivateKeyFile: abs, PeerPublicKeyFile: filepath.Join(other, DefaultPeerPublicKeyFile)})
	if err != nil || !ks2.Current().Private.Equal(o3) || !ks2.Current().PeerPublic.Equal(&p3.PublicKey) {
		t.Fatalf("absolute paths: %v", err)
	}
}

func TestKeyStoreConcurrentCurrent(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	ks, err := NewKeyStore(KeyStoreConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if k := ks.Current(); k.Private == nil || k.PeerPublic == nil {
					t.Error("Current returned empty keys during reload")
					return
				}
			}
		})
	}
	for range 5 {
		writeKeys(t, dir)
		if err := ks.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestKeyStoreWatch(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	ks, err := NewKeyStore(KeyStoreConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	results := make(chan error, 16)
	done := make(chan struct{})
	go func() {
		ks.Watch(ctx, 10*time.Millisecond, func(err error) { results <- err })
		close(done)
	}()
	wait := func() error {
		select {
		case err := <-results:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Watch did not report")
		}
		return nil
	}

	ours2, peer2 := writeKeys(t, dir) // whether before or after Watch's first look: it compares with the load
	// The two files change one after the other, so there may be one or two reloads.
	deadline := time.Now().Add(5 * time.Second)
	for !ks.Current().Private.Equal(ours2) || !ks.Current().PeerPublic.Equal(&peer2.PublicKey) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not rotate")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	for len(results) > 0 {
		if err := <-results; err != nil {
			t.Fatalf("rotation: %v", err)
		}
	}
	// A failing change is reported once, then retried until fixed (here: chmod only).
	privPath := filepath.Join(dir, DefaultPrivateKeyFile)
	os.Chmod(privPath, 0o644)
	if err := wait(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("bad mode: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-results:
		t.Fatalf("identical error reported twice: %v", err)
	default:
	}
	os.Chmod(privPath, 0o600)
	if err := wait(); err != nil {
		t.Fatalf("after fix: %v", err)
	}
	cancel()
	<-done
}

// TestKeyStoreWatchSeesRotationBeforeItStarts: keys rotated between the
// load and the start of Watch are picked up, even when the new files have
// the old ones' sizes and modification times (ImportKey renames a new file
// into place: only the inode tells).
func TestKeyStoreWatchSeesRotationBeforeItStarts(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	ks, err := NewKeyStore(KeyStoreConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var mtimes []time.Time
	for _, f := range []string{DefaultPrivateKeyFile, DefaultPeerPublicKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		mtimes = append(mtimes, fi.ModTime())
	}
	ours2, peer2 := writeKeys(t, dir)
	for i, f := range []string{DefaultPrivateKeyFile, DefaultPeerPublicKeyFile} {
		if err := os.Chtimes(filepath.Join(dir, f), mtimes[i], mtimes[i]); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		ks.Watch(ctx, 5*time.Millisecond, nil)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for !ks.Current().Private.Equal(ours2) || !ks.Current().PeerPublic.Equal(&peer2.PublicKey) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not pick up keys rotated before it started")
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// A crypto implementation that fails its self-test on this machine gets no
// keys: the store refuses with the self-test's error.
func TestNewKeyStoreRefusesFailedSelfTest(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	if _, err := NewKeyStore(KeyStoreConfig{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	saved := selfTest
	t.Cleanup(func() { selfTest = saved })
	selfTest = func() error {
		return runKnownAnswers([]knownAnswer{{"SM2 decryption", func() error { return errors.New("wrong point") }}})
	}
	ks, err := NewKeyStore(KeyStoreConfig{Dir: dir})
	if err == nil || ks != nil {
		t.Fatalf("NewKeyStore = %v, %v; want the self-test's error", ks, err)
	}
	if !strings.Contains(err.Error(), "SM2 decryption: wrong point") {
		t.Errorf("error %q does not name the failed check", err)
	}
}
