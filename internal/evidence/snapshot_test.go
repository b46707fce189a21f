package evidence

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// TestMain lets the test binary play the watched process: with
// EVIDENCE_CHILD set it opens a file, a TCP listener, a TCP connection and
// a UDP socket, says "ready" and waits for its stdin to close.
func TestMain(m *testing.M) {
	if f := os.Getenv("EVIDENCE_CHILD"); f != "" {
		child(f)
		return
	}
	os.Exit(m.Run())
}

func child(file string) {
	fh, err := os.Open(file)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer fh.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	// In a new network namespace the loopback is down: a listener still
	// works, a connection does not.
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		defer c.Close()
	}
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer u.Close()
	fmt.Println("ready", ln.Addr(), u.LocalAddr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// watched is a child process started by a test.
type watched struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	tcp, udp  string
	startedAt time.Time
}

// startChild starts exe (the test binary, or a copy of it) as the watched
// process, with args before it (e.g. unshare), and waits for "ready".
func startChild(t testing.TB, exe string, wrap ...string) *watched {
	t.Helper()
	file := filepath.Join(t.TempDir(), "opened file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := append(wrap, exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "EVIDENCE_CHILD="+file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	w := &watched{cmd: cmd, stdin: stdin, startedAt: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("child: %q, %v", line, err)
	}
	f := strings.Fields(line)
	w.tcp, w.udp = f[1], f[2]
	return w
}

func request(pid int) Request {
	return Request{PID: pid, AlertNS: time.Now().UnixNano(), Host: true}
}

func take(t *testing.T, r Request) report.Evidence {
	t.Helper()
	lim := DefaultLimits
	lim.Budget = 30 * time.Second // generous: the machine is shared
	return Take(context.Background(), r, lim)
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestTakeLiveProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := startChild(t, exe)
	pid := w.cmd.Process.Pid
	r := request(pid)
	r.Paths = []string{exe}
	r.Sysctls = []string{"kernel.pid_max", "fs.protected_hardlinks", "no.such.setting"}
	ev := take(t, r)
	if ev.Status != report.EvidenceTaken {
		t.Fatalf("status %q (%s), notes %v", ev.Status, ev.Reason, ev.Notes)
	}
	p := ev.Process
	if p.PID != pid || p.PPID != os.Getpid() {
		t.Errorf("pid %d ppid %d, want %d %d", p.PID, p.PPID, pid, os.Getpid())
	}
	if p.Exe != exe || p.ExeDeleted {
		t.Errorf("exe %q deleted %v, want %q", p.Exe, p.ExeDeleted, exe)
	}
	if want := sha256File(t, exe); p.SHA256 != want {
		t.Errorf("sha256 %s, want %s", p.SHA256, want)
	}
	if len(p.Cmdline) != 1 || p.Cmdline[0] != exe {
		t.Errorf("cmdline %q", p.Cmdline)
	}
	if wd, _ := os.Getwd(); p.Cwd != wd {
		t.Errorf("cwd %q, want %q", p.Cwd, wd)
	}
	if len(p.UIDs) != 4 || p.UIDs[0] != os.Getuid() {
		t.Errorf("uids %v", p.UIDs)
	}
	if d := p.Start.Sub(w.startedAt); d < -time.Second || d > 30*time.Second {
		t.Errorf("start %s, child started at %s", p.Start, w.startedAt)
	}
	if !slices.ContainsFunc(p.FDs, func(f report.FD) bool { return strings.HasSuffix(f.Target, "/opened file") }) {
		t.Errorf("the opened file is not among the fds: %v", p.FDs)
	}
	for _, want := range []struct{ proto, local, state string }{
		{"tcp", w.tcp, "LISTEN"}, {"udp", w.udp, "UNCONNECTED"},
	} {
		if !slices.ContainsFunc(p.Sockets, func(s report.Socket) bool {
			return s.Proto == want.proto && s.Local == want.local && s.State == want.state
		}) {
			t.Errorf("no %s socket %s %s in %+v", want.proto, want.local, want.state, p.Sockets)
		}
	}
	if !slices.ContainsFunc(p.Sockets, func(s report.Socket) bool { return s.Remote == w.tcp && s.State == "ESTABLISHED" }) {
		t.Errorf("no established connection to %s in %+v", w.tcp, p.Sockets)
	}
	for _, ns := range p.Namespaces {
		if mine, _ := os.Readlink("/proc/self/ns/" + ns.Type); mine != fmt.Sprintf("%s:[%d]", ns.Type, ns.Inode) {
			t.Errorf("namespace %s:[%d], this test's is %s", ns.Type, ns.Inode, mine)
		}
	}
	if len(ev.Ancestry) == 0 || ev.Ancestry[0].PID != os.Getpid() || ev.Ancestry[len(ev.Ancestry)-1].PID != 1 {
		t.Errorf("ancestry %+v: want this test first, PID 1 last", ev.Ancestry)
	}
	if len(ev.Files) != 1 || ev.Files[0].Type != "file" || ev.Files[0].Inode == 0 {
		t.Errorf("files %+v, notes %q", ev.Files, ev.Notes)
	}
	if len(ev.Sysctls) != 3 || ev.Sysctls[0].Value == "" || ev.Sysctls[2].Error != "does not exist" {
		t.Errorf("sysctls %+v", ev.Sysctls)
	}
}

func TestTakeExitedProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ev := take(t, request(cmd.Process.Pid))
	// The PID may already be reused on a busy machine: either way,
	// nothing may be taken from whoever has it now.
	if ev.Status != report.EvidenceExited && ev.Status != report.EvidencePIDReused {
		t.Fatalf("status %q, want exited", ev.Status)
	}
	if ev.Process != nil || len(ev.Ancestry) != 0 {
		t.Errorf("took from a process that is gone: %+v", ev)
	}
	if ev.Status == report.EvidenceExited && !strings.Contains(ev.Reason, "ms after the alert") {
		t.Errorf("reason %q does not say how long it took to look", ev.Reason)
	}
}

func TestTakeDeletedExecutable(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "dropped")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	want := sha256File(t, cp)
	w := startChild(t, cp)
	if err := os.Remove(cp); err != nil {
		t.Fatal(err)
	}
	ev := take(t, request(w.cmd.Process.Pid))
	if ev.Status != report.EvidenceTaken {
		t.Fatalf("status %q (%s)", ev.Status, ev.Reason)
	}
	if p := ev.Process; p.Exe != cp || !p.ExeDeleted || p.SHA256 != want {
		t.Errorf("exe %q deleted %v sha256 %s, want %q deleted %s", p.Exe, p.ExeDeleted, p.SHA256, cp, want)
	}
}

func TestTakeNewNamespaces(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) is not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("unshare -m -n needs root")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// --fork: the watched process is unshare's child, in the new
	// namespaces; find it as the child of unshare's PID.
	w := startChild(t, exe, "unshare", "--mount", "--net", "--")
	ev := take(t, request(w.cmd.Process.Pid))
	if ev.Status != report.EvidenceTaken {
		t.Fatalf("status %q (%s)", ev.Status, ev.Reason)
	}
	// PID 1's namespaces may be unreadable (in a VM sandbox, even to
	// root): compare with this test's own.
	host := map[string]bool{}
	for _, ns := range ev.Process.Namespaces {
		mine, _ := os.Readlink("/proc/self/ns/" + ns.Type)
		host[ns.Type] = mine == fmt.Sprintf("%s:[%d]", ns.Type, ns.Inode)
	}
	if host["mnt"] || host["net"] || !host["pid"] {
		t.Errorf("namespaces %+v: want mnt and net new, pid the host's", ev.Process.Namespaces)
	}
	// Its sockets live in its own network namespace's tables.
	if !slices.ContainsFunc(ev.Process.Sockets, func(s report.Socket) bool { return s.State == "LISTEN" && s.Local == w.tcp }) {
		t.Errorf("the listener %s in the new namespace was not found: %+v", w.tcp, ev.Process.Sockets)
	}
}

func TestTakeReusedPID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := startChild(t, exe)
	// The alert was about a process with this PID that started an hour
	// ago: the one there now is not it.
	r := request(w.cmd.Process.Pid)
	r.StartNS = time.Now().Add(-time.Hour).UnixNano()
	r.Paths = []string{exe}
	ev := take(t, r)
	if ev.Status != report.EvidencePIDReused || ev.Process != nil || len(ev.Ancestry) != 0 {
		t.Fatalf("status %q process %v: want pid_reused and nothing taken", ev.Status, ev.Process)
	}
	if !strings.Contains(ev.Reason, "now belongs to a process started at") {
		t.Errorf("reason %q", ev.Reason)
	}
	// An alert older than the process there now: the same.
	r = request(w.cmd.Process.Pid)
	r.AlertNS = time.Now().Add(-time.Hour).UnixNano()
	if ev := take(t, r); ev.Status != report.EvidencePIDReused {
		t.Errorf("alert older than the process: status %q", ev.Status)
	}
}

func TestTakeBudget(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := startChild(t, exe)
	lim := DefaultLimits
	lim.Budget = time.Nanosecond // runs out at once: every step must notice
	ev := Take(context.Background(), request(w.cmd.Process.Pid), lim)
	if ev.Status != report.EvidenceTaken || ev.Process == nil {
		t.Fatalf("status %q: the cheap parts are still taken", ev.Status)
	}
	if ev.Process.SHA256 != "" || len(ev.Process.FDs) != 0 || len(ev.Ancestry) != 0 {
		t.Errorf("taken after the budget ran out: %+v", ev.Process)
	}
	if len(ev.Notes) == 0 || !strings.Contains(ev.Notes[0], "time budget") {
		t.Errorf("notes %q do not say the budget ran out", ev.Notes)
	}
}

