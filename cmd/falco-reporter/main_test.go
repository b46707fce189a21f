package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/demo"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "falco-reporter-bin-")
	if err != nil {
		panic(err)
	}
	// Tests run the binary as nobody too.
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "falco-reporter")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runBin(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBinWith(t, stdin, nil, args...)
}

// runBinWith runs the binary with stdin and variables added to the
// environment, and returns its output and exit code.
func runBinWith(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

const sample = `{"hostname":"web-1","output":"o","output_fields":{"evt.time":1775124001123456789,"fd.name":"/etc/shadow","proc.name":"cat","proc.exepath":"/usr/bin/cat","proc.cmdline":"cat /etc/shadow","container.id":"host"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","mitre_credential_access"],"time":"2026-04-02T10:00:01.123456789Z"}`

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		want     string // in stdout or stderr
	}{
		{"no command", "", nil, 2, "usage"},
		{"unknown command", "", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"version", "", []string{"version"}, 0, "falco-reporter"},
		{"render markdown", sample, []string{"render"}, 0, "# Warning:"},
		{"render json", sample, []string{"render", "--format", "json", "-"}, 0, `"handler":"dedicated"`},
		{"render bad json", "{not json", []string{"render"}, 1, "invalid JSON"},
		{"render text alert", "Warning Sensitive file opened", []string{"render"}, 1, "not a Falco alert"},
		{"render missing file", "", []string{"render", "/nonexistent/alert.json"}, 1, "no such file"},
		{"render bad format", sample, []string{"render", "--format", "html"}, 2, "unknown format"},
		{"rules table", "", []string{"rules"}, 0, "Falco internal: syscall event drop"},
		{"check shipped config", "", []string{"check-config", "--config", "../../configs/falco-reporter.yaml"}, 0, "OK"},
		{"check missing config", "", []string{"check-config", "--config", "/nonexistent.yaml"}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runBin(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.want, out, errOut)
			}
		})
	}
}

func TestRulesCoverage(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rules, []byte("- rule: Terminal shell in container\n  desc: d\n  condition: c\n  output: o\n  priority: NOTICE\n- rule: Our own rule\n  desc: d\n  condition: c\n  output: o\n  priority: NOTICE\n- macro: m\n  condition: c\n"), 0o600)
	out, _, code := runBin(t, "", "rules", "--falco-rules", rules)
	if code != 1 || !strings.Contains(out, "no playbook: Our own rule") || !strings.Contains(out, "2 rules, 1 with a dedicated playbook, 1 without") {
		t.Errorf("exit %d\n%s", code, out)
	}
	out, _, code = runBin(t, "", "rules", "--falco-rules", "../../internal/rules/testdata/falco-rules/falco_rules.yaml",
		"--falco-rules", "../../internal/rules/testdata/falco-rules/falco-incubating_rules.yaml",
		"--falco-rules", "../../internal/rules/testdata/falco-rules/falco-sandbox_rules.yaml")
	if code != 0 || !strings.Contains(out, "93 rules, 93 with a dedicated playbook, 0 without") {
		t.Errorf("Falco's own rules: exit %d\n%s", code, out)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runBin(t, "", "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	alerts, _ := demo.Alerts()
	rules := map[string]bool{}
	for _, a := range alerts {
		rules[a.Rule] = true
	}
	if len(rules) < 10 {
		t.Errorf("the demo covers %d rules, want at least 10", len(rules))
	}
	md, _ := filepath.Glob(filepath.Join(dir, "*", "*.md"))
	if len(md) != len(alerts) {
		t.Errorf("%d reports, want %d", len(md), len(alerts))
	}
	if !strings.Contains(out, "reports written to") {
		t.Errorf("stdout: %s", out)
	}
}

func TestIngestFromStdin(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir: %s/state\nreports:\n  dir: %s/reports\njournal:\n  reports: false\nlog:\n  output: console\n", dir, dir)), 0o600)
	second := strings.NewReplacer("/etc/shadow", "/etc/sudoers", "/usr/bin/cat", "/usr/bin/less").Replace(sample)
	out, errOut, code := runBin(t, sample+"\nnot json\n\n"+second+"\n", "ingest", "--config", cfg, "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "3 lines, 2 alerts, 1 skipped") {
		t.Errorf("stdout: %s", out)
	}
	md, _ := filepath.Glob(filepath.Join(dir, "reports", "*", "*.md"))
	if len(md) != 2 {
		t.Errorf("%d reports, want 2", len(md))
	}
}

// TestRunSIGTERM runs the daemon against a fake Falco, then stops it with
// SIGTERM: it must exit 0 within 5 s having written every alert received.
func TestRunSIGTERM(t *testing.T) {
	dir := t.TempDir()
	falco := falcotest.New()
	addr, err := falco.ListenUnix(filepath.Join(dir, "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer falco.Stop()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("falco:\n  grpc:\n    address: %s\n    poll_interval: 10ms\nstate_dir: %s/state\nreports:\n  dir: %s/reports\njournal:\n  reports: false\nlog:\n  output: json\n", addr, dir, dir)), 0o600)
	alerts, _ := demo.Alerts()
	for _, a := range alerts {
		falco.Enqueue(falcotest.AlertToResponse(a))
	}
	cmd := exec.Command(binary, "run", "--config", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // a failed check must not leave it running
	deadline := time.Now().Add(15 * time.Second)
	for falco.Queued() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 5 s after SIGTERM\n%s", stderr.String())
	}
	js, _ := filepath.Glob(filepath.Join(dir, "reports", "*", "*.json"))
	if len(js) != len(alerts) {
		t.Errorf("%d reports, want %d\n%s", len(js), len(alerts), stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log.output json wrote a line that is not JSON: %q", line)
		}
	}
}

// TestRunWithoutFalco: Falco absent at start is not a reason to exit. The
// daemon is seen failing to reach Falco (its reconnect counter) and still
// serving afterwards, then SIGINT stops it cleanly.
func TestRunWithoutFalco(t *testing.T) {
	dir := t.TempDir()
	maddr := freePort(t)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("falco:\n  grpc:\n    address: unix://%s/absent.sock\nstate_dir: %s/state\nreports:\n  dir: %s/reports\nlog:\n  output: console\nmetrics:\n  listen: %s\n", dir, dir, dir, maddr)), 0o600)
	var stderr bytes.Buffer
	d := &onceDaemon{t: t, cfg: cfg, metrics: "http://" + maddr + "/metrics", stderr: &stderr}
	d.start()
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); d.metric("falco_reporter_reconnects_total") < 1; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("exited while Falco is absent: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			<-exited // stderr is complete
			t.Fatalf("no attempt to reach Falco within a minute\n%s", stderr.String())
		}
	}
	time.Sleep(500 * time.Millisecond) // give a wrong exit the chance to happen
	if d.metric("falco_reporter_reconnects_total") < 1 {
		t.Errorf("metrics no longer served after Falco was found absent")
	}
	select {
	case err := <-exited:
		t.Fatalf("exited after Falco was found absent: %v\n%s", err, stderr.String())
	default:
	}
	d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		d.cmd.Process.Kill()
		<-exited
		t.Fatalf("still running a minute after SIGINT\n%s", stderr.String())
	}
}
