// Package pathcheck checks, as the user the process runs as, that every
// path the configuration names can be used the way the daemon uses it, and
// says for each one that cannot why and which command repairs it.
//
// The daemon runs State's checks before it opens anything, so that state
// left by another user (a spool made by `sudo falco-reporter ingest` with an
// older version, a file restored from a backup) stops it with the path and
// the repair in the journal rather than a bare "permission denied".
// `falco-reporter check-config --as-service` runs Service's checks, which
// add the inputs, TLS files, playbooks and the configuration itself.
package pathcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/runas"
)

// Access is what the daemon does with a path.
type Access int

// The kinds of Access.
const (
	Read     Access = iota // a file it reads
	Write                  // a file it reads and writes in place
	List                   // a directory it reads files from
	WriteDir               // a directory it creates, renames and deletes files in; created when missing
	Connect                // a unix socket it connects to
)

// String returns what the access needs, in words.
func (a Access) String() string {
	return [...]string{"read", "read and write", "list and read", "create files in", "connect to"}[a]
}

// Errors for a path of the wrong kind.
var (
	errNotDir    = errors.New("not a directory")
	errNotSocket = errors.New("not a unix socket")
	errIsDir     = errors.New("a directory, not a file")
)

// Item is one path to check.
type Item struct {
	Role   string // what the path is, e.g. "spool directory"
	Path   string
	Access Access
	// Optional: a missing path is fine (the daemon creates it, or waits
	// for it), provided it could be created or reached.
	Optional bool
	// Root, if set, is the top of the daemon's own tree that holds Path
	// (state_dir or reports.dir): everything in it should belong to the
	// daemon's user, and `chown -R` on Root repairs it.
	Root string
}

// Result is the outcome of one Item.
type Result struct {
	Item
	Err  error  // why the daemon cannot use the path; nil if it can
	Info string // what was found: "missing", "owner root:root, mode 0700"
	Fix  string // a shell command that repairs it, when there is one

	uid     int // the path's owner; -1 when it could not be seen
	rootUID int // the owner of Root; -1 when unknown
}

// OK reports whether the daemon can use the path.
func (r Result) OK() bool { return r.Err == nil }

// Check checks every item as the process's effective user.
func Check(items []Item) []Result {
	who := runas.Current()
	roots := map[string]int{} // owner uid of each Root, -1 if unknown
	out := make([]Result, 0, len(items))
	for _, it := range items {
		if _, ok := roots[it.Root]; !ok && it.Root != "" {
			roots[it.Root] = -1
			if u, _, found, err := runas.Owner(it.Root); err == nil && found {
				roots[it.Root] = u.UID
			}
		}
		r := check(it, who)
		r.rootUID = -1
		if it.Root != "" {
			r.rootUID = roots[it.Root]
		}
		r.Fix = fix(r, who)
		out = append(out, r)
	}
	return out
}

// check checks one item; Check fills in the fix.
func check(it Item, who runas.User) Result {
	r := Result{Item: it, uid: -1}
	fi, err := os.Stat(it.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Info = "missing"
		r.Err = reachable(it, who)
		if r.Err == nil && !it.Optional {
			r.Err = fs.ErrNotExist
		}
		return r
	case err != nil:
		r.Err = err
		r.Info = blocker(it.Path, who)
		return r
	}
	r.Info = ownerMode(fi)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		r.uid = int(st.Uid)
	}
	wantDir := it.Access == List || it.Access == WriteDir
	switch {
	case wantDir && !fi.IsDir():
		r.Err = errNotDir
	case it.Access == Connect && fi.Mode().Type() != fs.ModeSocket:
		r.Err = errNotSocket
	case !wantDir && it.Access != Connect && fi.IsDir():
		r.Err = errIsDir
	default:
		r.Err = access(it.Path, mode(it.Access))
	}
	return r
}

// mode returns the access(2) bits an Access needs.
func mode(a Access) uint32 {
	switch a {
	case Read:
		return unix.R_OK
	case Write, Connect:
		return unix.R_OK | unix.W_OK
	case List:
		return unix.R_OK | unix.X_OK
	}
	return unix.R_OK | unix.W_OK | unix.X_OK
}

// access asks the kernel whether the effective user may use path, which
// also covers ACLs, read-only mounts (EROFS) and search permission on
// every directory above it.
func access(path string, mode uint32) error {
	if err := unix.Faccessat(unix.AT_FDCWD, path, mode, unix.AT_EACCESS); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}

// reachable reports whether a missing path could be created (WriteDir) or
// reached once it appears: its nearest existing parent directory must be
// searchable, and writable when the daemon creates the path.
func reachable(it Item, who runas.User) error {
	parent := filepath.Dir(filepath.Clean(it.Path))
	for {
		fi, err := os.Stat(parent)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", parent)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || parent == filepath.Dir(parent) {
			return err
		}
		parent = filepath.Dir(parent)
	}
	need := uint32(unix.X_OK)
	if it.Access == WriteDir {
		need |= unix.W_OK
	}
	if err := access(parent, need); err != nil {
		what := "searchable"
		if it.Access == WriteDir {
			what = "writable"
		}
		info := ""
		if fi, err := os.Stat(parent); err == nil {
			info = ", " + ownerMode(fi)
		}
		return fmt.Errorf("%s is not %s by %s (%w%s)", parent, what, who.Name, unwrap(err), info)
	}
	return nil
}

// blocker names the first directory above path that the user cannot
// search, when stat fails for lack of permission.
func blocker(path string, who runas.User) string {
	var dirs []string
	for d := filepath.Dir(filepath.Clean(path)); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if access(dirs[i], unix.X_OK) != nil {
			info := ""
			if fi, err := os.Stat(dirs[i]); err == nil {
				info = ", " + ownerMode(fi)
			}
			return fmt.Sprintf("directory %s is not searchable by %s%s", dirs[i], who.Name, info)
		}
	}
	return ""
}

// ownerMode describes a file's owner and permission bits.
func ownerMode(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("mode %04o", fi.Mode().Perm())
	}
	o := runas.Named(int(st.Uid), int(st.Gid))
	return fmt.Sprintf("owner %s:%s, mode %04o", o.Name, o.Group, fi.Mode().Perm())
}

// unwrap returns the innermost error of a chain, e.g. "permission denied".
func unwrap(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// Line describes a result on one line: role, path, and what the daemon
// can or cannot do with it, and why.
func (r Result) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Role, r.Path)
	switch {
	case r.Info == "missing" && r.Err == nil:
		b.WriteString(": missing; ")
		if r.Access == WriteDir {
			b.WriteString("will be created")
		} else {
			b.WriteString("waited for")
		}
		return b.String()
	case r.Info == "missing" && errors.Is(r.Err, fs.ErrNotExist):
		b.WriteString(": missing")
		return b.String()
	case r.Info == "missing" && r.Access == WriteDir:
		fmt.Fprintf(&b, ": missing, and cannot be created: %v", r.Err)
		return b.String()
	case r.Info == "missing":
		fmt.Fprintf(&b, ": missing, and cannot be reached when it appears: %v", r.Err)
		return b.String()
	case r.Err != nil:
		fmt.Fprintf(&b, ": cannot %s it: %v", r.Access, reason(r.Err))
	default:
		fmt.Fprintf(&b, ": can %s it", r.Access)
	}
	if r.Info != "" {
		fmt.Fprintf(&b, " (%s)", r.Info)
	}
	return b.String()
}

// reason is err without the path that Line already shows.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
