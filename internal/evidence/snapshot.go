package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Limits bound one snapshot in time and in bytes.
type Limits struct {
	Budget       time.Duration // the whole snapshot; what is left when it runs out is noted, not taken
	MaxExeBytes  int64         // executables larger than this are not hashed
	MaxCmdline   int           // bytes of each command line
	MaxFDs       int
	MaxSockets   int
	MaxAncestors int
	MaxCgroup    int // bytes of /proc/PID/cgroup
}

// DefaultLimits are the limits the daemon uses unless configured.
var DefaultLimits = Limits{
	Budget:       200 * time.Millisecond,
	MaxExeBytes:  256 << 20,
	MaxCmdline:   4096,
	MaxFDs:       256,
	MaxSockets:   64,
	MaxAncestors: 32,
	MaxCgroup:    4096,
}

// startSlack is how far a process's start time, read from /proc to 10 ms
// and converted to the wall clock, may differ from Falco's and still be
// the same process. Both are boot-relative times turned into wall-clock
// times with a boot time estimated at different moments, which NTP can
// move apart; a PID reused within a second of the first process's start
// needs all pid_max PIDs used up in that second.
const startSlack = time.Second

// Take takes a snapshot for r on this host: it reads /proc and lstat()s
// paths, never follows a symbolic link the alert named, never opens a
// file other than under /proc (and the executable, through
// /proc/PID/exe, for its hash), and stops when ctx ends or lim.Budget
// has passed, noting what it did not take.
func Take(ctx context.Context, r Request, lim Limits) (ev report.Evidence) {
	began := time.Now()
	ev.PID = r.PID
	if err := r.Validate(); err != nil {
		ev.Status, ev.Reason = report.EvidenceFailed, "request refused: "+err.Error()
		return ev
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Budget)
	defer cancel()
	alert := time.Unix(0, r.AlertNS)
	at := report.Time{Time: began.UTC()}
	ev.TakenAt, ev.DelayMS = &at, ms(began.Sub(alert))
	defer func() { ev.TookMS = ms(time.Since(began)) }()

	s := &snap{ctx: ctx, lim: lim, ev: &ev}
	p, err := openProc(r.PID)
	if err == nil {
		defer p.close()
		var st stat
		if st, err = p.readStat(); err == nil {
			if r.StartNS != 0 && absDur(st.start.Sub(time.Unix(0, r.StartNS))) > startSlack ||
				st.start.After(alert.Add(startSlack)) {
				ev.Status = report.EvidencePIDReused
				ev.Reason = fmt.Sprintf("PID %d now belongs to a process started at %s, not to the alert's process: nothing was taken from it",
					r.PID, st.start.UTC().Format(report.TimeFormat))
				s.files(r, nil)
				s.sysctls(r.Sysctls)
				return ev
			}
			s.process(p, st)
		}
	}
	if ev.Process == nil {
		ev.Status = report.EvidenceExited
		ev.Reason = fmt.Sprintf("process %d had exited when the collector looked, %.0f ms after the alert", r.PID, ev.DelayMS)
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			ev.Status, ev.Reason = report.EvidenceFailed, "cannot read /proc/"+strconv.Itoa(r.PID)+": "+describeErr(err)
		}
		s.files(r, nil)
		s.sysctls(r.Sysctls)
		return ev
	}
	ev.Status = report.EvidenceTaken
	s.ancestry(ev.Process.PPID, ev.Process.Start.Time)
	s.files(r, p)
	s.sysctls(r.Sysctls)
	if s.exe != nil {
		s.hashExe()
	}
	return ev
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// snap is one snapshot being taken.
type snap struct {
	ctx context.Context
	lim Limits
	ev  *report.Evidence
	cut bool     // the budget ran out; noted once
	exe *os.File // the process's executable, to hash last
}

// over reports whether the budget has run out, noting it once with what
// was not taken.
func (s *snap) over(what string) bool {
	if s.ctx.Err() == nil {
		return false
	}
	if !s.cut {
		s.cut = true
		s.note("the time budget of %s ran out: %s and what follows were not taken", s.lim.Budget, what)
	}
	return true
}

func (s *snap) note(format string, args ...any) {
	s.ev.Notes = append(s.ev.Notes, fmt.Sprintf(format, args...))
}

