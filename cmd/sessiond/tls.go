package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sessiond/sessiond/internal/certs"
)

// checkTLS checks that the TLS settings go together: a TLS listener needs
// a certificate and its key, and the files without a listener are a
// mistake (whoever set them believes clients are served over TLS).
func (c *Config) checkTLS() error {
	f := c.TLS
	switch {
	case c.TLSAddr != "" && f.Cert == "" && f.Key == "":
		return errors.New("config: tls-addr serves TLS, which needs tls-cert-file and tls-key-file; neither is set")
	case c.TLSAddr != "" && f.Key == "":
		return errors.New("config: tls-addr serves TLS, which needs tls-key-file (the private key of tls-cert-file); it is not set")
	case c.TLSAddr != "" && f.Cert == "":
		return errors.New("config: tls-addr serves TLS, which needs tls-cert-file (the certificate of tls-key-file); it is not set")
	case c.TLSAddr == "" && (f.Cert != "" || f.Key != "" || f.CA != ""):
		name := "tls-cert-file"
		switch {
		case f.Cert != "":
		case f.Key != "":
			name = "tls-key-file"
		default:
			name = "tls-ca-cert-file"
		}
		return fmt.Errorf("config: %s is set, and tls-addr is not: set tls-addr to serve clients over TLS", name)
	}
	return nil
}

// loadTLS loads the TLS listener's files, if it has one, and returns its
// configuration, which serves them as they are reloaded when they change,
// until ctx ends. A file that does not load is an error naming it.
func loadTLS(ctx context.Context, c *Config, log *slog.Logger) (*tls.Config, error) {
	if c.TLSAddr == "" {
		return nil, nil
	}
	src, err := certs.Load(certs.Config{Files: c.TLS, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	go src.Watch(ctx)
	return src.TLSConfig(), nil
}
