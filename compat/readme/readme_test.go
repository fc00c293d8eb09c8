package readme

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// A block is one fenced code block of the README.
type block struct {
	lang string
	text string
	line int // of the opening fence, for messages
}

// A section is the blocks under one "## " heading; its blocks run in
// order, against what its earlier blocks started.
type section struct {
	title  string
	blocks []block
}

// readme returns the README's sections that hold code blocks.
func readme(t *testing.T) []section {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var secs []section
	var cur *section
	var in *block
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case in != nil && line == "```":
			cur.blocks = append(cur.blocks, *in)
			in = nil
		case in != nil:
			in.text += line + "\n"
		case strings.HasPrefix(line, "```"):
			if cur == nil {
				t.Fatalf("README.md:%d: a code block before the first section", i+1)
			}
			in = &block{lang: strings.TrimPrefix(line, "```"), line: i + 1}
		case strings.HasPrefix(line, "## "):
			secs = append(secs, section{title: strings.TrimPrefix(line, "## ")})
			cur = &secs[len(secs)-1]
		}
	}
	if in != nil {
		t.Fatalf("README.md:%d: a code block never closed", in.line)
	}
	var out []section
	for _, s := range secs {
		if len(s.blocks) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// skipMark is the comment that exempts a command from the test, with the
// reason after it.
var skipMark = regexp.MustCompile(`#\s*not run by the README test: (\S.*)$`)

// TestReadme runs every section of the README that has code, each as a
// subtest named after its heading.
func TestReadme(t *testing.T) {
	secs := readme(t)
	if len(secs) < 8 {
		t.Fatalf("README.md has code in %d sections; the test expects the set-up, install, quick starts, cluster, production and configuration ones", len(secs))
	}
	for _, sec := range secs {
		t.Run(sec.title, func(t *testing.T) {
			r := newRunner(t)
			r.run(sec)
		})
	}
}

// A runner runs one section's blocks.
type runner struct {
	t     *testing.T
	dir   string            // the section's working directory
	ports map[int]int       // README port -> free port
	env   map[string]string // exported variables
	files map[string]string // README path (a TOML block's) -> file
	used  map[string]bool   // files a command loaded

	pkgJSON, js, goCode string // the section's package.json, app.js, main.go
	// unrun are the json, js and go blocks no command has used yet, by
	// their line: each must be, or it would pass untested.
	unrun map[string]int

	servers []*harness.Server // sessiond servers started, in order
}

func newRunner(t *testing.T) *runner {
	// A short directory: Unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &runner{t: t, dir: dir, ports: map[int]int{}, env: map[string]string{}, files: map[string]string{}, used: map[string]bool{}, unrun: map[string]int{}}
}

func (r *runner) run(sec section) {
	t := r.t
	// TOML files first: a command may load one shown after it.
	for _, b := range sec.blocks {
		if b.lang == "toml" {
			r.toml(b)
		}
	}
	for i := 0; i < len(sec.blocks); i++ {
		b := sec.blocks[i]
		var want *block
		if i+1 < len(sec.blocks) && sec.blocks[i+1].lang == "text" {
			want = &sec.blocks[i+1]
			i++
		}
		if want != nil && b.lang != "sh" {
			t.Fatalf("README.md:%d: a text block after a %s block; only a sh block's output is shown", want.line, b.lang)
		}
		switch b.lang {
		case "sh":
			r.sh(b, want)
		case "toml":
		case "json":
			r.json(b)
			r.pending(b)
		case "js":
			r.js = b.text
			r.pending(b)
		case "go":
			if !strings.HasPrefix(b.text, "package main\n") {
				t.Fatalf("README.md:%d: a go block that is not a whole program (package main)", b.line)
			}
			r.goCode = b.text
			r.pending(b)
		case "text":
			t.Fatalf("README.md:%d: a text block that follows no command", b.line)
		default:
			t.Fatalf("README.md:%d: the README test has no runner for a %q block: give it one in compat/readme", b.line, b.lang)
		}
	}
	for lang, line := range r.unrun {
		t.Errorf("README.md:%d: no command of the section runs this %s block (npm install, node FILE, go run .)", line, lang)
	}
	for path := range r.files {
		if !r.used[path] {
			t.Errorf("the TOML file %s is loaded by no command of the section", path)
		}
	}
}

// pending notes a block that a later command must use; one of the same
// language still unused is an error, as nothing will run it.
func (r *runner) pending(b block) {
	if line, ok := r.unrun[b.lang]; ok {
		r.t.Errorf("README.md:%d: no command of the section runs this %s block before the next one", line, b.lang)
	}
	r.unrun[b.lang] = b.line
}

// toml writes a TOML block to a file for --config; its first line is a
// comment with the path the README gives it.
func (r *runner) toml(b block) {
	first, _, _ := strings.Cut(b.text, "\n")
	path, ok := strings.CutPrefix(first, "# ")
	if !ok || !strings.HasPrefix(path, "/") {
		r.t.Fatalf("README.md:%d: a TOML block whose first line is not a comment with its path", b.line)
	}
	f := filepath.Join(r.dir, filepath.Base(path))
	if err := os.WriteFile(f, []byte(b.text), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.files[path] = f
}

// json keeps a package.json for the section's Node app.
func (r *runner) json(b block) {
	var pkg struct {
		Type         string
		Dependencies map[string]string
	}
	if err := json.Unmarshal([]byte(b.text), &pkg); err != nil {
		r.t.Fatalf("README.md:%d: %v", b.line, err)
	}
	if pkg.Type != "module" || len(pkg.Dependencies) == 0 {
		r.t.Fatalf("README.md:%d: a json block that is not a package.json with \"type\": \"module\" and dependencies", b.line)
	}
	r.pkgJSON = b.text
}

// sh runs a shell block's commands. With want, every command runs to its
// end and their output together must read as want (retried for a while:
// the cluster replicates asynchronously); without, servers are started.
func (r *runner) sh(b block, want *block) {
	t := r.t
	var cmds [][]string
	var lines []int
	for i, line := range strings.Split(strings.TrimRight(b.text, "\n"), "\n") {
		if m := skipMark.FindStringSubmatch(line); m != nil {
			t.Logf("README.md:%d: not run: %s", b.line+1+i, m[1])
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		words, err := split(line)
		if err != nil {
			t.Fatalf("README.md:%d: %v", b.line+1+i, err)
		}
		cmds = append(cmds, words)
		lines = append(lines, b.line+1+i)
	}
	if want == nil {
		for i, words := range cmds {
			if out, ran := r.command(lines[i], words, false); ran && out != "" {
				t.Logf("README.md:%d: %s", lines[i], out)
			}
		}
		return
	}
	var got string
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = ""
		for i, words := range cmds {
			out, _ := r.command(lines[i], words, true)
			got += out
		}
		if strings.TrimSpace(got) == strings.TrimSpace(want.text) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(got) != strings.TrimSpace(want.text) {
		t.Errorf("README.md:%d: the commands' output:\n%s\nthe README shows (line %d):\n%s", b.line, got, want.line, want.text)
	}
}

// command runs one command line, its words as split, and returns its
// output if it ran to its end. oneShot says the README shows its output.
func (r *runner) command(line int, words []string, oneShot bool) (string, bool) {
	t := r.t
	words = slices.Clone(words) // mapped below, and a retry maps them again
	var env []string
	for len(words) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
		env = append(env, r.expand(words[0]))
		words = words[1:]
	}
	if len(words) == 0 {
		t.Fatalf("README.md:%d: no command", line)
	}
	for i := range words {
		words[i] = r.mapPorts(r.expand(words[i]))
	}
	switch name := words[0]; {
	case name == "export" && len(words) == 2:
		k, v, ok := strings.Cut(words[1], "=")
		if !ok {
			t.Fatalf("README.md:%d: export without a value", line)
		}
		r.env[k] = v
		return "", false
	case name == "sessiond":
		return r.sessiond(line, env, words[1:], oneShot)
	case len(words) >= 3 && strings.Join(words[:3], " ") == "go run ./cmd/sessiond":
		return r.sessiond(line, env, words[3:], oneShot)
	case strings.Join(words, " ") == "go install ./cmd/sessiond":
		r.goInstall(line)
		return "", false
	case strings.Join(words, " ") == "go run .":
		return r.goRun(line, oneShot)
	case strings.Join(words, " ") == "npm install":
		r.npmInstall(line)
		return "", false
	case name == "node" && len(words) == 2:
		r.node(line, words[1])
		return "", false
	case name == "curl":
		return r.oneShot(line, harness.Need(t, "curl"), env, words[1:]), true
	case name == "redis-cli":
		args := words[1:]
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-p" {
				p, err := strconv.Atoi(args[i+1])
				if err != nil {
					t.Fatalf("README.md:%d: redis-cli -p %q", line, args[i+1])
				}
				args[i+1] = strconv.Itoa(r.port(p))
			}
		}
		if !hasAny(args, "-p", "-s", "-h", "-u") {
			args = append([]string{"-p", strconv.Itoa(r.port(6379))}, args...)
		}
		return r.oneShot(line, harness.Need(t, "redis-cli"), env, args), true
	}
	t.Fatalf("README.md:%d: the README test has no runner for %q: give it one in compat/readme, or end the line with `# not run by the README test: why`", line, strings.Join(words, " "))
	return "", false
}