// process reads the alert's process. Every read goes through p's
// descriptor: if the process exits meanwhile, reads fail and the snapshot
// says so instead of mixing two processes.
func (s *snap) process(p *procDir, st stat) {
	pr := &report.Process{PID: p.pid, PPID: st.ppid, Start: report.Time{Time: st.start.UTC()}}
	exe, err := p.link("exe")
	if err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
			return // exited between the open and now
		}
		s.note("executable: %s", describeErr(err))
	}
	pr.Exe, pr.ExeDeleted = clean(strings.TrimSuffix(exe, " (deleted)")), strings.HasSuffix(exe, " (deleted)")
	if err == nil {
		// Opened now, hashed last: the file stays readable through this
		// descriptor when the process exits, and the facts that vanish
		// with the process are read first.
		s.openExe(p)
	}
	var cut bool
	if pr.Cmdline, cut, err = p.cmdline(s.lim.MaxCmdline); err != nil {
		s.note("command line: %s", describeErr(err))
	} else if cut {
		s.note("the command line was cut to %d bytes", s.lim.MaxCmdline)
	}
	if cwd, err := p.link("cwd"); err == nil {
		pr.Cwd = clean(cwd)
	} else {
		s.note("cwd: %s", describeErr(err))
	}
	if b, err := p.read("status", 16<<10); err == nil {
		st := parseStatus(b)
		pr.UIDs, pr.GIDs, pr.Groups = st.uids, st.gids, st.groups
		pr.Capabilities = report.Capabilities{
			Effective: capHex(st.capEff), Permitted: capHex(st.capPrm), Inheritable: capHex(st.capInh),
			Bounding: capHex(st.capBnd), Ambient: capHex(st.capAmb), Names: CapNames(st.capEff),
		}
		pr.NoNewPrivs, pr.Seccomp, pr.TracerPID = st.noNewPrivs, st.seccomp, st.tracerPID
	} else {
		s.note("status: %s", describeErr(err))
	}
	if b, err := p.read("cgroup", s.lim.MaxCgroup); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				pr.Cgroup = append(pr.Cgroup, clean(l))
			}
		}
	}
	pr.Namespaces = s.namespaces(p)
	if !s.over("open file descriptors") {
		byInode := map[uint64]int{}
		pr.FDs = s.fds(p, byInode)
		if len(byInode) > 0 && !s.over("sockets") {
			socks, err := p.sockets(s.ctx, byInode, s.lim.MaxSockets)
			if err != nil && !s.over("sockets") {
				s.note("sockets: %s", describeErr(err))
			}
			pr.Sockets = socks
		}
	}
	// JSON arrays, not nulls, for what the schema requires.
	for _, v := range []*[]int{&pr.UIDs, &pr.GIDs} {
		if *v == nil {
			*v = []int{}
		}
	}
	if pr.Cmdline == nil {
		pr.Cmdline = []string{}
	}
	// Still the same process? A read through the descriptor of a dead
	// process fails.
	if _, err := p.readStat(); err != nil {
		s.note("the process exited while it was being looked at: what is shown was read before")
	}
	s.ev.Process = pr
}

