package certs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/certs"
	"github.com/sessiond/sessiond/internal/testkit"
)

// files writes a CA, a server certificate it issued and its key to a new
// directory and returns their Files.
func files(t *testing.T) (*testkit.CA, certs.Files) {
	t.Helper()
	dir := t.TempDir()
	ca := testkit.NewCA(t, "test CA")
	var f certs.Files
	f.Cert, f.Key = ca.Server(t).Write(t, dir, "server")
	f.CA = ca.Write(t, dir, "ca")
	return ca, f
}

// TestLoadErrors: every file that does not load stops Load with a
// *FileError naming the setting and the file.
func TestLoadErrors(t *testing.T) {
	ca, good := files(t)
	dir := filepath.Dir(good.Cert)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		testkit.WriteFile(t, p, data)
		return p
	}
	garbage := write("garbage.pem", []byte("not PEM at all\n"))
	keyAsCert := write("key-as-cert.pem", ca.Server(t).KeyPEM)
	otherKey := write("other.key", ca.Server(t).KeyPEM)
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name    string
		files   certs.Files
		setting string
		path    string
		want    string
	}{
		{"missing certificate", certs.Files{Cert: missing, Key: good.Key}, "tls-cert-file", missing, "no such file"},
		{"certificate not PEM", certs.Files{Cert: garbage, Key: good.Key}, "tls-cert-file", garbage, "no PEM certificate"},
		{"a key where the certificate should be", certs.Files{Cert: keyAsCert, Key: good.Key}, "tls-cert-file", keyAsCert, `"PRIVATE KEY" PEM block`},
		{"missing key", certs.Files{Cert: good.Cert, Key: missing}, "tls-key-file", missing, "no such file"},
		{"key not PEM", certs.Files{Cert: good.Cert, Key: garbage}, "tls-key-file", garbage, "key"},
		{"key of another certificate", certs.Files{Cert: good.Cert, Key: otherKey}, "tls-key-file", otherKey, "does not match"},
		{"missing CA", certs.Files{Cert: good.Cert, Key: good.Key, CA: missing}, "tls-ca-cert-file", missing, "no such file"},
		{"CA not PEM", certs.Files{Cert: good.Cert, Key: good.Key, CA: garbage}, "tls-ca-cert-file", garbage, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := certs.Load(certs.Config{Files: tc.files, Logger: quiet})
			var fe *certs.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Load: %v, want a *FileError", err)
			}
			if fe.Setting != tc.setting || fe.Path != tc.path || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v (setting %s, path %s); want %s, %s, %q", err, fe.Setting, fe.Path, tc.setting, tc.path, tc.want)
			}
			if !strings.Contains(err.Error(), tc.setting) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("the message %q does not name the setting and the file", err)
			}
		})
	}
	if _, err := certs.Load(certs.Config{Files: certs.Files{Cert: good.Cert}}); !errors.Is(err, certs.ErrMissing) {
		t.Fatalf("Load without a key: %v, want ErrMissing", err)
	}
	if _, err := certs.Load(certs.Config{Files: certs.Files{Key: good.Key}}); !errors.Is(err, certs.ErrMissing) {
		t.Fatalf("Load without a certificate: %v, want ErrMissing", err)
	}
	if _, err := certs.Load(certs.Config{Files: certs.Files{Cert: missing, Key: good.Key}}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file's error %v does not wrap fs.ErrNotExist", err)
	}
}

