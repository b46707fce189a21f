// Package evidence takes a read-only snapshot of a process and of the
// files and sysctls an alert names, right after the alert, before they are
// gone: what the report calls "Evidence at alert time".
//
// The snapshot is taken by a separate, small, privileged collector
// (cmd/falco-reporter-evidence) that answers on a unix socket; the daemon,
// which parses untrusted input, stays unprivileged and asks through
// Client. The collector accepts only a Request (a PID, a start time, paths
// and sysctl names), each part validated; it never follows a symbolic link
// on the way to a path, never reads the environment, memory or file
// contents (only the executable's bytes, for its hash), and never executes
// anything.
package evidence

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Request is what the daemon may ask of the collector.
type Request struct {
	PID int `json:"pid"`
	// StartNS is the process's start time (Falco's proc.pid.ts), Unix
	// nanoseconds; 0 when the alert did not carry it.
	StartNS int64 `json:"start_ns,omitempty"`
	// AlertNS is the alert's time: the process was alive then, so it had
	// started before.
	AlertNS int64 `json:"alert_ns"`
	// Host is set when the process ran on the host, not in a container:
	// paths are then still described after it exited, from PID 1's root.
	Host    bool     `json:"host,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	Sysctls []string `json:"sysctls,omitempty"`
}

// Bounds of a request. The kernel's largest PID is 2^22.
const (
	MaxPID        = 1 << 22
	MaxPaths      = 8
	MaxSysctls    = 16
	MaxPathLen    = 4096
	MaxRequestLen = 64 << 10
)

// sysctlName is a sysctl as sysctl(8) names it: dot-separated words.
var sysctlName = regexp.MustCompile(`^[a-z0-9_]+(\.[A-Za-z0-9_-]+){1,7}$`)

// ValidSysctl reports whether name is a well-formed sysctl name (it may
// still not exist on this kernel).
func ValidSysctl(name string) bool { return len(name) <= 128 && sysctlName.MatchString(name) }

// Secret sysctls hold keys; they are refused even if asked for.
var secretSysctls = []string{"net.ipv4.tcp_fastopen_key", "stable_secret", "kernel.random.boot_id", "kernel.random.uuid"}

// Validate checks every part of r; the error names the first bad one.
func (r *Request) Validate() error {
	if r.PID < 1 || r.PID > MaxPID {
		return fmt.Errorf("pid %d out of range 1..%d", r.PID, MaxPID)
	}
	if r.StartNS < 0 || r.AlertNS <= 0 {
		return errors.New("start and alert times must be Unix nanoseconds")
	}
	if r.StartNS > r.AlertNS+int64(time.Second) {
		return errors.New("the process cannot start after the alert it caused")
	}
	if len(r.Paths) > MaxPaths {
		return fmt.Errorf("%d paths, at most %d", len(r.Paths), MaxPaths)
	}
	for _, p := range r.Paths {
		if err := checkPath(p); err != nil {
			return err
		}
	}
	if len(r.Sysctls) > MaxSysctls {
		return fmt.Errorf("%d sysctls, at most %d", len(r.Sysctls), MaxSysctls)
	}
	for _, s := range r.Sysctls {
		if !ValidSysctl(s) {
			return fmt.Errorf("%q is not a sysctl name", s)
		}
		for _, secret := range secretSysctls {
			if strings.Contains(s, secret) {
				return fmt.Errorf("sysctl %s holds a secret and is never read", s)
			}
		}
	}
	return nil
}

// checkPath accepts absolute, clean paths: no "..", ".", "//", NUL, or
// invalid UTF-8. Such a path names one file without any help from the
// file system; the collector still refuses symbolic links on the way.
func checkPath(p string) error {
	switch {
	case p == "" || p[0] != '/':
		return fmt.Errorf("path %q is not absolute", p)
	case len(p) > MaxPathLen:
		return fmt.Errorf("path of %d bytes, at most %d", len(p), MaxPathLen)
	case strings.IndexByte(p, 0) >= 0 || !utf8.ValidString(p):
		return fmt.Errorf("path %q holds a NUL or invalid UTF-8", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean (.., . or //)", p)
	}
	return nil
}

// ValidPath reports whether the collector accepts p as a path to describe.
func ValidPath(p string) bool { return checkPath(p) == nil }
