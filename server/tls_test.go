package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/certs"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// tlsFixture is a CA, a server certificate it issued in files, and a
// server with a TLS listener serving them through certs.Source (the files
// looked at every 20ms, so that a test sees a reload at once).
type tlsFixture struct {
	*testServer
	ca      *testkit.CA
	dir     string
	files   certs.Files
	tlsAddr string
	log     *testkit.Buffer
}

// startTLS starts a server whose TLS listener has a certificate from a new
// CA; with clientCA, clients must present a certificate that CA signed
// (the same CA).
func startTLS(t *testing.T, cfg server.Config, clientCA bool) *tlsFixture {
	t.Helper()
	f := &tlsFixture{ca: testkit.NewCA(t, "sessiond test CA"), dir: t.TempDir(), log: &testkit.Buffer{}}
	f.files.Cert, f.files.Key = f.ca.Server(t).Write(t, f.dir, "server")
	if clientCA {
		f.files.CA = f.ca.Write(t, f.dir, "ca")
	}
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	src, err := certs.Load(certs.Config{Files: f.files, Interval: 20 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	go src.Watch(t.Context())
	cfg.TLSAddr = "127.0.0.1:0"
	cfg.TLSConfig = src.TLSConfig()
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	f.testServer = startServer(t, cfg, nil)
	a := f.srv.TLSAddrs()
	if len(a) != 1 {
		t.Fatalf("TLSAddrs() = %v, want one address", a)
	}
	f.tlsAddr = a[0].String()
	for _, plain := range f.srv.Addrs() {
		if plain.String() == f.tlsAddr {
			t.Fatalf("Addrs() = %v lists the TLS listener", f.srv.Addrs())
		}
	}
	return f
}

// clientConfig returns a client configuration that trusts the fixture's CA
// and presents cert, if not nil, whatever CAs the server asks for, as
// OpenSSL's clients do (Go's would present none that no CA asked for
// signed, and the server would not see it).
func (f *tlsFixture) clientConfig(t *testing.T, cert *testkit.Leaf) *tls.Config {
	c := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost"}
	if cert != nil {
		pair := cert.TLS(t)
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return c
}

// dialTLS connects to the TLS listener with cfg and completes the
// handshake, or returns its error.
func (f *tlsFixture) dialTLS(t *testing.T, cfg *tls.Config) (*client, *tls.Conn, error) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", f.tlsAddr)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { nc.Close() })
	tc := nc.(*tls.Conn)
	return &client{t: t, nc: tc, br: bufioReader(tc)}, tc, nil
}

// mustDialTLS is dialTLS that fails the test on an error.
func (f *tlsFixture) mustDialTLS(t *testing.T, cfg *tls.Config) (*client, *tls.Conn) {
	t.Helper()
	c, tc, err := f.dialTLS(t, cfg)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", f.tlsAddr, err)
	}
	return c, tc
}

// refused checks that a client with cfg is not served: its handshake
// fails, or (TLS 1.3, where the client finishes first) its first command
// gets no reply but the server's alert. It returns the error the client
// saw.
func (f *tlsFixture) refused(t *testing.T, cfg *tls.Config) error {
	t.Helper()
	c, _, err := f.dialTLS(t, cfg)
	if err != nil {
		return err
	}
	c.send("PING")
	r, err := c.readErr()
	if err == nil {
		t.Fatalf("a client the server should refuse was served: PING = %q", r.Raw)
	}
	return err
}

func serial(tc *tls.Conn) string {
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestTLSServes: a Go TLS client that trusts the CA completes a handshake
// at TLS 1.2 or later, and is served as a TCP client is: commands, CLIENT
// LIST, connected_clients; CONFIG GET answers Redis's TLS settings.
func TestTLSServes(t *testing.T) {
	f := startTLS(t, server.Config{}, false)
	c, tc := f.mustDialTLS(t, f.clientConfig(t, nil))
	if v := tc.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Fatalf("negotiated %s, want TLS 1.2 or later", tls.VersionName(v))
	}
	checkServes(t, c)
	c.expect("$5\r\nhello\r\n", "ECHO", "hello")
	plain := f.dial(t)
	plain.expect("+OK\r\n", "SET", "k", "over tcp")
	c.expect("$8\r\nover tcp\r\n", "GET", "k")
	if n := connectedClients(t, plain); n != 2 {
		t.Fatalf("connected_clients = %d, want 2 (TCP and TLS)", n)
	}
	list, _ := c.do("CLIENT", "LIST").V.(string)
	if !strings.Contains(list, "laddr="+f.tlsAddr) {
		t.Fatalf("CLIENT LIST has no connection on the TLS listener %s:\n%s", f.tlsAddr, list)
	}
	_, port, _ := net.SplitHostPort(f.tlsAddr)
	c.expect("*2\r\n$8\r\ntls-port\r\n$"+itoa(len(port))+"\r\n"+port+"\r\n", "CONFIG", "GET", "tls-port")
	c.expect("*2\r\n$16\r\ntls-auth-clients\r\n$2\r\nno\r\n", "CONFIG", "GET", "tls-auth-clients")
	// The plain listener's port is still the port.
	_, plainPort, _ := net.SplitHostPort(f.tcp)
	c.expect("*2\r\n$4\r\nport\r\n$"+itoa(len(plainPort))+"\r\n"+plainPort+"\r\n", "CONFIG", "GET", "port")

	// An old client is refused.
	old := f.clientConfig(t, nil)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, _, err := f.dialTLS(t, old); err == nil {
		t.Fatal("a TLS 1.1 client completed a handshake, want TLS 1.2 at least")
	}
	// So is one that does not trust the server's CA: its own check.
	other := testkit.NewCA(t, "another CA")
	if _, _, err := f.dialTLS(t, &tls.Config{RootCAs: other.Pool(), ServerName: "localhost"}); err == nil {
		t.Fatal("a client trusting another CA accepted the server's certificate")
	}
}

// TestTLSClientCertificates: with a client CA, a client must present a
// certificate that CA signed; one with none, or with one from another CA,
// is refused, and is never a client (connected_clients,
// total_connections_received, CLIENT LIST).
func TestTLSClientCertificates(t *testing.T) {
	f := startTLS(t, server.Config{}, true)
	plain := f.dial(t)
	c, tc := f.mustDialTLS(t, f.clientConfig(t, f.ca.Client(t, "app")))
	checkServes(t, c)
	if got := tc.ConnectionState().Version; got < tls.VersionTLS12 {
		t.Fatalf("negotiated %s", tls.VersionName(got))
	}
	c.expect("*2\r\n$16\r\ntls-auth-clients\r\n$3\r\nyes\r\n", "CONFIG", "GET", "tls-auth-clients")

	other := testkit.NewCA(t, "another CA")
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		want string // in the client's error: the alert the server sent
	}{
		{"no certificate", f.clientConfig(t, nil), "certificate required"},
		{"a certificate from another CA", f.clientConfig(t, other.Client(t, "intruder")), "unknown certificate authority"},
		{"a certificate from another CA at TLS 1.2", func() *tls.Config {
			c := f.clientConfig(t, other.Client(t, "intruder"))
			c.MaxVersion = tls.VersionTLS12
			return c
		}(), "unknown certificate authority"},
		// The right CA, but a certificate for a server, which a
		// client may not present.
		{"a server's certificate", f.clientConfig(t, f.ca.Server(t)), "bad certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.refused(t, tc.cfg); !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused with %v, want the server's %q", err, tc.want)
			}
		})
	}
	if n := connectedClients(t, plain); n != 2 {
		t.Fatalf("connected_clients = %d after the refused handshakes, want 2", n)
	}
	if got := infoField(t, plain, "total_connections_received"); got != "2" {
		t.Fatalf("total_connections_received = %s, want 2: a failed handshake is no connection", got)
	}
	if list, _ := plain.do("CLIENT", "LIST").V.(string); strings.Count(list, "\n") != 2 {
		t.Fatalf("CLIENT LIST shows more than the two clients:\n%s", list)
	}
	if !strings.Contains(f.log.String(), "TLS handshake failed") {
		t.Fatalf("the refused handshakes were not logged:\n%s", f.log)
	}
}

