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
// WATCHDOG=1 at half the watchdog interval, STOPPING=1 on SIGTERM.
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
	// WATCHDOG_PID is not set, so the daemon must accept the watchdog as its own.
	var msgs []string
	var stamps []time.Time
	read := func(until time.Time) {
		buf := make([]byte, 4096)
		for time.Now().Before(until) {
			conn.SetReadDeadline(until)
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for _, m := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				msgs = append(msgs, m)
				stamps = append(stamps, time.Now())
			}
		}
	}
	read(time.Now().Add(2600 * time.Millisecond))
	cmd.Process.Signal(syscall.SIGTERM)
	read(time.Now().Add(1500 * time.Millisecond))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	count := func(m string) int {
		n := 0
		for _, x := range msgs {
			if x == m {
				n++
			}
		}
		return n
	}
	if len(msgs) == 0 || msgs[0] != "READY=1" {
		t.Fatalf("first message %v, want READY=1", msgs)
	}
	// 2.6 s at a 500 ms cadence: about 5 pings.
	if n := count("WATCHDOG=1"); n < 3 || n > 8 {
		t.Errorf("%d watchdog pings in 2.6 s, want about 5: %v", n, msgs)
	}
	if count("STOPPING=1") != 1 {
		t.Errorf("no STOPPING=1: %v", msgs)
	}
}
