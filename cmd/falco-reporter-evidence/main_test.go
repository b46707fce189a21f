package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

func TestMain(m *testing.M) {
	if os.Getenv("EVIDENCE_MAIN") != "" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--allow-user", "no-such-user-here"},
		{"--allow-user", "0", "--budget", "0s"},
		{"--nope"},
	} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

// TestCollectorProcess runs the collector as its own process on a socket
// it creates, asks it for a snapshot of this test, and stops it.
func TestCollectorProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "evidence.sock")
	cmd := exec.Command(exe, "--socket", sock, "--allow-user", strconv.Itoa(os.Getuid()))
	cmd.Env = append(os.Environ(), "EVIDENCE_MAIN=1")
	// A file, not a buffer: the test reads it while the process writes.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	logged := func() string { b, _ := os.ReadFile(stderr.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("collector: %v\n%s", err, logged())
		}
		if _, err := os.Stat(sock); err == nil {
			t.Error("the socket was left behind")
		}
	}()
	c := &evidence.Client{Socket: sock, Timeout: 30 * time.Second}
	var ev report.Evidence
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ev = c.Take(context.Background(), evidence.Request{PID: os.Getpid(), AlertNS: time.Now().UnixNano()}); ev.Status != report.EvidenceFailed {
			break
		}
	}
	if ev.Status != report.EvidenceTaken || ev.Process == nil || ev.Process.Exe != exe {
		t.Fatalf("answer %+v\n%s", ev, logged())
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v: want 0600", fi.Mode(), err)
	}
	if !strings.Contains(logged(), "answering uid") {
		t.Errorf("stderr %q", logged())
	}
}
