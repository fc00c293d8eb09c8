package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// operationsSection returns the code blocks of a "## " section of
// docs/OPERATIONS.md, by language ("ini", "yaml", "sh"), in order.
func operationsSection(t *testing.T, title string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "OPERATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("docs/OPERATIONS.md has no %q section", title)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	blocks := map[string][]string{}
	for {
		_, rest, ok := strings.Cut(sec, "```")
		if !ok {
			return blocks
		}
		lang, rest, _ := strings.Cut(rest, "\n")
		code, rest, _ := strings.Cut(rest, "```")
		blocks[lang] = append(blocks[lang], code)
		sec = rest
	}
}

// envFrom returns a lookupEnv over vars.
func envFrom(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// drain is the longest a SIGTERM takes before the store closes: the
// connections, then the cluster's leave, then the HTTP listener.
const drain = shutdownTimeout + leaveTimeout + time.Second

// The systemd unit in docs/OPERATIONS.md: sessiond accepts its ExecStart
// flags with the environment file the doc shows, --dir is the unit's
// StateDirectory, the stop timeout covers the drain, and systemd-analyze
// verify, where it is installed, finds nothing to say about the unit.
func TestOperationsSystemd(t *testing.T) {
	blocks := operationsSection(t, "Deploying with systemd")
	if len(blocks["ini"]) != 1 {
		t.Fatalf("the systemd section has %d ini blocks, want the unit", len(blocks["ini"]))
	}
	unit := blocks["ini"][0]
	directive := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `=(.*)$`).FindStringSubmatch(unit)
		if m == nil {
			t.Fatalf("the unit has no %s=", name)
		}
		return m[1]
	}
	envFile := directive("EnvironmentFile")
	vars := map[string]string{}
	for _, b := range blocks["sh"] {
		if !strings.HasPrefix(b, "# "+envFile) {
			continue
		}
		for line := range strings.Lines(b) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
				vars[k] = v
			}
		}
	}
	if len(vars) == 0 {
		t.Fatalf("the section shows no block for %s", envFile)
	}
	for k := range vars {
		if !knownEnv(k) {
			t.Errorf("%s sets %s, which names no setting", envFile, k)
		}
	}

	execStart := strings.Fields(directive("ExecStart"))
	c, err := loadConfig(execStart[1:], envFrom(vars))
	if err != nil {
		t.Fatalf("ExecStart's flags: %v", err)
	}
	if want := "/var/lib/" + directive("StateDirectory"); c.Dir != want {
		t.Errorf("--dir %q, want the StateDirectory %q", c.Dir, want)
	}
	if c.RequirePass == "" || c.HTTPAddr == "" {
		t.Errorf("the unit serves with password %q and --http-addr %q; want both", c.RequirePass, c.HTTPAddr)
	}
	if stop, err := time.ParseDuration(directive("TimeoutStopSec")); err != nil || stop < drain {
		t.Errorf("TimeoutStopSec=%s (%v), want at least the drain, %v", directive("TimeoutStopSec"), err, drain)
	}
	if directive("Restart") != "on-failure" {
		t.Errorf("Restart=%s, want on-failure", directive("Restart"))
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit's directives are not verified")
		return
	}
	// verify wants ExecStart's program to exist: the test binary stands in.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sessiond.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, execStart[0], self, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The Kubernetes objects in docs/OPERATIONS.md: sessiond accepts the
