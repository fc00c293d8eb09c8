package resp

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests in this file compare the reader with a live Redis. They run
// only when SESSIOND_TEST_REDIS holds the address of one without a
// password, such as one started by
//
//	redis-server --port 7399 --save '' --appendonly no
//	SESSIOND_TEST_REDIS=127.0.0.1:7399 go test -run Redis ./internal/resp/
//
// They were last run against redis-server 7.0.15.

func redisAddr(t *testing.T) string {
	addr := os.Getenv("SESSIOND_TEST_REDIS")
	if addr == "" {
		t.Skip("SESSIOND_TEST_REDIS not set")
	}
	return addr
}

// notLikeRedis are the reader cases where it departs from Redis on
// purpose, and why.
var notLikeRedis = map[string]string{
	// Redis skips the two bytes after a bulk unread.
	"bulk not followed by CRLF": "strict",
	"bulk followed by CR only":  "strict",
	// Redis judges the length of a line only while its end has not
	// arrived, so a long line sent at once passes: it depends on reads.
	"too big mbulk count, then LF": "deterministic",
	"too big inline, then LF":      "deterministic",
	"inline one byte over":         "deterministic",
	// Redis, reading the line as a C string, waits at a NUL for ever.
	"NUL is a character": "C string",
	// Redis looks for the CR of a header, we for the LF; without a CR
	// Redis waits where we fail at once. Both fail once the CR comes.
	"count without CR": "waits",
	// Redis 7 takes counts up to 2^31-1; MaxArgs defaults to 2^20.
	"count over limit": "limit",
}

// TestReaderErrorsLikeRedis sends every case that must fail with a
// protocol error to Redis, and checks Redis fails with the same text.
func TestReaderErrorsLikeRedis(t *testing.T) {
	addr := redisAddr(t)
	for _, tt := range readerTests {
		pe, ok := tt.err.(*ProtocolError)
		if !ok || tt.lim != (Limits{}) || tt.unauth || notLikeRedis[tt.name] != "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, addr, tt.in)
			// Redis answers the commands before the error, which our
			// cases keep to simple ones.
			want := "-ERR " + strings.NewReplacer("\r", " ", "\n", " ").Replace(pe.Error()) + "\r\n"
			if !strings.HasSuffix(got, want) {
				t.Errorf("Redis answered %.200q, want it to end in %q", got, want)
			}
		})
	}
}

// exchange sends in on a new connection and returns all Redis answers
// until it closes the connection or is quiet for a while.
func exchange(t *testing.T, addr, in string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, in); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	out, _ := io.ReadAll(c)
	return string(out)
}

// TestInlineLikeRedis makes Redis split inline lines, by having it push
// their words onto a list and reading the list back, and checks that the
// reader splits them alike.
func TestInlineLikeRedis(t *testing.T) {
	addr := redisAddr(t)
	lines := []string{
		`"a b" 'c d'`, `a"b c" d'e f'`, `"\x41\x4a\x4" "\x4g" "\q\n"`, `'a\'b' 'c\d'`,
		"a\vb c\fd", "\va \f\"b\"\v'c'\f", "a\f\"b\"", `"" ''`, `x"" y`, "a\rb", "a\r",
		`"abc`, `"abc\"`, `'abc`, `""x`, `"a"'b'`, `a"b c"d`, `"a\`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab \t\v\f\r\"'\\x4Fn"
	for range 500 {
		line := make([]byte, 1+rng.IntN(12))
		for i := range line {
			line[i] = alphabet[rng.IntN(len(alphabet))]
		}
		lines = append(lines, string(line))
	}
	for _, line := range lines {
		args, err := NewReader(strings.NewReader("RPUSH l "+line+"\r\n"), Limits{}).ReadCommand()
		redis, redisErr := redisSplit(t, addr, line)
		switch {
		case err != nil || redisErr != "":
			want := ""
			if err != nil {
				want = "ERR " + err.Error()
			}
			if redisErr != want {
				t.Errorf("%q: Redis says %q, reader %v", line, redisErr, err)
			}
		case !slices.Equal(toStrings(args[2:]), redis):
			t.Errorf("%q: Redis splits it %q, reader %q", line, redis, toStrings(args[2:]))
		}
	}
}

// redisSplit returns the words Redis finds in the inline line, or the
// error it gives. A line of no words is the error of RPUSH without values.
func redisSplit(t *testing.T, addr, line string) ([]string, string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	key := fmt.Sprintf("resp-test:%d", time.Now().UnixNano())
	fmt.Fprintf(c, "%sRPUSH %s %s\r\n%s%s", cmd("DEL", key), key, line, cmd("LRANGE", key, "0", "-1"), cmd("DEL", key))
	br := bufio.NewReader(c)
	if _, err := readReply(br); err != nil { // DEL
		t.Fatal(err)
	}
	reply, err := readReply(br) // RPUSH
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := reply.(redisError); ok {
		if strings.HasPrefix(string(e), "ERR wrong number of arguments") {
			return nil, ""
		}
		return nil, string(e)
	}
	reply, err = readReply(br) // LRANGE
	if err != nil {
		t.Fatal(err)
	}
	return reply.([]string), ""
}

type redisError string

// readReply reads one reply: an error, an integer, a bulk string or an
// array of bulk strings: what the tests above get.
func readReply(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '-':
		return redisError(line[1:]), nil
	case ':', '+':
		return line[1:], nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		a := []string{}
		for range n {
			s, err := readReply(br)
			if err != nil {
				return nil, err
			}
			a = append(a, s.(string))
		}
		return a, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}
