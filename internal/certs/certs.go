// Package certs keeps a TLS server's certificate, its key and the CA that
// signs its clients' certificates, read from PEM files, and reloads them
// when the files change, with no restart: the tls.Config it gives the
// server asks it for the current ones at each handshake
// (GetConfigForClient), and Watch reads the files every Interval to see
// whether they changed.
//
// A change that does not load (a half-written file, a key that is not the
// certificate's) is logged with the file it is about, and the certificates
// loaded before stay in use until the files change again. Connections open
// already keep the certificate they were made with.
//
// The settings are named as Redis names them (tls-cert-file, tls-key-file,
// tls-ca-cert-file), which are the sessiond command's flags too.
package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Files names the files of a TLS server.
type Files struct {
	// Cert is the PEM file of the server's certificate, followed by the
	// intermediate certificates, if any, that clients need to verify it.
	// Required.
	Cert string
	// Key is the PEM file of the certificate's private key. Required.
	Key string
	// CA, if set, is a PEM file of the certificates of the authorities
	// that sign clients' certificates: every client must then present a
	// certificate one of them signed (tls.RequireAndVerifyClientCert).
	// Empty: clients present none.
	CA string
}

// Config configures a Source.
type Config struct {
	Files
	// Interval is the least time between two looks at the files. If
	// zero, one second.
	Interval time.Duration
	// Logger receives the reloads and the files that failed to load. If
	// nil, slog.Default().
	Logger *slog.Logger
}

// The names of the settings each file is given by, in errors and logs.
const (
	certSetting = "tls-cert-file"
	keySetting  = "tls-key-file"
	caSetting   = "tls-ca-cert-file"
)

// A FileError is a file that did not load.
type FileError struct {
	// Setting is Redis's name of the file's setting: tls-cert-file,
	// tls-key-file or tls-ca-cert-file.
	Setting string
	// Path is the file's path.
	Path string
	// Err says what was wrong.
	Err error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s %q: %v", e.Setting, e.Path, e.Err) }

func (e *FileError) Unwrap() error { return e.Err }

// ErrMissing is the error for a Files without a certificate or a key.
var ErrMissing = errors.New("a TLS certificate needs both a certificate file (tls-cert-file) and a key file (tls-key-file)")

// Source is the certificates of a Files, as last loaded.
type Source struct {
	cfg Config
	log *slog.Logger

	cur atomic.Pointer[tls.Config] // the configuration handshakes use

	mu   sync.Mutex // held by the look at the files under way
	seen [3]stamp   // the files (cert, key, CA) as last looked at
}

// Load loads the files of cfg and returns their Source. An error is a
// *FileError naming the file, or ErrMissing.
func Load(cfg Config) (*Source, error) {
	if cfg.Cert == "" || cfg.Key == "" {
		return nil, ErrMissing
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	s := &Source{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.seen = s.stamps()
	c, leaf, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(c)
	s.logLoaded("TLS certificate loaded", leaf)
	return s, nil
}

// TLSConfig returns the configuration for the server's listener: each
// handshake gets the certificates last loaded. Its fields but
// GetConfigForClient are those of the certificates loaded first, for
// callers that read them (ClientAuth, which a reload does not change).
func (s *Source) TLSConfig() *tls.Config {
	c := s.cur.Load().Clone()
	c.Certificates = nil
	c.GetConfigForClient = s.forClient
	return c
}

// Current returns the configuration that handshakes use now.
func (s *Source) Current() *tls.Config { return s.cur.Load() }

func (s *Source) forClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return s.cur.Load(), nil
}

// Watch looks at the files every Interval (Check) until ctx ends. A
// goroutine rather than handshakes does it, so that a replacement that
// does not load is logged when it is made, not at the next connection.
func (s *Source) Watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Check()
		}
	}
}

// Check looks at the files now and loads them again if any changed since
// the last look. It returns false if they changed and did not load; that
// is logged, and the certificates loaded before stay in use.
func (s *Source) Check() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.stamps()
	if now == s.seen {
		return true
	}
	// A failure is not tried again until the files change again: a
	// rotation that writes the certificate, then the key, fails between
	// the two, and loads once the key is in place.
	s.seen = now
	c, leaf, err := s.load()
	if err != nil {
		s.log.Error("TLS certificates changed but did not load: the ones loaded before are kept", "err", err)
		return false
	}
	s.cur.Store(c)
	s.logLoaded("TLS certificate reloaded", leaf)
	return true
}

func (s *Source) logLoaded(msg string, leaf *x509.Certificate) {
	s.log.Info(msg, "file", s.cfg.Cert, "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.Text(16),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "client_ca", s.cfg.CA)
	switch now := time.Now(); {
	case now.After(leaf.NotAfter):
		s.log.Warn("the TLS certificate has expired: clients will refuse it", "file", s.cfg.Cert, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		s.log.Warn("the TLS certificate is not valid yet: clients will refuse it", "file", s.cfg.Cert, "not_before", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
}

// load reads the files and returns the configuration they make and the
// server's certificate.
func (s *Source) load() (*tls.Config, *x509.Certificate, error) {
	certPEM, chain, err := readCerts(certSetting, s.cfg.Cert)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := readFile(keySetting, s.cfg.Key)
	if err != nil {
		return nil, nil, err
	}
	// The certificate parsed: what X509KeyPair finds wrong now is the
	// key, or that it is not the certificate's.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, &FileError{keySetting, s.cfg.Key, fmt.Errorf("%w (with the certificate in %s)", err, s.cfg.Cert)}
	}
	c := &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}
	if s.cfg.CA != "" {
		_, cas, err := readCerts(caSetting, s.cfg.CA)
		if err != nil {
			return nil, nil, err
		}
		pool := x509.NewCertPool()
		for _, ca := range cas {
			pool.AddCert(ca)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, chain[0], nil
}

func readFile(setting, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the FileError names the path
		}
		return nil, &FileError{setting, path, err}
	}
	return b, nil
}

// readCerts reads the PEM file of certificates at path and returns it and
// its certificates.
func readCerts(setting, path string) ([]byte, []*x509.Certificate, error) {
	data, err := readFile(setting, path)
	if err != nil {
		return nil, nil, err
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, nil, &FileError{setting, path, err}
	}
	return data, certs, nil
}

// parseCerts returns the certificates of the PEM file data, which must
// have at least one and nothing else.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %q PEM block where a certificate should be", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}

// A stamp is what a look at a file sees of it: its content's hash, or the
// error reading it. The content, not the size and time of a stat: the
// files are a few kilobytes, and a key replaced by another of the same
// size within the file system's clock tick has the same stat.
type stamp struct {
	sum [sha256.Size]byte
	err string
}

func (s *Source) stamps() [3]stamp {
	return [3]stamp{stampOf(s.cfg.Cert), stampOf(s.cfg.Key), stampOf(s.cfg.CA)}
}

func stampOf(path string) stamp {
	if path == "" {
		return stamp{}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return stamp{err: err.Error()}
	}
	return stamp{sum: sha256.Sum256(b)}
}
