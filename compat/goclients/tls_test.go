package goclients

import (
	"crypto/tls"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// tlsSetup is a CA, the server's certificate it issued in files, a client
// certificate in files, and a server serving TLS with them, requiring
// client certificates from the CA.
type tlsSetup struct {
	ca                    *testkit.CA
	dir                   string
	files                 harness.TLSFiles
	client                *testkit.Leaf
	clientCert, clientKey string
	srv                   *harness.Server
}

func startTLS(t *testing.T) *tlsSetup {
	t.Helper()
	s := &tlsSetup{ca: testkit.NewCA(t, "sessiond compat CA"), dir: t.TempDir()}
	s.files.Cert, s.files.Key = s.ca.Server(t).Write(t, s.dir, "server")
	s.files.CA = s.ca.Write(t, s.dir, "ca")
	s.client = s.ca.Client(t, "app")
	s.clientCert, s.clientKey = s.client.Write(t, s.dir, "client")
	s.srv = harness.StartTarget(t, harness.Target{TLS: &s.files})
	if s.srv.TLSAddr == "" {
		t.Fatal("the server opened no TLS listener")
	}
	return s
}

// tlsOptions are go-redis options for the TLS listener with cfg.
func (s *tlsSetup) tlsOptions(cfg *tls.Config) *redis.Options {
	opt := clientOptions(s.srv, variant{protocol: 3})
	opt.Addr = s.srv.TLSAddr
	opt.TLSConfig = cfg
	return opt
}

// clientTLS is the tls.Config an application gives go-redis: the CA to
// trust and its certificate.
func (s *tlsSetup) clientTLS(t *testing.T, cert *testkit.Leaf) *tls.Config {
	return &tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{cert.TLS(t)}}
}

// TestTLSGoRedis: go-redis with a tls.Config is served over TLS; a client
// with a certificate from another CA, or none, is refused.
func TestTLSGoRedis(t *testing.T) {
	t.Parallel()
	s := startTLS(t)
	ctx := testContext(t)
	rdb := newClient(t, s.tlsOptions(s.clientTLS(t, s.client)))
	ok(t, rdb.Set(ctx, "sess:tls", `{"user":"alice"}`, time.Minute))
	want(t, rdb.Get(ctx, "sess:tls"), `{"user":"alice"}`)
	wantTTL(t, rdb.TTL(ctx, "sess:tls"), 58*time.Second, time.Minute)
	// A pipeline, through TLS records.
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 100 {
			p.Set(ctx, fmt.Sprintf("sess:%d", i), fmt.Sprintf("v%d", i), time.Minute)
		}
		p.Get(ctx, "sess:99")
		return nil
	})
	if err != nil || cmds[100].(*redis.StringCmd).Val() != "v99" {
		t.Fatalf("pipeline of 101 over TLS: %v", err)
	}
	// A value larger than a TLS record (16 KiB).
	big := string(make([]byte, 100<<10))
	ok(t, rdb.Set(ctx, "sess:big", big, time.Minute))
	if got := ok(t, rdb.Get(ctx, "sess:big")).Val(); got != big {
		t.Fatalf("a 100 KiB value came back as %d bytes", len(got))
	}

	other := testkit.NewCA(t, "another CA")
	intruder := other.Client(t, "intruder").TLS(t)
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		want string // in the client's error: the alert the server sent
	}{
		// Go's client presents no certificate that none of the CAs
		// the server names signed; OpenSSL's (redis-cli, Node) do,
		// and so does this one, for the server to refuse it.
		{"a certificate from another CA", &tls.Config{RootCAs: s.ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &intruder, nil }},
			"unknown certificate authority"},
		{"no certificate", &tls.Config{RootCAs: s.ca.Pool()}, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := s.tlsOptions(tc.cfg)
			opt.PoolSize = 1
			c := newClient(t, opt)
			if err := c.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PING: %v; want the connection refused with the server's %q", err, tc.want)
			}
		})
	}
	t.Run("trusting another CA", func(t *testing.T) {
		c := newClient(t, s.tlsOptions(&tls.Config{RootCAs: other.Pool(), Certificates: []tls.Certificate{s.client.TLS(t)}}))
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatal("a client trusting another CA accepted the server's certificate")
		}
	})
}

