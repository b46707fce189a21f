package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs the daemon as systemd would with Type=notify and
// WatchdogSec=1s, against a fake NOTIFY_SOCKET: READY=1 once started,
// WATCHDOG=1 again and again (its cadence is internal/sdnotify's unit
// test), STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("falco:\n  grpc:\n    address: unix://%s/absent.sock\nstate_dir: %s/state\nreports:\n  dir: %s/reports\nlog:\n  output: console\n", dir, dir, dir)), 0o600)
	cmd := exec.Command(binary, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// WATCHDOG_PID is not set, so the daemon must accept the watchdog as its
	// own. Each wait below ends on the message it waits for; the deadline
	// only catches a daemon that never sends it.
	var msgs []string
	count := func(m string) int {
		n := 0
		for _, x := range msgs {
			if x == m {
				n++
			}
		}
		return n
	}
	buf := make([]byte, 4096)
	readUntil := func(what string, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !done() {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s: %v; got %v", what, err, msgs)
			}
			msgs = append(msgs, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
		}
	}
	readUntil("READY=1", func() bool { return len(msgs) > 0 })
	if msgs[0] != "READY=1" {
		t.Fatalf("first message %v, want READY=1", msgs)
	}
	// The watchdog is pinged again and again, not once.
	readUntil("three WATCHDOG=1", func() bool { return count("WATCHDOG=1") >= 3 })
	cmd.Process.Signal(syscall.SIGTERM)
	readUntil("STOPPING=1", func() bool { return count("STOPPING=1") > 0 })
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if count("STOPPING=1") != 1 {
		t.Errorf("STOPPING=1 sent %d times: %v", count("STOPPING=1"), msgs)
	}
}
