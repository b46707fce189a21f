package evidence

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// errSymlinkOnPath is returned for a path with a symbolic link before its
// last component: the collector never follows one.
var errSymlinkOnPath = errors.New("not followed: a directory on the way is a symbolic link")

// lstatIn describes path as seen from root (an open directory: the
// process's root, /proc/PID/root), like lstat(2): the last component is
// described, never followed, and no symbolic link on the way is followed
// either. The directory is opened with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) where the kernel has it
// (5.6), else one component at a time with O_NOFOLLOW.
func lstatIn(root int, p string) report.FileStat {
	out := report.FileStat{Path: clean(p)}
	if err := checkPath(p); err != nil {
		out.Error = "refused: " + err.Error()
		return out
	}
	dir, base := path.Split(p)
	dirfd, err := openDir(root, strings.TrimSuffix(dir, "/"))
	if err != nil {
		out.Error = describeErr(err)
		return out
	}
	defer unix.Close(dirfd)
	if base == "" { // "/" itself
		base = "."
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		out.Error = describeErr(err)
		return out
	}
	out.Type, out.Mode = fileType(st.Mode), lsMode(st.Mode)
	out.Inode, out.Links = st.Ino, uint64(st.Nlink)
	out.Device = fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	out.UID, out.GID, out.Size = int(st.Uid), int(st.Gid), st.Size
	mt := report.Time{Time: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()}
	out.MTime = &mt
	if out.Type == "symlink" {
		// The link's own text, as ls -l shows it: reading it follows
		// nothing.
		if t, err := readlinkat(dirfd, base); err == nil {
			out.Target = clean(t)
		}
	}
	return out
}

// openDir opens dir (absolute, clean; "" is the root) beneath root.
func openDir(root int, dir string) (int, error) {
	rel := strings.TrimPrefix(dir, "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ELOOP):
		return -1, errSymlinkOnPath
	case errors.Is(err, unix.ENOTDIR):
		// O_NOFOLLOW on a last component that is a link says ENOTDIR:
		// tell the two apart, following nothing.
		if fd, slow := openDirSlow(root, rel); slow != nil {
			return -1, slow
		} else {
			unix.Close(fd)
		}
	case errors.Is(err, unix.ENOSYS):
		return openDirSlow(root, rel)
	}
	return -1, err
}

// openDirSlow walks rel one component at a time, refusing symbolic links:
// for kernels before openat2.
func openDirSlow(root int, rel string) (int, error) {
	fd, err := unix.Openat(root, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if rel == "." {
		return fd, nil
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			var st unix.Stat_t
			if unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = errSymlinkOnPath
			}
			unix.Close(fd)
			return -1, err
		}
		unix.Close(fd)
		fd = next
	}
	return fd, nil
}

func describeErr(err error) string {
	switch {
	case errors.Is(err, errSymlinkOnPath):
		return err.Error()
	case errors.Is(err, unix.ENOENT):
		return "does not exist"
	case errors.Is(err, unix.ENOTDIR):
		return "a directory on the way is not a directory"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return "permission denied"
	case errors.Is(err, unix.ESRCH):
		return "the process exited"
	}
	return err.Error()
}

func fileType(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	}
	return "unknown"
}

// lsMode spells a raw st_mode as ls -l does: "-rwsr-xr-x".
func lsMode(m uint32) string {
	b := []byte("?---------")
	if t := map[uint32]byte{unix.S_IFREG: '-', unix.S_IFDIR: 'd', unix.S_IFLNK: 'l', unix.S_IFIFO: 'p',
		unix.S_IFSOCK: 's', unix.S_IFCHR: 'c', unix.S_IFBLK: 'b'}[m&unix.S_IFMT]; t != 0 {
		b[0] = t
	}
	for i, c := range "rwxrwxrwx" {
		if m&(1<<(8-i)) != 0 {
			b[i+1] = byte(c)
		}
	}
	special := func(bit uint32, at int, set, unset byte) {
		if m&bit != 0 {
			if b[at] == 'x' {
				b[at] = set
			} else {
				b[at] = unset
			}
		}
	}
	special(unix.S_ISUID, 3, 's', 'S')
	special(unix.S_ISGID, 6, 's', 'S')
	special(unix.S_ISVTX, 9, 't', 'T')
	return string(b)
}

// markHardLinks fills SameAs: paths of the snapshot that are one file.
func markHardLinks(files []report.FileStat) {
	for i := range files {
		for j := range files {
			a, b := &files[i], &files[j]
			if i != j && a.Error == "" && b.Error == "" && a.Type != "dir" &&
				a.Inode == b.Inode && a.Device == b.Device {
				a.SameAs = append(a.SameAs, b.Path)
			}
		}
	}
}
