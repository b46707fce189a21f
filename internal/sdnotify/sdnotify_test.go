package sdnotify

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a fake NOTIFY_SOCKET at addr and closes it with the test.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receive returns the next datagram, failing after 5 seconds.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v", err)
	}
	return string(buf[:n])
}

func socketPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "notify")
}

func TestNotifierSends(t *testing.T) {
	path := socketPath(t)
	conn := listen(t, path)
	n := New(path, 0)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"ready", n.Ready, "READY=1"},
		{"ping", n.Ping, "WATCHDOG=1"},
		{"stopping", n.Stopping, "STOPPING=1"},
		{"status", func() error { return n.Status("3 alerts\nREADY=1\x1b[31m") }, `STATUS=3 alerts\nREADY=1\x1b[31m`},
		{"reloading", n.Reloading, "RELOADING=1\nMONOTONIC_USEC="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			got := receive(t, conn)
			if got != tt.want && !(tt.name == "reloading" && strings.HasPrefix(got, tt.want)) {
				t.Errorf("received %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNotifierAbstractSocket(t *testing.T) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	addr := "@falco-reporter-test-" + hex.EncodeToString(b)
	conn := listen(t, addr)
	if err := New(addr, 0).Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got := receive(t, conn); got != "READY=1" {
		t.Errorf("received %q, want READY=1", got)
	}
}

func TestNotifierWithoutSocketIsNoop(t *testing.T) {
	for name, n := range map[string]*Notifier{"nil": nil, "zero": {}, "empty socket": New("", time.Minute)} {
		t.Run(name, func(t *testing.T) {
			if n.Enabled() {
				t.Error("Enabled = true")
			}
			for _, call := range []func() error{n.Ready, n.Stopping, n.Ping, n.Reloading, func() error { return n.Status("x") }} {
				if err := call(); err != nil {
					t.Errorf("call failed: %v", err)
				}
			}
			if d, ok := n.WatchdogInterval(); ok || d != 0 {
				t.Errorf("WatchdogInterval = %v, %v; want 0, false", d, ok)
			}
		})
	}
}

func TestNotifierMissingSocketFails(t *testing.T) {
	if err := New(socketPath(t), 0).Ready(); err == nil {
		t.Fatal("Ready to a missing socket succeeded, want error")
	}
}

func TestFromEnv(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	tests := []struct {
		name     string
		usec     string
		wpid     string
		socket   bool
		want     time.Duration
		wantOK   bool
		wantErr  bool
		wantSent bool
	}{
		{name: "watchdog for us", usec: "3000000", wpid: pid, socket: true, want: 1500 * time.Millisecond, wantOK: true, wantSent: true},
		{name: "watchdog without pid", usec: "20000000", socket: true, want: 10 * time.Second, wantOK: true, wantSent: true},
		{name: "watchdog for another process", usec: "3000000", wpid: "1", socket: true, wantSent: true},
		{name: "no watchdog", socket: true, wantSent: true},
		{name: "watchdog but no socket", usec: "3000000"},
		{name: "malformed usec", usec: "soon", socket: true, wantErr: true},
		{name: "negative usec", usec: "-5", socket: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := socketPath(t)
			var conn *net.UnixConn
			env := ""
			if tt.socket {
				conn = listen(t, path)
				env = path
			}
			t.Setenv("NOTIFY_SOCKET", env)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.wpid)
			n, err := FromEnv()
			if (err != nil) != tt.wantErr {
				t.Fatalf("FromEnv error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if d, ok := n.WatchdogInterval(); d != tt.want || ok != tt.wantOK {
				t.Errorf("WatchdogInterval = %v, %v; want %v, %v", d, ok, tt.want, tt.wantOK)
			}
			if err := n.Ping(); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			if n.Enabled() != tt.wantSent {
				t.Errorf("Enabled = %v, want %v", n.Enabled(), tt.wantSent)
			}
			if tt.wantSent {
				if got := receive(t, conn); got != "WATCHDOG=1" {
					t.Errorf("received %q, want WATCHDOG=1", got)
				}
			}
		})
	}
}
