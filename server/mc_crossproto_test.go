package server_test

import (
	"strconv"
	"testing"

	"github.com/sessiond/sessiond/server"
)

// A session written by one protocol is read by the other: the same key, the
// same bytes, the same time to live.
func TestMemcacheCrossProtocol(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	r := ts.dial(t)

	// memcache to RESP.
	v := `{"cookie":{"maxAge":86400},"user":"\r\n\u00e9"}`
	c.do("set sess:mc 2 3600 "+strconv.Itoa(len(v))+"\r\n"+v+"\r\n", "STORED\r\n")
	r.expect(bulk(v), "GET", "sess:mc")
	r.expect(":3600\r\n", "TTL", "sess:mc")
	c.do("set sess:bin 0 0 4\r\n\x00\r\n\xff\r\n", "STORED\r\n")
	r.expect(bulk("\x00\r\n\xff"), "GET", "sess:bin")
	r.expect(":-1\r\n", "TTL", "sess:bin")
	c.do("touch sess:mc 60\r\n", "TOUCHED\r\n")
	r.expect(":60\r\n", "TTL", "sess:mc")
	c.do("delete sess:mc\r\n", "DELETED\r\n")
	r.expect("$-1\r\n", "GET", "sess:mc")

	// RESP to memcache: flags 0.
	r.expect("+OK\r\n", "SET", "sess:resp", v, "EX", "120")
	c.do("get sess:resp\r\n", "VALUE sess:resp 0 "+strconv.Itoa(len(v))+"\r\n"+v+"\r\nEND\r\n")
	c.do("gat 0 sess:resp\r\n", "VALUE sess:resp 0 "+strconv.Itoa(len(v))+"\r\n"+v+"\r\nEND\r\n")
	r.expect(":-1\r\n", "TTL", "sess:resp")
	r.expect(":1\r\n", "EXPIRE", "sess:resp", "30")
	c.do("gat 90 sess:resp\r\n", "VALUE sess:resp 0 "+strconv.Itoa(len(v))+"\r\n"+v+"\r\nEND\r\n")
	r.expect(":90\r\n", "TTL", "sess:resp")
	r.expect(":1\r\n", "DEL", "sess:resp")
	c.do("get sess:resp\r\n", "END\r\n")

	// A RESP write changes the cas unique.
	c.do("set k 0 0 1\r\nx\r\n", "STORED\r\n")
	cas := c.gets("k")
	r.expect("+OK\r\n", "SET", "k", "y", "KEEPTTL")
	if c.gets("k") == cas {
		t.Error("a write over RESP left the cas unique unchanged")
	}
	// Both protocols count in INFO; stats counts memcache's own.
	if n := connectedClients(t, r); n != 2 {
		t.Errorf("connected_clients = %d with one RESP and one memcache connection, want 2", n)
	}
	if st := c.stats(""); st["curr_connections"] != "1" || st["cmd_get"] == "0" {
		t.Errorf("stats: curr_connections %s, cmd_get %s", st["curr_connections"], st["cmd_get"])
	}
}