// TestTLSRotation: the server's certificate and key are replaced in their
// files while a go-redis connection is open and busy: it keeps working on
// the certificate it had, and a new connection is served the new one
// (its serial). Against Redis itself, which reloads its files on CONFIG
// SET only, the test sets them.
func TestTLSRotation(t *testing.T) {
	t.Parallel()
	s := startTLS(t)
	ctx := testContext(t)

	var mu sync.Mutex
	var serials []*big.Int // the server certificate each connection saw
	cfg := s.clientTLS(t, s.client)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		mu.Lock()
		defer mu.Unlock()
		serials = append(serials, cs.PeerCertificates[0].SerialNumber)
		return nil
	}
	lastSerial := func() *big.Int {
		mu.Lock()
		defer mu.Unlock()
		if len(serials) == 0 {
			return nil
		}
		return serials[len(serials)-1]
	}
	rdb := newClient(t, s.tlsOptions(cfg))
	conn := rdb.Conn()
	defer conn.Close()
	id := ok(t, conn.ClientID(ctx)).Val()
	oldSerial := lastSerial()
	if oldSerial == nil {
		t.Fatal("VerifyConnection saw no certificate")
	}

	// Busy during the rotation: every command must succeed.
	stop := make(chan struct{})
	var done sync.WaitGroup
	var served, failed atomic.Int64
	var firstErr atomic.Value
	done.Add(1)
	go func() {
		defer done.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("sess:busy:%d", i%50)
			if err := conn.Set(ctx, k, i, time.Minute).Err(); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			served.Add(1)
		}
	}()

	next := s.ca.Server(t)
	next.Write(t, s.dir, "server")
	if harness.Reference() == "redis" {
		ok(t, rdb.ConfigSet(ctx, "tls-cert-file", s.files.Cert))
	}
	fresh := newClient(t, s.tlsOptions(cfg))
	testkit.Eventually(t, 10*time.Second, "a new connection is served the new certificate", func() bool {
		c := newClient(t, s.tlsOptions(cfg))
		defer c.Close()
		return c.Ping(ctx).Err() == nil && lastSerial().Cmp(next.Cert.SerialNumber) == 0
	})
	ok(t, fresh.Ping(ctx))
	if lastSerial().Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("a new connection after the reload saw serial %x, want the new %x", lastSerial(), next.Cert.SerialNumber)
	}
	n := served.Load()
	testkit.Eventually(t, 10*time.Second, "the open connection goes on serving", func() bool { return served.Load() > n+10 || failed.Load() > 0 })
	close(stop)
	done.Wait()
	if failed.Load() > 0 {
		t.Fatalf("the open connection failed during the rotation: %v", firstErr.Load())
	}
	if got := ok(t, conn.ClientID(ctx)).Val(); got != id {
		t.Fatalf("the open connection is client %d after the rotation, was %d: it reconnected", got, id)
	}
	want(t, conn.Ping(ctx), "PONG")
	t.Logf("%d commands on the open connection during the rotation; serials %x -> %x", served.Load(), oldSerial, next.Cert.SerialNumber)
}

// TestTLSRedisCLI: redis-cli --tls with the CA, a client certificate and
// its key is served; with a certificate from another CA it is refused.
func TestTLSRedisCLI(t *testing.T) {
	t.Parallel()
	harness.Need(t, "redis-cli")
	s := startTLS(t)
	host, port := hostPort(t, s.srv.TLSAddr)
	conn := []string{"--tls", "--cacert", s.files.CA, "--cert", s.clientCert, "--key", s.clientKey, "-h", host, "-p", port}
	wantOutput(t, cli(t, conn, "SET", "sess:cli", "over tls"), "OK\n")
	wantOutput(t, cli(t, conn, "GET", "sess:cli"), "over tls\n")
	wantOutput(t, cli(t, conn, "CONFIG", "GET", "tls-auth-clients"), "tls-auth-clients\nyes\n")

	other := testkit.NewCA(t, "another CA").Client(t, "intruder")
	cert, key := other.Write(t, s.dir, "intruder")
	o := cli(t, []string{"--tls", "--cacert", s.files.CA, "--cert", cert, "--key", key, "-h", host, "-p", port}, "GET", "sess:cli")
	if o.err == nil || o.stdout == "over tls\n" {
		t.Fatalf("redis-cli with another CA's certificate was served:\n%v", o)
	}
	if harness.Reference() == "" && !strings.Contains(s.srv.Log(), "certificate signed by unknown authority") {
		t.Fatalf("the server did not log refusing redis-cli's certificate from another CA:\n%s", s.srv.Log())
	}
	// Without --tls, a plain client gets nothing it can read as a reply.
	o = cli(t, []string{"-h", host, "-p", port}, "GET", "sess:cli")
	if o.err == nil || o.stdout == "over tls\n" {
		t.Fatalf("redis-cli without --tls was served on the TLS port:\n%v", o)
	}
}