// TestConfig: the configuration asks for TLS 1.2 at least, and for a
// client certificate the CA signed when a CA is given.
func TestConfig(t *testing.T) {
	ca, f := files(t)
	src, err := certs.Load(certs.Config{Files: f, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c := src.TLSConfig()
	if c.MinVersion != tls.VersionTLS12 || c.ClientAuth != tls.RequireAndVerifyClientCert || c.GetConfigForClient == nil {
		t.Fatalf("TLSConfig: MinVersion %x, ClientAuth %v; want TLS 1.2, RequireAndVerifyClientCert and GetConfigForClient", c.MinVersion, c.ClientAuth)
	}
	cur, _ := c.GetConfigForClient(nil)
	if cur != src.Current() || len(cur.Certificates) != 1 || !cur.ClientCAs.Equal(ca.Pool()) || cur.MinVersion != tls.VersionTLS12 {
		t.Fatal("GetConfigForClient does not give the current configuration, with the certificate, the CA and TLS 1.2")
	}
	// A CA file of two CAs, as in a CA's rotation: both sign clients.
	next := testkit.NewCA(t, "next CA")
	testkit.WriteFile(t, f.CA, append(append([]byte(nil), ca.PEM...), next.PEM...))
	src, err = certs.Load(certs.Config{Files: f, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	both := ca.Pool()
	both.AddCert(next.Cert)
	if cur := src.Current(); !cur.ClientCAs.Equal(both) {
		t.Fatal("a CA file of two CAs did not give both")
	}

	f.CA = ""
	src, err = certs.Load(certs.Config{Files: f, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if c := src.TLSConfig(); c.ClientAuth != tls.NoClientCert {
		t.Fatalf("without a CA, ClientAuth = %v, want NoClientCert", c.ClientAuth)
	}
}

// TestCheck: Check loads changed files, keeps the last good ones when the
// change does not load and says so once per change, and loads the files
// once they are good again.
func TestCheck(t *testing.T) {
	ca, f := files(t)
	var log testkit.Buffer
	src, err := certs.Load(certs.Config{Files: f, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string { return src.Current().Certificates[0].Leaf.SerialNumber.String() }
	first := serial()
	if !src.Check() || serial() != first {
		t.Fatal("Check with no change changed the certificate")
	}

	next := ca.Server(t)
	dir := filepath.Dir(f.Cert)
	// The certificate first, the key later: between the two, the pair
	// does not load.
	testkit.WriteFile(t, f.Cert, next.CertPEM)
	if src.Check() || serial() != first {
		t.Fatalf("a certificate without its key: Check loaded it (serial %s)", serial())
	}
	if n := strings.Count(log.String(), "did not load"); n != 1 || !strings.Contains(log.String(), f.Key) {
		t.Fatalf("the failed load was logged %d times, or without the key file:\n%s", n, log.String())
	}
	src.Check()
	if n := strings.Count(log.String(), "did not load"); n != 1 {
		t.Fatalf("an unchanged failure was logged again (%d times)", n)
	}
	next.Write(t, dir, "server")
	if !src.Check() || serial() != next.Cert.SerialNumber.String() {
		t.Fatalf("the new pair did not load: serial %s, want %s", serial(), next.Cert.SerialNumber)
	}
	if !strings.Contains(log.String(), "TLS certificate reloaded") {
		t.Fatalf("the reload was not logged:\n%s", log.String())
	}

	// A CA file removed: the last CA stays.
	pool := src.Current().ClientCAs
	testkit.WriteFile(t, f.CA, nil)
	if src.Check() || !src.Current().ClientCAs.Equal(pool) {
		t.Fatal("an empty CA file replaced the CA")
	}
	if !strings.Contains(log.String(), f.CA) {
		t.Fatalf("the empty CA file was not logged with its path:\n%s", log.String())
	}
}

// TestWatch: Watch reloads changed files by itself, and stops with its
// context.
func TestWatch(t *testing.T) {
	ca, f := files(t)
	src, err := certs.Load(certs.Config{Files: f, Interval: 10 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Watch(ctx); close(done) }()
	next := ca.Server(t)
	next.Write(t, filepath.Dir(f.Cert), "server")
	testkit.Eventually(t, 5*time.Second, "the new certificate is loaded", func() bool {
		return src.Current().Certificates[0].Leaf.SerialNumber.Cmp(next.Cert.SerialNumber) == 0
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

var quiet = slog.New(slog.DiscardHandler)