// openExe opens /proc/PID/exe, the kernel's reference to the running
// file, readable even when the file was deleted or replaced, into s.exe.
// The open reaches the executable's file system: guarded.
func (s *snap) openExe(p *procDir) {
	dir, err := unix.FcntlInt(uintptr(p.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		s.note("executable's hash: %s", describeErr(err))
		return
	}
	type opened struct {
		f   *os.File
		err error
	}
	o, ok := guard(s, "executable's hash", func() opened {
		defer unix.Close(dir)
		fd, err := unix.Openat(dir, "exe", unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return opened{err: err}
		}
		return opened{f: os.NewFile(uintptr(fd), "exe")}
	}, func(o opened) {
		if o.f != nil {
			o.f.Close()
		}
	})
	switch {
	case !ok:
	case o.err != nil:
		s.note("executable's hash: %s", describeErr(o.err))
	default:
		s.exe = o.f
	}
}

// hashExe hashes s.exe, within what is left of the budget, and closes it.
func (s *snap) hashExe() {
	type hashed struct {
		sum   string
		size  int64
		err   error
		large bool // over MaxExeBytes
		cut   bool // the budget ran out
	}
	f, ctx, max := s.exe, s.ctx, s.lim.MaxExeBytes
	s.exe = nil
	h, ok := guard(s, "the executable's hash", func() (out hashed) {
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return hashed{err: err}
		}
		if !fi.Mode().IsRegular() {
			return hashed{err: errors.New("not a regular file")}
		}
		out.size = fi.Size()
		if out.size > max {
			out.large = true
			return out
		}
		sum := sha256.New()
		buf := make([]byte, 256<<10)
		for {
			if ctx.Err() != nil {
				out.cut = true
				return out
			}
			n, err := f.Read(buf)
			sum.Write(buf[:n])
			if err != nil {
				break
			}
		}
		out.sum = hex.EncodeToString(sum.Sum(nil))
		return out
	}, nil)
	if !ok {
		return
	}
	switch {
	case h.err != nil:
		s.note("executable's hash: %s", describeErr(h.err))
	case h.large:
		s.note("the executable (%d bytes) is larger than the %d bytes hashed: no hash", h.size, max)
	case h.cut:
		s.over("the executable's hash")
	}
	s.ev.Process.SHA256, s.ev.Process.ExeSize = h.sum, h.size
}

// namespaces reads the process's namespace ids and compares each with
// PID 1's.
func (s *snap) namespaces(p *procDir) []report.Namespace {
	var out []report.Namespace
	for _, t := range nsTypes {
		l, err := p.link("ns/" + t)
		if err != nil {
			continue
		}
		ino, ok := nsInode(l)
		if !ok {
			continue
		}
		ns := report.Namespace{Type: t, Inode: ino}
		if host, err := os.Readlink("/proc/1/ns/" + t); err == nil {
			same := host == l
			ns.Host = &same
		}
		out = append(out, ns)
	}
	return out
}

// fds lists the process's open descriptors, in order, and fills byInode
// with its sockets.
func (s *snap) fds(p *procDir, byInode map[uint64]int) []report.FD {
	dfd, err := unix.Openat(p.fd, "fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		s.note("open file descriptors: %s", describeErr(err))
		return nil
	}
	d := os.NewFile(uintptr(dfd), "fd")
	defer d.Close()
	var nums []int
	for {
		names, err := d.Readdirnames(512)
		for _, n := range names {
			if v, err := strconv.Atoi(n); err == nil {
				nums = append(nums, v)
			}
		}
		if err != nil || len(nums) > 64*s.lim.MaxFDs || s.ctx.Err() != nil {
			break
		}
	}
	sort.Ints(nums)
	if len(nums) > s.lim.MaxFDs {
		s.note("%d or more open file descriptors: the first %d are shown", len(nums), s.lim.MaxFDs)
		nums = nums[:s.lim.MaxFDs]
	}
	out := make([]report.FD, 0, len(nums))
	for _, n := range nums {
		if s.over("the remaining file descriptors") {
			break
		}
		t, err := readlinkat(dfd, strconv.Itoa(n))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := socketInode(t); ok {
			byInode[ino] = n
		}
		out = append(out, report.FD{Num: n, Target: clean(t)})
	}
	return out
}

