// Package vltest runs a real VictoriaLogs for tests, on 127.0.0.1 with its
// data in a temporary directory, and feeds it journal entries in the
// Journal Export Format, as systemd-journal-upload does.
//
// The binary is $FALCO_REPORTER_VICTORIALOGS, or victoria-logs in $PATH
// or in $(go env GOPATH)/bin; .ci/run installs it with
//
//	go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1
//
// Without it the tests skip, unless FALCO_REPORTER_REQUIRE_VICTORIALOGS=1.
package vltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Version is the VictoriaLogs release the tests are written against.
const Version = "v1.52.1"

// Binary returns the path of victoria-logs, or skips (or fails) t.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FALCO_REPORTER_VICTORIALOGS"); p != "" {
		return p
	}
	if p, err := exec.LookPath("victoria-logs"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "victoria-logs")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	msg := "victoria-logs not found: go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@" + Version
	if os.Getenv("FALCO_REPORTER_REQUIRE_VICTORIALOGS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Server is a running VictoriaLogs.
type Server struct {
	URL  string // http://127.0.0.1:PORT, or https:// with -tls
	Addr string // 127.0.0.1:PORT
	// Client, User and Password are what Ingest and Flush use, for a
	// server started with -tls or -httpAuth.*.
	Client         *http.Client
	User, Password string
	bin            string
	dir            string
	args           []string
	cmd            *exec.Cmd
	log            *bytes.Buffer
}

// Start runs VictoriaLogs with a fresh data directory on a free port of
// 127.0.0.1, with args added to its own, and waits until it answers; it
// is stopped when t ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir(), args: args, Client: http.DefaultClient}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
	s.URL = "http://" + s.Addr
	if slices.Contains(args, "-tls") {
		s.URL = "https://" + s.Addr
	}
	s.Begin(t)
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

// Begin starts VictoriaLogs again on the same port and data (after Stop).
func (s *Server) Begin(t testing.TB) {
	t.Helper()
	s.log = &bytes.Buffer{}
	s.cmd = exec.Command(s.bin, append([]string{"-storageDataPath=" + filepath.Join(s.dir, "data"), "-httpListenAddr=" + s.Addr,
		"-loggerLevel=WARN", "-retentionPeriod=100y"}, s.args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Any answer will do: with -tls or -httpAuth.* /health may refuse us.
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaLogs did not answer on %s within 30 s:\n%s", s.Addr, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops VictoriaLogs as systemd would (SIGTERM), and waits.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		t.Errorf("VictoriaLogs did not stop within 30 s of SIGTERM")
	}
	s.cmd = nil
}

// Entry is one journal entry: field names to values. Put
// __REALTIME_TIMESTAMP (microseconds since 1970) in it to set its time.
type Entry map[string]string

// Export encodes entries in the Journal Export Format: a field that is
// not printable text on one line is written in its binary form.
func Export(entries []Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		names := make([]string, 0, len(e))
		for k := range e {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			v := e[k]
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				b.WriteString(k + "\n")
				_ = binary.Write(&b, binary.LittleEndian, uint64(len(v)))
				b.WriteString(v + "\n")
				continue
			}
			b.WriteString(k + "=" + v + "\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// Ingest posts entries to /insert/journald/upload, where
// systemd-journal-upload posts them.
func (s *Server) Ingest(t testing.TB, entries []Entry) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/insert/journald/upload", bytes.NewReader(Export(entries)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.fdo.journal")
	resp, err := s.do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("ingest: %s", resp.Status)
	}
}

// Flush makes what was ingested visible to queries at once.
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/internal/force_flush", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("force_flush: %s", resp.Status)
	}
}

func (s *Server) do(req *http.Request) (*http.Response, error) {
	if s.User != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	return s.Client.Do(req)
}

// DiskUsage is the size of the store's files.
func (s *Server) DiskUsage(t testing.TB) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(s.dir, "data"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Micros returns t as __REALTIME_TIMESTAMP.
func Micros(t time.Time) string { return fmt.Sprint(t.UnixMicro()) }