// TestTLSPasswordAndTimeout: requirepass and the idle timeout apply to TLS
// clients.
func TestTLSPasswordAndTimeout(t *testing.T) {
	f := startTLS(t, server.Config{RequirePass: "s3cret", Timeout: 300 * time.Millisecond}, false)
	c, _ := f.mustDialTLS(t, f.clientConfig(t, nil))
	c.expect(noAuth, "GET", "k")
	c.expect("+OK\r\n", "AUTH", "s3cret")
	checkServes(t, c)
	// Idle past the timeout: closed.
	c.timeout = 5 * time.Second
	if _, err := c.readErr(); err == nil {
		t.Fatal("an idle TLS client past the timeout got a reply, want the connection closed")
	}
}

// TestTLSHandshakeBounded: a connection that never finishes its handshake
// is closed after TLSHandshakeTimeout and is never a client meanwhile; one
// under way counts against maxclients; Shutdown does not wait for it.
func TestTLSHandshakeBounded(t *testing.T) {
	f := startTLS(t, server.Config{TLSHandshakeTimeout: 300 * time.Millisecond, MaxClients: 2}, false)
	plain := f.dial(t)
	silent, err := net.Dial("tcp", f.tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Under way: not a client, but it takes the last place.
	testkit.Eventually(t, 5*time.Second, "connected_clients is 1", func() bool { return connectedClients(t, plain) == 1 })
	if c, _, err := f.dialTLS(t, f.clientConfig(t, nil)); err == nil {
		c.send("PING")
		if r, err := c.readErr(); err == nil {
			t.Fatalf("a TLS client past maxclients (one client, one handshake under way) was served: %q", r.Raw)
		}
	}
	if got := infoField(t, plain, "rejected_connections"); got != "1" {
		t.Fatalf("rejected_connections = %s, want 1", got)
	}
	start := time.Now()
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a connection silent in its handshake: read %d bytes, %v; want it closed", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the silent handshake was closed after %v, want about 300ms", d)
	}
	if !strings.Contains(f.log.String(), "TLS handshake timed out") {
		t.Errorf("the timed out handshake was not logged:\n%s", f.log)
	}
	// Its place is free again (before the client could tell).
	c, _ := f.mustDialTLS(t, f.clientConfig(t, nil))
	checkServes(t, c)
	if _, _, err := f.dialTLS(t, f.clientConfig(t, nil)); err == nil {
		t.Fatal("a third TLS client completed its handshake past maxclients 2")
	}
	if got := infoField(t, plain, "rejected_connections"); got != "2" {
		t.Fatalf("rejected_connections = %s, want 2", got)
	}

	// A handshake under way does not hold Shutdown.
	silent2, err := net.Dial("tcp", f.tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent2.Close()
	c.nc.Close()
	plain.nc.Close()
	testkit.Eventually(t, 5*time.Second, "the clients have closed", func() bool { return f.srv.Stats().Clients == 0 })
	start = time.Now()
	if err := f.shutdown(t, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v with a handshake under way", d)
	}
}