func TestTakeRefusesBadRequests(t *testing.T) {
	for _, r := range []Request{
		{PID: 0, AlertNS: 1},
		{PID: MaxPID + 1, AlertNS: 1},
		{PID: 1},
		{PID: 1, AlertNS: 1, Paths: []string{"/tmp/../etc/shadow"}},
		{PID: 1, AlertNS: 1, Paths: []string{"relative"}},
		{PID: 1, AlertNS: 1, Paths: []string{"/a\x00b"}},
		{PID: 1, AlertNS: 1, Sysctls: []string{"../../etc/shadow"}},
		{PID: 1, AlertNS: 1, Sysctls: []string{"net.ipv4.tcp_fastopen_key"}},
	} {
		if ev := Take(context.Background(), r, DefaultLimits); ev.Status != report.EvidenceFailed || ev.Process != nil {
			t.Errorf("%+v: status %q, want failed", r, ev.Status)
		}
	}
}

// TestTakeBoundsFDs: a process with more descriptors than MaxFDs (an
// intruder can open thousands) gives the first MaxFDs and a note.
func TestTakeBoundsFDs(t *testing.T) {
	dir := t.TempDir()
	for i := range DefaultLimits.MaxFDs + 50 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	ev := take(t, request(os.Getpid()))
	if ev.Status != report.EvidenceTaken || len(ev.Process.FDs) != DefaultLimits.MaxFDs {
		t.Fatalf("status %q, %d fds: want %d", ev.Status, len(ev.Process.FDs), DefaultLimits.MaxFDs)
	}
	if !slices.ContainsFunc(ev.Notes, func(n string) bool { return strings.Contains(n, "open file descriptors: the first 256 are shown") }) {
		t.Errorf("notes %q", ev.Notes)
	}
}

// TestTakeRealReusedPID: the alert's process exits and the kernel gives
// its PID to a new one (forced with /proc/sys/kernel/ns_last_pid, root
// only); the snapshot says so and takes nothing from the new process.
func TestTakeRealReusedPID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("setting kernel.ns_last_pid needs root")
	}
	start := time.Now()
	first := exec.Command("sleep", "60")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	pid := first.Process.Pid
	alertNS := time.Now().UnixNano() // the alert: the first process was alive
	// /proc's start times have a second of slack against Falco's.
	time.Sleep(1500 * time.Millisecond)
	_ = first.Process.Kill()
	_ = first.Wait()
	var second *exec.Cmd
	for range 50 {
		// The next fork takes ns_last_pid+1, unless another process on
		// the machine forks first: try again.
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot set kernel.ns_last_pid: %v", err)
		}
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			second = c
			break
		}
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	if second == nil {
		t.Skip("PID not reused in 50 tries: the machine forks too much")
	}
	t.Cleanup(func() { _ = second.Process.Kill(); _ = second.Wait() })
	for _, r := range []Request{
		{PID: pid, AlertNS: alertNS, StartNS: start.UnixNano(), Host: true}, // Falco sent proc.pid.ts
		{PID: pid, AlertNS: alertNS, Host: true},                            // it did not
	} {
		ev := take(t, r)
		if ev.Status != report.EvidencePIDReused || ev.Process != nil || len(ev.Ancestry) != 0 || len(ev.Files) != 0 {
			t.Errorf("start_ns %d: status %q, process %v: want pid_reused and nothing taken", r.StartNS, ev.Status, ev.Process)
		}
	}
}

// TestTakeSysctls: a host sysctl is read; a net.* one is not, since the
// collector's network namespace is its own, and the report says why.
func TestTakeSysctls(t *testing.T) {
	r := request(os.Getpid())
	r.Sysctls = []string{"kernel.pid_max", "net.ipv4.ip_forward"}
	ev := take(t, r)
	if len(ev.Sysctls) != 2 {
		t.Fatalf("sysctls %+v", ev.Sysctls)
	}
	if want, _ := os.ReadFile("/proc/sys/kernel/pid_max"); ev.Sysctls[0].Value != strings.TrimSpace(string(want)) || ev.Sysctls[0].Error != "" {
		t.Errorf("kernel.pid_max: %+v, want %q", ev.Sysctls[0], want)
	}
	if s := ev.Sysctls[1]; s.Value != "" || !strings.Contains(s.Error, "network namespace") {
		t.Errorf("net.ipv4.ip_forward: %+v, want not read, and why", s)
	}
	rep := report.Report{Investigation: []report.Step{{Command: "sysctl net.ipv4.ip_forward kernel.yama.ptrace_scope"}}}
	if got := SysctlsIn(&rep); !slices.Equal(got, []string{"kernel.yama.ptrace_scope"}) {
		t.Errorf("SysctlsIn %v: net.* is not asked for", got)
	}
}
