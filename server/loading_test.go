package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// TestLoadingRefusesData: while the store loads its data directory,
// commands that touch data get Redis's LOADING error, which ioredis and
// node-redis wait on, and the others (PING, INFO) are served.
func TestLoadingRefusesData(t *testing.T) {
	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.ready.Store(false) // as until the store's Loaded closes
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Shutdown(context.Background())
	nc, err := net.DialTimeout("tcp", s.Addrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	ask := func(cmd, want string) {
		t.Helper()
		if _, err := nc.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Errorf("%s: %q, %v; want %q", cmd, line, err, want)
		}
	}
	ask("GET k", "-"+errLoading+"\r\n")
	ask("SET k v", "-"+errLoading+"\r\n")
	ask("DBSIZE", "-"+errLoading+"\r\n")
	ask("PING", "+PONG\r\n")
	s.ready.Store(true)
	ask("SET k v", "+OK\r\n")
}