// TestTLSProtectedMode: with no password, a TLS client from another
// address than loopback gets -DENIED, over TLS so that it can read it.
func TestTLSProtectedMode(t *testing.T) {
	host := secondAddress(t)
	f := startTLSOn(t, host)
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}}, Config: f.clientConfig(t, nil)}
	nc, err := d.Dial("tcp", f.tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, br: bufioReader(nc)}
	c.send("PING")
	r, err := c.readErr()
	if err != nil || !strings.HasPrefix(r.Raw, "-DENIED ") {
		t.Fatalf("a TLS client from %s: %q, %v; want -DENIED", host, r.Raw, err)
	}
}

// startTLSOn is startTLS with the TLS listener on host.
func startTLSOn(t *testing.T, host string) *tlsFixture {
	t.Helper()
	f := &tlsFixture{ca: testkit.NewCA(t, "sessiond test CA"), dir: t.TempDir(), log: &testkit.Buffer{}}
	leaf := f.ca.Server(t)
	pair := leaf.TLS(t)
	cfg := server.Config{TLSAddr: net.JoinHostPort(host, "0"), TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}}}
	f.testServer = startServer(t, cfg, nil)
	f.tlsAddr = f.srv.TLSAddrs()[0].String()
	return f
}

// TestTLSReload: certificates replaced in their files are served to new
// connections while open ones go on; a replacement that does not load
// keeps the old certificate and logs the file; a new client CA refuses the
// old CA's clients and accepts the new one's.
func TestTLSReload(t *testing.T) {
	f := startTLS(t, server.Config{}, true)
	appCert := f.ca.Client(t, "app")
	old, oldTC := f.mustDialTLS(t, f.clientConfig(t, appCert))
	checkServes(t, old)
	oldSerial := serial(oldTC)

	next := f.ca.Server(t)
	next.Write(t, f.dir, "server")
	var newSerial string
	testkit.Eventually(t, 5*time.Second, "new connections are served the new certificate", func() bool {
		_, tc := f.mustDialTLS(t, f.clientConfig(t, appCert))
		newSerial = serial(tc)
		return newSerial == next.Cert.SerialNumber.String()
	})
	if newSerial == oldSerial {
		t.Fatal("the new certificate has the old serial")
	}
	checkServes(t, old) // the connection made before goes on
	if got := serial(oldTC); got != oldSerial {
		t.Fatalf("the open connection's certificate changed: %s", got)
	}

	// A certificate that does not load: logged with its file, the last
	// good one served.
	testkit.WriteFile(t, f.files.Cert, []byte("not a certificate"))
	testkit.Eventually(t, 5*time.Second, "a certificate that did not load is logged with its file", func() bool {
		return strings.Contains(f.log.String(), "did not load") && strings.Contains(f.log.String(), f.files.Cert)
	})
	_, tc := f.mustDialTLS(t, f.clientConfig(t, appCert))
	if got := serial(tc); got != newSerial {
		t.Fatalf("after a bad certificate, serial %s served, want the last good one %s", got, newSerial)
	}
	// A key that is not the certificate's: logged with the key file.
	next.Write(t, f.dir, "server")
	testkit.WriteFile(t, f.files.Key, f.ca.Server(t).KeyPEM)
	testkit.Eventually(t, 5*time.Second, "a key that is not the certificate's is logged with its file",
		func() bool { return strings.Contains(f.log.String(), f.files.Key) })
	_, tc = f.mustDialTLS(t, f.clientConfig(t, appCert))
	if got := serial(tc); got != newSerial {
		t.Fatalf("after a mismatched key, serial %s served, want %s", got, newSerial)
	}
	next.Write(t, f.dir, "server")

	// A new client CA: the old CA's clients are refused, the new one's
	// served, and the connection made before goes on.
	ca2 := testkit.NewCA(t, "the next CA")
	ca2.Write(t, f.dir, "ca")
	appCert2 := ca2.Client(t, "app")
	testkit.Eventually(t, 5*time.Second, "a client of the new CA is served", func() bool {
		c, _, err := f.dialTLS(t, f.clientConfig(t, appCert2))
		if err != nil {
			return false
		}
		c.send("PING")
		r, err := c.readErr()
		return err == nil && r.Raw == "+PONG\r\n"
	})
	if err := f.refused(t, f.clientConfig(t, appCert)); !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("a client of the old CA refused with %v, want the server's unknown certificate authority", err)
	}
	checkServes(t, old)
}

// TestTLSResumptionAfterCARotation: a client that resumes a TLS session
// after the client CA changed is checked against the new CA, not let in on
// its old ticket.
func TestTLSResumptionAfterCARotation(t *testing.T) {
	f := startTLS(t, server.Config{}, true)
	cfg := f.clientConfig(t, f.ca.Client(t, "app"))
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	c, _ := f.mustDialTLS(t, cfg)
	checkServes(t, c) // a read takes in the session ticket
	c2, tc2 := f.mustDialTLS(t, cfg)
	checkServes(t, c2)
	if !tc2.ConnectionState().DidResume {
		t.Fatal("the second connection did not resume the session: the test checks nothing")
	}
	testkit.NewCA(t, "the next CA").Write(t, f.dir, "ca")
	testkit.Eventually(t, 5*time.Second, "the new CA is loaded", func() bool { return strings.Contains(f.log.String(), "TLS certificate reloaded") })
	if err := f.refused(t, cfg); !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("refused with %v, want the server's unknown certificate authority", err)
	}
}