// sessiond runs the binary built from the tree with args: to its end for
// --version, --help or a shown output, else as a server kept until the
// section ends (one with --http-addr must say it is ready on /readyz).
func (r *runner) sessiond(line int, env, args []string, oneShot bool) (string, bool) {
	t := r.t
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--dir", "--unix", "--memcache-unix":
			args[i+1] = filepath.Join(r.dir, strings.NewReplacer("/", "_", ".", "_").Replace(args[i+1]))
		case "--config":
			f, ok := r.files[args[i+1]]
			if !ok {
				t.Fatalf("README.md:%d: --config %s, and the section shows no TOML block for it", line, args[i+1])
			}
			r.used[args[i+1]] = true
			args[i+1] = f
		}
	}
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	if len(args) > 0 && args[0] == "sessions" {
		// A client of the server the section started: on the README's
		// default address, which the test moved to a free port.
		if !hasAny(args, "--addr", "--unix") {
			args = append(args, "--addr", "127.0.0.1:"+strconv.Itoa(r.port(6379)))
		}
		return r.oneShot(line, harness.Binary(t), env, args), true
	}
	if oneShot || hasAny(args, "--version", "--help") {
		return r.oneShot(line, harness.Binary(t), env, args), true
	}
	addr := "127.0.0.1:" + strconv.Itoa(r.port(6379)) // --addr's default
	if !hasAny(args, "--addr") {
		args = append([]string{"--addr", addr}, args...)
	}
	// Commands on the same address are alternatives: the one before
	// stops first, as a user would stop it.
	for i, prev := range r.servers {
		if prev != nil && prev.Addr == addr && hasAny(args, "--addr") && argOf(args, "--addr") == addr {
			prev.Cmd.Process.Signal(syscall.SIGTERM)
			testkit.Eventually(t, 15*time.Second, "the sessiond on "+addr+" stops", func() bool {
				l, err := net.Listen("tcp", addr)
				if err == nil {
					l.Close()
				}
				return err == nil
			})
			r.servers[i] = nil
		}
	}
	s := harness.StartEnv(t, env, args...)
	r.servers = append(r.servers, s)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--http-addr" {
			url := "http://" + args[i+1] + "/readyz"
			testkit.Eventually(t, 30*time.Second, url+" answers 200", func() bool {
				resp, err := http.Get(url)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
		}
	}
	return "", false
}