// container's args with its environment as Kubernetes fills it in, the
// node name is the pod's, the join goes through the headless Service on
// the gossip port, the probes ask the HTTP listener, --dir is the
// volume's mount, and the grace period covers the drain.
func TestOperationsKubernetes(t *testing.T) {
	blocks := operationsSection(t, "Deploying on Kubernetes")
	if len(blocks["yaml"]) != 1 {
		t.Fatalf("the Kubernetes section has %d yaml blocks, want 1", len(blocks["yaml"]))
	}
	y := blocks["yaml"][0]
	field := func(name string) string {
		// name: value, in a block or a flow mapping ({a: b, name: value}).
		m := regexp.MustCompile(`\b` + name + `: ([^,}#\n]*[^,}#\n\s])`).FindStringSubmatch(y)
		if m == nil {
			t.Fatalf("the YAML has no %s", name)
		}
		return m[1]
	}

	// The container's args: the list under "args:".
	_, rest, ok := strings.Cut(y, "args:\n")
	if !ok {
		t.Fatal("the YAML has no args")
	}
	pod := map[string]string{"POD_NAME": "sessiond-0", "POD_IP": "10.1.2.3"}
	var args []string
	for line := range strings.Lines(rest) {
		item, ok := strings.CutPrefix(strings.TrimSpace(line), "- ")
		if !ok || !strings.HasPrefix(item, "--") {
			break
		}
		// Kubernetes expands $(VAR) from the container's env.
		args = append(args, regexp.MustCompile(`\$\((\w+)\)`).ReplaceAllStringFunc(item, func(v string) string {
			name := v[2 : len(v)-1]
			if _, ok := pod[name]; !ok {
				t.Errorf("args use $(%s), which the test does not know", name)
			}
			return pod[name]
		}))
	}

	// The env: the pod's fields, and the Secret's keys as SESSIOND_ variables.
	vars := map[string]string{}
	secrets := regexp.MustCompile(`- name: (\w+)\n\s*valueFrom: \{secretKeyRef: \{name: (\w+), key: ([\w-]+)\}\}`).FindAllStringSubmatch(y, -1)
	if len(secrets) != 2 {
		t.Fatalf("the YAML takes %d variables from a Secret, want the password and the cluster key", len(secrets))
	}
	for _, m := range secrets {
		if !knownEnv(m[1]) {
			t.Errorf("the Secret's key %s is set as %s, which names no setting", m[3], m[1])
		}
		if !strings.Contains(strings.Join(blocks["sh"], ""), "--from-literal="+m[3]+"=") {
			t.Errorf("the kubectl create secret command makes no key %s", m[3])
		}
		vars[m[1]] = "secret"
	}
	vars["SESSIOND_CLUSTER_KEY"] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

	c, err := loadConfig(args, envFrom(vars))
	if err != nil {
		t.Fatalf("the container's args: %v", err)
	}
	if c.Cluster.NodeName != pod["POD_NAME"] {
		t.Errorf("--node-name %q, want the pod's name", c.Cluster.NodeName)
	}
	if len(c.Cluster.Keys) == 0 || c.RequirePass == "" {
		t.Error("the cluster key or the password is not set from the Secret")
	}
	if mount := field("mountPath"); c.Dir != mount {
		t.Errorf("--dir %q, want the volume's mountPath %q", c.Dir, mount)
	}
	if field("serviceName") != "sessiond-peers" || field("clusterIP") != "None" {
		t.Errorf("serviceName %q, clusterIP %q: want the headless sessiond-peers", field("serviceName"), field("clusterIP"))
	}
	_, gossipPort, _ := net.SplitHostPort(c.Cluster.Addr)
	if len(c.Cluster.Join) != 1 || c.Cluster.Join[0] != "sessiond-peers:"+gossipPort {
		t.Errorf("--join %q, want the headless Service at the gossip port %s", c.Cluster.Join, gossipPort)
	}
	_, httpPort, _ := net.SplitHostPort(c.HTTPAddr)
	if !strings.Contains(y, "{name: http, containerPort: "+httpPort+"}") {
		t.Errorf("the container's http port is not --http-addr's %s", httpPort)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if !strings.Contains(y, "httpGet: {path: "+p+", port: http}") {
			t.Errorf("no probe asks %s on the http port", p)
		}
	}
	grace, err := strconv.Atoi(field("terminationGracePeriodSeconds"))
	if err != nil || time.Duration(grace)*time.Second < drain {
		t.Errorf("terminationGracePeriodSeconds %q, want at least the drain, %v", field("terminationGracePeriodSeconds"), drain)
	}
	if field("maxUnavailable") != "1" {
		t.Errorf("the PodDisruptionBudget's maxUnavailable is %s, want 1", field("maxUnavailable"))
	}
}

// knownEnv reports whether name is the environment variable of a setting.
func knownEnv(name string) bool {
	for _, s := range settings {
		if s.from&fromEnv != 0 && envName(s.name) == name {
			return true
		}
	}
	return false
}
