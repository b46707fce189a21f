// Command falco-reporter-evidence is the evidence collector: a small,
// separately privileged service that takes read-only snapshots of a
// process and of the files an alert names, for the unprivileged
// falco-reporter daemon, which asks over a unix socket.
//
//	falco-reporter-evidence --socket PATH --allow-user falco-reporter [--budget 200ms]
//
// It answers only the allowed user (SO_PEERCRED), accepts only a PID, a
// start time, paths and sysctl names, follows no symbolic link on the way
// to a path, and never executes anything. See internal/evidence.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("falco-reporter-evidence", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("socket", "/run/falco-reporter-evidence/evidence.sock", "the unix socket to answer on")
	allow := fs.String("allow-user", "falco-reporter", "the only user (name or uid) whose requests are answered")
	budget := fs.Duration("budget", evidence.DefaultLimits.Budget, "time budget of one snapshot")
	busy := fs.Int("max-busy", 4, "snapshots taken at once; more are answered \"skipped\"")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	uid, err := lookupUID(*allow)
	if err != nil {
		fmt.Fprintf(stderr, "falco-reporter-evidence: --allow-user: %v\n", err)
		return 2
	}
	if *budget <= 0 || *budget > 10*time.Second || *busy < 1 {
		fmt.Fprintln(stderr, "falco-reporter-evidence: --budget must be in (0, 10s], --max-busy at least 1")
		return 2
	}
	ln, err := listen(*sock, uid)
	if err != nil {
		fmt.Fprintf(stderr, "falco-reporter-evidence: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	lim := evidence.DefaultLimits
	lim.Budget = *budget
	s := &evidence.Server{AllowUID: uid, Limits: lim, MaxBusy: *busy, Refused: func(peer int, reason string) {
		// One line per refusal, to the journal through stderr; the
		// reason may quote a request, so it is escaped.
		fmt.Fprintf(stderr, "refused uid %d: %s\n", peer, safe.Line(reason))
	}}
	fmt.Fprintf(stderr, "answering uid %d on %s\n", uid, *sock)
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "falco-reporter-evidence: %v\n", err)
		return 1
	}
	return 0
}

// lookupUID turns a user name or a number into a uid.
func lookupUID(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(u.Uid)
}

// listen returns the socket systemd passed (falco-reporter-evidence.socket)
// or else creates it, owned by uid and mode 0600: the file's mode keeps
// other users out before SO_PEERCRED does.
func listen(path string, uid int) (*net.UnixListener, error) {
	if os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") == "1" {
		f := os.NewFile(3, "systemd socket")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("the socket from systemd: %w", err)
		}
		ul, ok := l.(*net.UnixListener)
		if !ok {
			l.Close()
			return nil, errors.New("the socket from systemd is not a unix socket")
		}
		return ul, nil
	}
	syscall.Umask(0o177) // no moment when the socket is open to all
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove the old socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Lchown(path, uid, -1); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