// oneShot runs a program to its end, in the section's directory, and
// returns what it wrote to stdout and stderr.
func (r *runner) oneShot(line int, program string, env, args []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = r.dir
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		r.t.Fatalf("README.md:%d: %s %q did not end within 30s:\n%s", line, program, args, out)
	}
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		r.t.Fatalf("README.md:%d: %v", line, err)
	}
	return string(out)
}

// goInstall installs cmd/sessiond from the tree into a directory of its
// own, and checks that the binary runs.
func (r *runner) goInstall(line int) {
	t := r.t
	bin := filepath.Join(r.dir, "bin")
	cmd := exec.Command("go", "install", "./cmd/sessiond")
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(cleanEnv(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README.md:%d: go install ./cmd/sessiond: %v\n%s", line, err, out)
	}
	if out, err := exec.Command(filepath.Join(bin, "sessiond"), "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "sessiond ") {
		t.Fatalf("README.md:%d: the installed sessiond --version: %v\n%s", line, err, out)
	}
}

// goRun builds the section's main.go in a module of its own, with
// compat's requirements and the tree for github.com/sessiond/sessiond,
// offline. A program that serves HTTP is started and exercised; any
// other runs to its end and its output is returned.
func (r *runner) goRun(line int, oneShot bool) (string, bool) {
	t := r.t
	if r.goCode == "" {
		t.Fatalf("README.md:%d: go run . with no go block before it", line)
	}
	root, err := filepath.Abs(harness.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(r.dir, "gomod")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	delete(r.unrun, "go")
	goMod := readFile(t, filepath.Join(root, "compat", "go.mod"))
	goMod = strings.Replace(goMod, "module github.com/sessiond/sessiond/compat", "module example.com/app", 1)
	goMod = strings.Replace(goMod, "github.com/sessiond/sessiond => ../", "github.com/sessiond/sessiond => "+root, 1)
	goSum := readFile(t, filepath.Join(root, "compat", "go.sum")) + readFile(t, filepath.Join(root, "go.sum"))
	for name, text := range map[string]string{"go.mod": goMod, "go.sum": goSum, "main.go": r.mapPorts(r.goCode)} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(mod, "app")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = mod
	build.Env = append(cleanEnv(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("README.md:%d: go build of the README's main.go: %v\n%s", line, err, out)
	}
	if !strings.Contains(r.goCode, "ListenAndServe") {
		// Its stdout: what the program prints, not the log lines the
		// packages write to stderr.
		var stderr bytes.Buffer
		cmd := exec.Command(bin)
		cmd.Dir, cmd.Env, cmd.Stderr = r.dir, cleanEnv(), &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("README.md:%d: the README's main.go: %v\n%s", line, err, &stderr)
		}
		return string(out), true
	}
	if oneShot {
		t.Fatalf("README.md:%d: a server's output cannot be shown", line)
	}
	r.app(line, exec.Command(bin), r.goCode)
	return "", false
}

// npmInstall checks, offline, that compat/node has every dependency of the
// section's package.json at a version its range takes, and links its
// node_modules into the section's directory.
func (r *runner) npmInstall(line int) {
	t := r.t
	if r.pkgJSON == "" {
		t.Fatalf("README.md:%d: npm install with no package.json before it", line)
	}
	delete(r.unrun, "json")
	var pkg struct{ Dependencies map[string]string }
	json.Unmarshal([]byte(r.pkgJSON), &pkg)
	modules := filepath.Join(harness.RepoRoot(), "compat", "node", "node_modules")
	for name, rng := range pkg.Dependencies {
		var installed struct{ Version string }
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(modules, name, "package.json"))), &installed); err != nil {
			t.Fatalf("README.md:%d: %s: %v", line, name, err)
		}
		if !caret(rng, installed.Version) {
			t.Errorf("README.md:%d: the README asks for %s %s; compat/node has %s", line, name, rng, installed.Version)
		}
	}
	if err := os.WriteFile(filepath.Join(r.dir, "package.json"), []byte(r.pkgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(r.dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
}

// caret reports whether version is in the npm range rng, written ^x.y.z.
func caret(rng, version string) bool {
	want, ok := strings.CutPrefix(rng, "^")
	if !ok {
		return false
	}
	w, v := semver(want), semver(version)
	if w == nil || v == nil || w[0] != v[0] {
		return false
	}
	return v[1] > w[1] || v[1] == w[1] && v[2] >= w[2]
}

func semver(s string) []int {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return nil
	}
	var n []int
	for _, p := range parts {
		i, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		n = append(n, i)
	}
	return n
}

// node runs the section's js block as file with node.
func (r *runner) node(line int, file string) {
	t := r.t
	if r.js == "" {
		t.Fatalf("README.md:%d: node %s with no js block before it", line, file)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "node_modules")); err != nil {
		t.Fatalf("README.md:%d: node %s before npm install", line, file)
	}
	delete(r.unrun, "js")
	if err := os.WriteFile(filepath.Join(r.dir, file), []byte(r.mapPorts(r.js)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.app(line, exec.Command(harness.Need(t, "node"), file), r.js)
}

// appPort finds the port an app listens on, in the README's code.
var appPort = regexp.MustCompile(`(?:listen\(|ListenAndServe\("127\.0\.0\.1:)(\d+)`)

// app starts an HTTP app the README shows (code), stops it when the
// section ends, and checks that it keeps a session in sessiond across
// requests: "/" answers "views: 1", then "views: 2" with the cookie, and
// the section's sessiond holds the session.
func (r *runner) app(line int, cmd *exec.Cmd, code string) {
	t := r.t
	m := appPort.FindStringSubmatch(code)
	if m == nil {
		t.Fatalf("README.md:%d: the app's port is not in its code", line)
	}
	p, _ := strconv.Atoi(m[1])
	addr := fmt.Sprintf("127.0.0.1:%d", r.port(p))
	var out testkit.Buffer
	cmd.Dir = r.dir
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("README.md:%d: the app's output:\n%s", line, out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("README.md:%d: the app exited before listening on %s:\n%s", line, addr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("README.md:%d: the app did not listen on %s within 30s:\n%s", line, addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	if !strings.Contains(code, "views: ") {
		return // an app without the quick starts' page of views: its section's commands try it
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	for i := 1; i <= 2; i++ {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("README.md:%d: GET / (request %d): %v", line, i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("views: %d\n", i); resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("README.md:%d: GET / (request %d) = %d %q, want 200 %q", line, i, resp.StatusCode, body, want)
		}
	}
	var srv *harness.Server
	for _, s := range r.servers {
		if s != nil && srv == nil {
			srv = s
		}
	}
	if srv == nil {
		t.Fatalf("README.md:%d: the app runs in a section that started no sessiond", line)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: r.env["SESSIOND_REQUIREPASS"]})
	defer rdb.Close()
	if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Fatalf("README.md:%d: sessiond holds %d keys (%v) after the app kept a session, want it there", line, n, err)
	}
}

// addrPort finds the README's ports in commands and code.
var addrPort = regexp.MustCompile(`\b(127\.0\.0\.1|0\.0\.0\.0|localhost):(\d+)|(listen\()(\d+)`)

// mapPorts moves every port in s to the free port the section gave it.
func (r *runner) mapPorts(s string) string {
	return addrPort.ReplaceAllStringFunc(s, func(a string) string {
		m := addrPort.FindStringSubmatch(a)
		if m[1] != "" {
			p, _ := strconv.Atoi(m[2])
			return fmt.Sprintf("%s:%d", m[1], r.port(p))
		}
		p, _ := strconv.Atoi(m[4])
		return fmt.Sprintf("%s%d", m[3], r.port(p))
	})
}

// port returns the free port that stands for the README's port p: one
// whose next port is free too, as a cluster node's data port is the one
// after its gossip port.
func (r *runner) port(p int) int {
	if q, ok := r.ports[p]; ok {
		return q
	}
	for range 100 {
		q := testkit.FreePort(r.t)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q+1)); err == nil {
			l.Close()
			r.ports[p] = q
			return q
		}
	}
	r.t.Fatal("no two free ports in a row")
	return 0
}

// expand replaces $NAME with a variable the section exported.
func (r *runner) expand(s string) string {
	return os.Expand(s, func(k string) string { return r.env[k] })
}

// split splits a command line into words as sh does for the README's
// lines: blanks separate words, quotes group them, # starts a comment.
func split(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unclosed %c in %q", c, line)
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		case strings.IndexByte("|&;<>()`\\", c) >= 0:
			return nil, fmt.Errorf("%q: the README test runs commands without a shell, so %c is not understood", line, c)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// argOf returns the value of flag in args, "" if it has none.
func argOf(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func hasAny(args []string, flags ...string) bool {
	for _, a := range args {
		for _, f := range flags {
			if a == f || strings.HasPrefix(a, f+"=") {
				return true
			}
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cleanEnv is the environment without SESSIOND_ and REDISCLI_ variables,
// so that a developer's settings do not reach the commands.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") && !strings.HasPrefix(kv, "REDISCLI_") {
			env = append(env, kv)
		}
	}
	return env
}
