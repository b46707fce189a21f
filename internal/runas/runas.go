// Package runas switches a process started as root to an unprivileged user
// for good, so that the files it creates belong to the user the service
// runs as and it can do no more than the service could.
package runas

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// User is a user and group to run as.
type User struct {
	UID, GID    int
	Name, Group string // names, or the numbers when they have none
}

// String returns "name:group (uid N, gid M)".
func (u User) String() string {
	return fmt.Sprintf("%s:%s (uid %d, gid %d)", u.Name, u.Group, u.UID, u.GID)
}

// Current returns the process's effective user and group.
func Current() User { return Named(os.Geteuid(), os.Getegid()) }

// Lookup returns the user called name with its primary group.
func Lookup(name string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	return Named(uid, gid), nil
}

// Owner returns the owner and group of the first of paths that exists;
// found is false when none does.
func Owner(paths ...string) (u User, path string, found bool, err error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return User{}, "", false, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return User{}, "", false, fmt.Errorf("%s: no owner information", p)
		}
		return Named(int(st.Uid), int(st.Gid)), p, true, nil
	}
	return User{}, "", false, nil
}

// Named returns the user uid and group gid with their names, or with
// their numbers as names when they have none.
func Named(uid, gid int) User {
	u := User{UID: uid, GID: gid, Name: strconv.Itoa(uid), Group: strconv.Itoa(gid)}
	if pw, err := user.LookupId(u.Name); err == nil {
		u.Name = pw.Username
	}
	if gr, err := user.LookupGroupId(u.Group); err == nil {
		u.Group = gr.Name
	}
	return u
}

// Switch makes u the real, effective and saved user and group of every
// thread, with no supplementary groups (as the service sees them under
// PrivateUsers=yes), and checks that root cannot be regained. It needs
// root; a failure leaves the process in an unknown state, so the caller
// must exit.
func Switch(u User) error {
	if u.UID == 0 {
		return errors.New("runas: refusing to switch to root")
	}
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("drop supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(u.GID, u.GID, u.GID); err != nil {
		return fmt.Errorf("switch to group %s: %w", u.Group, err)
	}
	if err := syscall.Setresuid(u.UID, u.UID, u.UID); err != nil {
		return fmt.Errorf("switch to user %s: %w", u.Name, err)
	}
	if os.Getuid() != u.UID || os.Geteuid() != u.UID || os.Getgid() != u.GID || os.Getegid() != u.GID {
		return fmt.Errorf("switch to %s did not take effect", u)
	}
	if syscall.Setuid(0) == nil {
		return fmt.Errorf("switch to %s: root could be regained", u)
	}
	return nil
}
