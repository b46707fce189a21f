package report

// Evidence is what the evidence collector saw on the host right after an
// alert: the process, its ancestors, the files the alert named and the
// sysctls its playbook names. Every string in it comes from the host and
// may have been chosen by an intruder (command lines, file names), exactly
// like an alert's values. It never holds the environment, memory or file
// contents: the only content read is the executable's, for its hash.
//
// A report carries Evidence only where it applies (syscall alerts); then
// Status always says whether a snapshot was taken, and if not, why.
type Evidence struct {
	Status string `json:"status"` // one of the Evidence* constants
	// Reason says in words why nothing, or only part, was taken.
	Reason string `json:"reason,omitempty"`
	PID    int    `json:"pid,omitempty"`
	// TakenAt is when the collector started looking; DelayMS is how long
	// after the alert's time that was, and TookMS how long it looked.
	TakenAt *Time   `json:"taken_at,omitempty"`
	DelayMS float64 `json:"delay_ms,omitempty"`
	TookMS  float64 `json:"took_ms,omitempty"`

	Process  *Process   `json:"process,omitempty"`
	Ancestry []Ancestor `json:"ancestry,omitempty"`
	Files    []FileStat `json:"files,omitempty"`
	Sysctls  []Sysctl   `json:"sysctls,omitempty"`
	// Notes are what the time and size budgets cut, and what could not be
	// read, one sentence each.
	Notes []string `json:"notes,omitempty"`
}

// Evidence statuses.
const (
	EvidenceTaken     = "taken"      // the process was there: see Process
	EvidenceExited    = "exited"     // the process had exited before the collector looked
	EvidencePIDReused = "pid_reused" // the PID now belongs to another process: nothing taken from it
	EvidencePending   = "pending"    // requested; the report is rewritten when it arrives
	EvidenceOff       = "off"        // evidence.enabled is false
	EvidenceSkipped   = "skipped"    // not requested: a bound, another host, an alert without a PID
	EvidenceFailed    = "failed"     // the collector could not be reached or refused
)

// Process is the alert's process as /proc showed it.
type Process struct {
	PID   int  `json:"pid"`
	PPID  int  `json:"ppid"`
	Start Time `json:"start"` // from /proc/PID/stat, to 10 ms
	// Exe is the target of /proc/PID/exe; ExeDeleted is set when the file
	// was deleted (or replaced) after the process started.
	Exe        string `json:"exe"`
	ExeDeleted bool   `json:"exe_deleted,omitempty"`
	// SHA256 is the hash of /proc/PID/exe's bytes, which the kernel keeps
	// readable even after the file was deleted; ExeSize its size.
	SHA256  string   `json:"sha256,omitempty"`
	ExeSize int64    `json:"exe_size,omitempty"`
	Cmdline []string `json:"cmdline"`
	Cwd     string   `json:"cwd,omitempty"`
	// UIDs and GIDs are real, effective, saved and file-system ids.
	UIDs   []int `json:"uids"`
	GIDs   []int `json:"gids"`
	Groups []int `json:"groups,omitempty"`
	// Capabilities are the sets from status, as hex masks and, for the
	// effective set, by name.
	Capabilities Capabilities `json:"capabilities"`
	NoNewPrivs   bool         `json:"no_new_privs,omitempty"`
	Seccomp      int          `json:"seccomp,omitempty"` // 0 off, 1 strict, 2 filter
	TracerPID    int          `json:"tracer_pid,omitempty"`
	Cgroup       []string     `json:"cgroup,omitempty"`
	Namespaces   []Namespace  `json:"namespaces,omitempty"`
	FDs          []FD         `json:"fds,omitempty"`
	Sockets      []Socket     `json:"sockets,omitempty"`
}

// Capabilities are a process's capability sets.
type Capabilities struct {
	Effective   string   `json:"effective"`
	Permitted   string   `json:"permitted"`
	Inheritable string   `json:"inheritable"`
	Bounding    string   `json:"bounding"`
	Ambient     string   `json:"ambient"`
	Names       []string `json:"effective_names,omitempty"`
}

// Namespace is one of the process's namespaces; Host says whether PID 1
// has the same one, and is absent when PID 1's could not be read.
type Namespace struct {
	Type  string `json:"type"`
	Inode uint64 `json:"inode"`
	Host  *bool  `json:"host,omitempty"`
}

// FD is an open file descriptor and what its link in /proc/PID/fd names.
type FD struct {
	Num    int    `json:"fd"`
	Target string `json:"target"`
}

// Socket is a TCP or UDP socket of the process, from /proc/PID/net.
type Socket struct {
	FD     int    `json:"fd"`
	Proto  string `json:"proto"` // tcp, tcp6, udp, udp6
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	Inode  uint64 `json:"inode"`
}

// Ancestor is one process on the way from the alert's process to PID 1.
type Ancestor struct {
	PID     int      `json:"pid"`
	Start   Time     `json:"start"`
	Exe     string   `json:"exe,omitempty"`
	Cmdline []string `json:"cmdline"`
	Note    string   `json:"note,omitempty"` // why exe or cmdline are missing
}

// FileStat is the lstat of one path the alert named, resolved inside the
// process's root without following any symbolic link. SameAs lists the
// other paths of this snapshot that are the same file (hard links).
type FileStat struct {
	Path   string   `json:"path"`
	Error  string   `json:"error,omitempty"`
	Type   string   `json:"type,omitempty"` // file, dir, symlink, fifo, socket, char, block
	Target string   `json:"target,omitempty"`
	Inode  uint64   `json:"inode,omitempty"`
	Device string   `json:"device,omitempty"` // major:minor
	Links  uint64   `json:"links,omitempty"`
	Mode   string   `json:"mode,omitempty"` // as ls -l shows it
	UID    int      `json:"uid"`
	GID    int      `json:"gid"`
	Size   int64    `json:"size"`
	MTime  *Time    `json:"mtime,omitempty"`
	SameAs []string `json:"same_as,omitempty"`
}

// Sysctl is one kernel setting as read from /proc/sys.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}
