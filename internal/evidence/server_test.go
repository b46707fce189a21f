package evidence

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// serve starts a collector for uid on a socket in a temporary directory.
func serve(t *testing.T, uid int) (sock string, refused func() []string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "evidence.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var why []string
	lim := DefaultLimits
	lim.Budget = 30 * time.Second
	s := &Server{AllowUID: uid, Limits: lim, MaxBusy: 2, Refused: func(uid int, reason string) {
		mu.Lock()
		defer mu.Unlock()
		why = append(why, reason)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return sock, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), why...) }
}

func TestCollectorAnswersItsUser(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := startChild(t, exe)
	sock, _ := serve(t, os.Getuid())
	c := &Client{Socket: sock, Timeout: 30 * time.Second}
	r := request(w.cmd.Process.Pid)
	r.Paths, r.Sysctls = []string{exe}, []string{"kernel.pid_max"}
	ev := c.Take(context.Background(), r)
	if ev.Status != report.EvidenceTaken || ev.Process == nil || ev.Process.Exe != exe || len(ev.Files) != 1 || len(ev.Sysctls) != 1 {
		t.Fatalf("answer %+v", ev)
	}
}

// TestCollectorTakesTheLargestRequest: a request at the bounds (8 paths
// of 4 KiB) is answered: an intruder's long path does not blind the
// snapshot.
func TestCollectorTakesTheLargestRequest(t *testing.T) {
	sock, refused := serve(t, os.Getuid())
	c := &Client{Socket: sock, Timeout: 30 * time.Second}
	r := request(os.Getpid())
	for i := range MaxPaths {
		r.Paths = append(r.Paths, "/"+strings.Repeat(string(rune('a'+i)), 250)+strings.Repeat("/"+strings.Repeat("d", 200), (MaxPathLen-260)/201))
	}
	ev := c.Take(context.Background(), r)
	if ev.Status != report.EvidenceTaken || len(ev.Files) != MaxPaths {
		t.Fatalf("status %q (%s), %d files; refusals %q", ev.Status, ev.Reason, len(ev.Files), refused())
	}
}

// TestClientStopsWhenAsked: a daemon that stops does not wait out the
// timeout for a collector that does not answer.
func TestClientStopsWhenAsked(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never answers
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	c := &Client{Socket: sock, Timeout: time.Hour}
	done := make(chan report.Evidence, 1)
	go func() { done <- c.Take(ctx, request(1)) }()
	select {
	case ev := <-done:
		if ev.Status != report.EvidenceFailed {
			t.Errorf("status %q", ev.Status)
		}
	case <-time.After(time.Minute):
		t.Fatal("Take still waiting a minute after its context ended")
	}
}

func TestCollectorRefusesForeignUID(t *testing.T) {
	sock, refused := serve(t, os.Getuid()+1)
	c := &Client{Socket: sock, Timeout: 30 * time.Second}
	ev := c.Take(context.Background(), request(os.Getpid()))
	if ev.Status != report.EvidenceFailed || ev.Process != nil || !strings.Contains(ev.Reason, "may not ask") {
		t.Fatalf("answer %+v, want a refusal", ev)
	}
	if got := refused(); len(got) != 1 || !strings.Contains(got[0], "may not ask") {
		t.Errorf("refusals %q", got)
	}
}

func TestCollectorRefusesBadRequests(t *testing.T) {
	sock, refused := serve(t, os.Getuid())
	for _, line := range []string{
		"not json\n",
		`{"pid":1,"alert_ns":1,"env":true}` + "\n", // unknown field
		`{"pid":1,"alert_ns":1,"paths":["/etc/../etc/shadow"]}` + "\n",
		`{"pid":-1,"alert_ns":1}` + "\n",
		strings.Repeat("x", MaxRequestLen+10),
	} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		c.Close()
		if !strings.Contains(string(b[:n]), `"status":"failed"`) || !strings.Contains(string(b[:n]), "refused") {
			t.Errorf("%.40q: answer %s", line, b[:n])
		}
	}
	if got := refused(); len(got) != 5 {
		t.Errorf("%d refusals, want 5: %q", len(got), got)
	}
}

func TestClientCollectorAbsent(t *testing.T) {
	c := &Client{Socket: filepath.Join(t.TempDir(), "none.sock"), Timeout: time.Second}
	if ev := c.Take(context.Background(), request(1)); ev.Status != report.EvidenceFailed || !strings.Contains(ev.Reason, "could not be asked") {
		t.Errorf("%+v", ev)
	}
}

// BenchmarkTake measures one snapshot of a live process with open files
// and sockets, the target being well under the 200 ms budget.
func BenchmarkTake(b *testing.B) {
	r := benchRequest(b)
	for b.Loop() {
		if ev := Take(context.Background(), r, DefaultLimits); ev.Status != report.EvidenceTaken {
			b.Fatal(ev.Status, ev.Reason)
		}
	}
}

// BenchmarkTakeUnderLoad takes snapshots while every core is kept busy by
// other goroutines, with the default 200 ms budget, and reports the
// slowest snapshot (max-ms) and how many overran the budget by more than
// 50 ms (over-budget), which should be 0: every step checks the budget,
// and the executable is hashed last with what is left.
func BenchmarkTakeUnderLoad(b *testing.B) {
	r := benchRequest(b)
	ctx, cancel := context.WithCancel(context.Background())
	var busy sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		busy.Go(func() {
			x := 0
			for ctx.Err() == nil {
				for i := range 1 << 16 {
					x += i
				}
			}
			_ = x
		})
	}
	defer func() { cancel(); busy.Wait() }()
	var slowest time.Duration
	over := 0
	for b.Loop() {
		start := time.Now()
		if ev := Take(context.Background(), r, DefaultLimits); ev.Status != report.EvidenceTaken {
			b.Fatal(ev.Status, ev.Reason)
		}
		d := time.Since(start)
		slowest = max(slowest, d)
		if d > DefaultLimits.Budget+50*time.Millisecond {
			over++
		}
	}
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(over), "over-budget")
}

// benchRequest starts a child process with open files and sockets and
// returns a request about it, its executable and a sysctl.
func benchRequest(b *testing.B) Request {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	w := startChild(b, exe)
	r := request(w.cmd.Process.Pid)
	r.Paths, r.Sysctls = []string{exe, "/etc/passwd"}, []string{"kernel.pid_max"}
	return r
}
