package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/certs"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestTLSConfig: the TLS settings come from flags, variables and the file
// as every setting does, and must go together.
func TestTLSConfig(t *testing.T) {
	c, _, err := load(t, []string{"--config", "$FILE", "--tls-ca-cert-file", "/etc/sessiond/ca.crt"},
		map[string]string{"SESSIOND_TLS_KEY_FILE": "/etc/sessiond/server.key"},
		"tls-addr = \"0.0.0.0:6380\"\ntls-cert-file = \"/etc/sessiond/server.crt\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := certs.Files{Cert: "/etc/sessiond/server.crt", Key: "/etc/sessiond/server.key", CA: "/etc/sessiond/ca.crt"}
	if c.TLSAddr != "0.0.0.0:6380" || c.TLS != want {
		t.Fatalf("TLSAddr %q, TLS %+v; want 0.0.0.0:6380, %+v", c.TLSAddr, c.TLS, want)
	}
	if got := c.settingTexts(); got["tls-cert-file"] != want.Cert || got["tls-addr"] != "0.0.0.0:6380" {
		t.Fatalf("settingTexts: tls-cert-file %q, tls-addr %q", got["tls-cert-file"], got["tls-addr"])
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"--tls-addr", ":6380"},
			"config: tls-addr serves TLS, which needs tls-cert-file and tls-key-file; neither is set"},
		{"no key file", []string{"--tls-addr", ":6380", "--tls-cert-file", "server.crt"},
			"config: tls-addr serves TLS, which needs tls-key-file (the private key of tls-cert-file); it is not set"},
		{"no certificate file", []string{"--tls-addr", ":6380", "--tls-key-file", "server.key"},
			"config: tls-addr serves TLS, which needs tls-cert-file (the certificate of tls-key-file); it is not set"},
		{"files without a listener", []string{"--tls-cert-file", "server.crt", "--tls-key-file", "server.key"},
			"config: tls-cert-file is set, and tls-addr is not: set tls-addr to serve clients over TLS"},
		{"a CA without a listener", []string{"--tls-ca-cert-file", "ca.crt"},
			"config: tls-ca-cert-file is set, and tls-addr is not: set tls-addr to serve clients over TLS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, tt.args, nil, "")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("loadConfig: %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestRunTLSFileErrors: a certificate, key or CA that does not load stops
// the start, exit status 2, with one line naming the file, before the
// store is opened.
func TestRunTLSFileErrors(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "test CA")
	cert, key := ca.Server(t).Write(t, dir, "server")
	bad := filepath.Join(dir, "bad.crt")
	testkit.WriteFile(t, bad, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
	_, otherKey := ca.Server(t).Write(t, dir, "other")
	missing := filepath.Join(dir, "missing.key")
	storeDir := filepath.Join(dir, "data")

	for _, tt := range []struct {
		name          string
		cert, key, ca string
		setting, file string
		also          string
	}{
		{name: "bad certificate file", cert: bad, key: key, setting: "tls-cert-file", file: bad, also: "PEM"},
		{name: "missing key file", cert: cert, key: missing, setting: "tls-key-file", file: missing, also: "no such file or directory"},
		{name: "key of another certificate", cert: cert, key: otherKey, setting: "tls-key-file", file: otherKey, also: "does not match"},
		{name: "bad CA file", cert: cert, key: key, ca: key, setting: "tls-ca-cert-file", file: key, also: "PRIVATE KEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--tls-cert-file", tt.cert, "--tls-key-file", tt.key, "--dir", storeDir}
			if tt.ca != "" {
				args = append(args, "--tls-ca-cert-file", tt.ca)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, noEnv, &stdout, &stderr)
			want := "sessiond: config: " + tt.setting + " \"" + tt.file + "\": "
			if code != exitConfig || !strings.HasPrefix(stderr.String(), want) || !strings.Contains(stderr.String(), tt.also) || strings.Count(stderr.String(), "\n") != 1 {
				t.Fatalf("run = %d, stderr %q; want %d and one line starting %q, saying %q", code, &stderr, exitConfig, want, tt.also)
			}
		})
	}
	if m, _ := filepath.Glob(filepath.Join(storeDir, "*")); len(m) > 0 {
		t.Fatalf("the store was opened before the certificates were checked: %v", m)
	}
}

// TestRunTLS: sessiond serves TLS clients on --tls-addr, requires their
// certificates with --tls-ca-cert-file, and answers CONFIG GET with
// Redis's TLS settings; a TLS address in use says it is the TLS listener's.
func TestRunTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "test CA")
	cert, key := ca.Server(t).Write(t, dir, "server")
	caFile := ca.Write(t, dir, "ca")

	ctx, cancel := context.WithCancel(context.Background())
	stderr := &testkit.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0",
			"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", caFile}, noEnv, &bytes.Buffer{}, stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("run = %d, want %d:\n%s", code, exitOK, stderr)
		}
	}()
	addrRE := regexp.MustCompile(`msg=listening proto=resp-tls network=tcp addr=(\S+) tls-auth-clients=yes`)
	var addr string
	testkit.Eventually(t, 10*time.Second, "the TLS listener's line is logged", func() bool {
		m := addrRE.FindStringSubmatch(stderr.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	if !strings.Contains(stderr.String(), `msg="TLS certificate loaded" file=`+cert) {
		t.Errorf("the certificate's load was not logged:\n%s", stderr)
	}

	pair := ca.Client(t, "app").TLS(t)
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	_, port, _ := net.SplitHostPort(addr)
	for _, tt := range []struct{ cmd, want string }{
		{"PING\r\n", "+PONG\r\n"},
		{"CONFIG GET tls-port\r\n", "*2\r\n$8\r\ntls-port\r\n$" + strconv.Itoa(len(port)) + "\r\n" + port + "\r\n"},
		{"CONFIG GET tls-auth-clients\r\n", "*2\r\n$16\r\ntls-auth-clients\r\n$3\r\nyes\r\n"},
		{"CONFIG GET tls-cert-file\r\n", "*2\r\n$13\r\ntls-cert-file\r\n$" + strconv.Itoa(len(cert)) + "\r\n" + cert + "\r\n"},
	} {
		if _, err := nc.Write([]byte(tt.cmd)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(tt.want))
		if _, err := io.ReadFull(r, got); err != nil || string(got) != tt.want {
			t.Fatalf("%q: %q, %v; want %q", tt.cmd, got, err, tt.want)
		}
	}

	// A second sessiond on the same TLS address.
	var stderr2 bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--tls-addr", addr,
		"--tls-cert-file", cert, "--tls-key-file", key}, noEnv, &bytes.Buffer{}, &stderr2)
	want := "sessiond: server: the TLS listener cannot listen on " + addr + ": "
	if code != exitFailed || !strings.Contains(stderr2.String(), want) || !strings.Contains(stderr2.String(), "address already in use") {
		t.Fatalf("a second sessiond on %s: run = %d, stderr:\n%s\nwant %d and %q", addr, code, &stderr2, exitFailed, want)
	}
}