// ancestry walks from ppid up to PID 1; child is the start of the process
// whose parent ppid is. A parent starts before its child: a PID that now
// belongs to a later process was reused after the parent exited.
func (s *snap) ancestry(ppid int, child time.Time) {
	for pid, n := ppid, 0; pid > 0; n++ {
		if n >= s.lim.MaxAncestors {
			s.note("the ancestry was cut after %d processes", s.lim.MaxAncestors)
			return
		}
		if s.over("the ancestry") {
			return
		}
		p, err := openProc(pid)
		if err != nil {
			s.ev.Ancestry = append(s.ev.Ancestry, report.Ancestor{PID: pid, Cmdline: []string{}, Note: "exited"})
			return
		}
		st, err := p.readStat()
		if err != nil {
			p.close()
			s.ev.Ancestry = append(s.ev.Ancestry, report.Ancestor{PID: pid, Cmdline: []string{}, Note: "exited"})
			return
		}
		// Start times are clock ticks (10 ms) plus a boot time read each
		// time: allow for both.
		if st.start.After(child.Add(50 * time.Millisecond)) {
			p.close()
			s.ev.Ancestry = append(s.ev.Ancestry, report.Ancestor{PID: pid, Cmdline: []string{},
				Note: "exited: its PID now belongs to a process started after its child"})
			return
		}
		child = st.start
		a := report.Ancestor{PID: pid, Start: report.Time{Time: st.start.UTC()}, Cmdline: []string{}}
		var notes []string
		if exe, err := p.link("exe"); err == nil {
			a.Exe = clean(exe)
		} else if pid != 2 && st.ppid != 2 { // kernel threads have no executable
			notes = append(notes, "executable: "+describeErr(err))
		}
		if c, _, err := p.cmdline(s.lim.MaxCmdline); err == nil {
			a.Cmdline = c
		} else {
			notes = append(notes, "command line: "+describeErr(err))
		}
		a.Note = strings.Join(notes, "; ")
		p.close()
		s.ev.Ancestry = append(s.ev.Ancestry, a)
		if pid == 1 {
			return
		}
		pid = st.ppid
	}
}

// files lstat()s the alert's paths inside the process's root (p may be
// nil: the process is gone, or it is not the alert's; then only for a
// process on the host, from the host's root).
func (s *snap) files(r Request, p *procDir) {
	if len(r.Paths) == 0 {
		return
	}
	var root int
	var err error
	switch {
	case p != nil:
		root, err = unix.Openat(p.fd, "root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	case r.Host:
		// PID 1's root: the host's files even where the collector's own
		// mount namespace hides some (ProtectHome=, PrivateTmp=).
		root, err = unix.Open("/proc/1/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			root, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
	default:
		s.note("the alert's paths were not described: the container's root is gone with its process")
		return
	}
	if err != nil {
		s.note("the alert's paths were not described: the process's root: %s", describeErr(err))
		return
	}
	defer unix.Close(root)
	for _, path := range r.Paths {
		if s.over("the alert's paths") {
			break
		}
		// The walk reaches the path's file systems: guarded, with a
		// descriptor of its own.
		dir, err := unix.FcntlInt(uintptr(root), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			s.ev.Files = append(s.ev.Files, report.FileStat{Path: clean(path), Error: describeErr(err)})
			continue
		}
		st, ok := guard(s, "the alert's paths", func() report.FileStat {
			defer unix.Close(dir)
			return lstatIn(dir, path)
		}, nil)
		if !ok {
			s.ev.Files = append(s.ev.Files, report.FileStat{Path: clean(path), Error: "not described: see the notes"})
			break
		}
		s.ev.Files = append(s.ev.Files, st)
	}
	markHardLinks(s.ev.Files)
}

// sysctls reads the named kernel settings under /proc/sys, never
// following a link.
func (s *snap) sysctls(names []string) {
	if len(names) == 0 {
		return
	}
	dir, err := unix.Open("/proc/sys", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		s.note("sysctls: %s", describeErr(err))
		return
	}
	defer unix.Close(dir)
	for _, n := range names {
		if s.over("the sysctls") {
			return
		}
		sc := report.Sysctl{Name: n}
		if strings.HasPrefix(n, "net.") {
			// The collector has a network namespace of its own
			// (PrivateNetwork=yes): its net.* values are not the host's.
			sc.Error = "set per network namespace, and the collector runs in its own: not read"
			s.ev.Sysctls = append(s.ev.Sysctls, sc)
			continue
		}
		v, err := readSysctl(dir, n)
		switch {
		case errors.Is(err, unix.EACCES) && unix.Geteuid() != 0:
			// The kernel lets only uid 0 read a 0600 sysctl, whatever the
			// capabilities; the collector does not run as root.
			sc.Error = "readable by root only, and the collector does not run as root: see the step's command"
		case err != nil:
			sc.Error = describeErr(err)
		default:
			sc.Value = clean(v)
		}
		s.ev.Sysctls = append(s.ev.Sysctls, sc)
	}
}

func readSysctl(dir int, name string) (string, error) {
	fd, err := unix.Openat2(dir, strings.ReplaceAll(name, ".", "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		fd, err = unix.Openat(dir, strings.ReplaceAll(name, ".", "/"), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(string(buf[:n])), " "), nil
}
