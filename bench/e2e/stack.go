package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
)

// stack is one store with its app in front of it.
type stack struct {
	store  *target.Server
	app    *exec.Cmd
	exited chan struct{} // closed when the app has exited
	appLog string
	url    string
	cookie string
}

// startStack starts a store and the Node app in front of it, and gets a
// session cookie from the app.
func startStack(ctx context.Context, name, bin, dir, e2eDir, transport string) (*stack, error) {
	store, err := target.Start(ctx, target.Config{Name: name, Binary: bin, Dir: dir})
	if err != nil {
		return nil, err
	}
	st := &stack{store: store, appLog: filepath.Join(dir, name+"-app.log")}
	storeURL := "redis://" + store.Addr
	if transport == "unix" {
		storeURL = "unix://" + store.Unix
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.stop()
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	st.url = fmt.Sprintf("http://127.0.0.1:%d", port)

	logFile, err := os.Create(st.appLog)
	if err != nil {
		st.stop()
		return nil, err
	}
	defer logFile.Close()
	st.app = exec.Command("node", "app.js")
	st.app.Dir = e2eDir
	st.app.Env = append(os.Environ(), "REDIS_URL="+storeURL, "PORT="+strconv.Itoa(port), "NODE_ENV=production")
	st.app.Stdout, st.app.Stderr = logFile, logFile
	st.app.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := st.app.Start(); err != nil {
		st.stop()
		return nil, fmt.Errorf("start node app.js: %w", err)
	}
	st.exited = make(chan struct{})
	go func() { st.app.Wait(); close(st.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, c, err := st.fetch(ctx, "/inc", "")
		if err == nil {
			st.cookie = c
			break
		}
		select {
		case <-st.exited:
			st.stop()
			return nil, fmt.Errorf("%s: node app.js exited:\n%s", name, tail(st.appLog, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			st.stop()
			return nil, fmt.Errorf("%s: app not ready in 30s: %v\n%s", name, err, tail(st.appLog, 20))
		}
	}
	if st.cookie == "" {
		st.stop()
		return nil, fmt.Errorf("%s: GET /inc set no session cookie", name)
	}
	return st, nil
}

// fetch requests path with an optional cookie and returns the body and
// the session cookie the response sets, if any, as name=value.
func (st *stack) fetch(ctx context.Context, path, cookie string) (body, setCookie string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", st.url+path, nil)
	if err != nil {
		return "", "", err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "connect.sid" {
			setCookie = c.Name + "=" + c.Value
		}
	}
	return strings.TrimSpace(string(b)), setCookie, nil
}

// counter returns the session's counter as GET / reports it.
func (st *stack) counter(ctx context.Context) (int, error) {
	body, _, err := st.fetch(ctx, "/", st.cookie)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(body)
}

func (st *stack) stop() {
	if st.exited != nil {
		_ = st.app.Process.Signal(syscall.SIGTERM)
		select {
		case <-st.exited:
		case <-time.After(5 * time.Second):
			_ = st.app.Process.Kill()
			<-st.exited
		}
	}
	if st.store != nil {
		st.store.Stop()
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
