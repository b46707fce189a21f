package evidence

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// procDir is an open /proc/PID directory. Every read goes through its
// descriptor: once the process has exited they fail with ESRCH, even if
// its PID was given to a new process meanwhile, so a snapshot can never
// mix two processes.
type procDir struct {
	pid int
	fd  int
}

func openProc(pid int) (*procDir, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &procDir{pid: pid, fd: fd}, nil
}

func (p *procDir) close() { _ = unix.Close(p.fd) }

// read returns at most max bytes of a file under /proc/PID.
func (p *procDir) read(name string, max int) ([]byte, error) {
	fd, err := unix.Openat(p.fd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(max)))
}

// link returns the target of a link under /proc/PID (exe, cwd, fd/N, ns/X).
func (p *procDir) link(name string) (string, error) {
	return readlinkat(p.fd, name)
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// stat is what the snapshot uses of /proc/PID/stat.
type stat struct {
	ppid  int
	start time.Time
}

// readStat parses /proc/PID/stat. The command name in parentheses may
// hold spaces and parentheses itself: fields are counted after the last
// ')'.
func (p *procDir) readStat() (stat, error) {
	b, err := p.read("stat", 4096)
	if err != nil {
		return stat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(3) ppid(4) ... starttime(22).
	if len(f) < 20 {
		return stat{}, errors.New("stat: too few fields")
	}
	ppid, err1 := strconv.Atoi(f[1])
	ticks, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return stat{}, errors.New("stat: bad ppid or start time")
	}
	return stat{ppid: ppid, start: bootTime().Add(time.Duration(ticks) * (time.Second / clockTicks))}, nil
}

// clockTicks is USER_HZ, the unit of start times in /proc: 100 on every
// Linux architecture's user ABI.
const clockTicks = 100

// bootTime is when the machine booted, by the wall clock: now less the
// time since boot (CLOCK_BOOTTIME, which /proc's start times count in).
func bootTime() time.Time {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return now.Add(-time.Duration(ts.Nano()))
}

// cmdline returns the process's arguments, at most max bytes of them.
func (p *procDir) cmdline(max int) ([]string, bool, error) {
	b, err := p.read("cmdline", max+1)
	if err != nil {
		return nil, false, err
	}
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return []string{}, cut, nil
	}
	parts := strings.Split(string(b), "\x00")
	for i, s := range parts {
		parts[i] = clean(s)
	}
	return parts, cut, nil
}

// status is what the snapshot uses of /proc/PID/status.
type status struct {
	uids, gids, groups []int
	capEff, capPrm     uint64
	capInh, capBnd     uint64
	capAmb             uint64
	noNewPrivs         bool
	seccomp, tracerPID int
}

func parseStatus(b []byte) status {
	var s status
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		hex := func() uint64 { v, _ := strconv.ParseUint(val, 16, 64); return v }
		num := func() int { v, _ := strconv.Atoi(val); return v }
		switch key {
		case "Uid":
			s.uids = ints(val)
		case "Gid":
			s.gids = ints(val)
		case "Groups":
			s.groups = ints(val)
		case "CapInh":
			s.capInh = hex()
		case "CapPrm":
			s.capPrm = hex()
		case "CapEff":
			s.capEff = hex()
		case "CapBnd":
			s.capBnd = hex()
		case "CapAmb":
			s.capAmb = hex()
		case "NoNewPrivs":
			s.noNewPrivs = val == "1"
		case "Seccomp":
			s.seccomp = num()
		case "TracerPid":
			s.tracerPID = num()
		}
	}
	return s
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		if v, err := strconv.Atoi(f); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// capNames are the capabilities by bit number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapNames names the capabilities in mask; the full set is "all".
func CapNames(mask uint64) []string {
	if mask == 0 {
		return nil
	}
	full := uint64(1)<<len(capNames) - 1
	if mask&full == full {
		return []string{"all"}
	}
	var out []string
	for i, n := range capNames {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	for i := len(capNames); i < 64; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, "cap_"+strconv.Itoa(i))
		}
	}
	return out
}

func capHex(v uint64) string { return fmt.Sprintf("%016x", v) }

// nsTypes are the namespaces under /proc/PID/ns the snapshot reads.
var nsTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// nsInode parses a namespace link, "net:[4026531840]".
func nsInode(link string) (uint64, bool) {
	i, j := strings.IndexByte(link, '['), strings.IndexByte(link, ']')
	if i < 0 || j < i {
		return 0, false
	}
	v, err := strconv.ParseUint(link[i+1:j], 10, 64)
	return v, err == nil
}

// socketInode parses an fd link to a socket, "socket:[12345]".
func socketInode(target string) (uint64, bool) {
	if !strings.HasPrefix(target, "socket:[") {
		return 0, false
	}
	return nsInode(target)
}

// clean makes a string from /proc valid UTF-8; renderers escape the rest.
func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
