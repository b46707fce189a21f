package pathcheck

import (
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/runas"
)

// TestFix covers the repairs that need a situation the permission test
// cannot build: a read-only mount, another user's state, odd file names.
func TestFix(t *testing.T) {
	svc := runas.User{UID: 998, GID: 997, Name: "falco-reporter", Group: "falco-reporter"}
	denied := &fs.PathError{Op: "access", Err: syscall.EACCES}
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{
			name: "root-owned spool in the service's state",
			r:    Result{Item: Item{Path: "/var/lib/falco-reporter/spool", Access: WriteDir, Root: "/var/lib/falco-reporter"}, Err: denied, uid: 0, rootUID: 998},
			want: "sudo chown -R falco-reporter:falco-reporter -- /var/lib/falco-reporter",
		},
		{
			name: "the service's own file with a closed mode",
			r:    Result{Item: Item{Path: "/var/lib/falco-reporter/spool/w", Access: Write, Root: "/var/lib/falco-reporter"}, Err: denied, uid: 998, rootUID: 998},
			want: "sudo chmod -R u+rwX -- /var/lib/falco-reporter",
		},
		{
			name: "another user's state is not taken over",
			r:    Result{Item: Item{Path: "/srv/fr/spool", Access: WriteDir, Root: "/srv/fr"}, Err: denied, uid: 0, rootUID: 65534},
			want: "run falco-reporter as nobody, who owns /srv/fr: sudo -u nobody falco-reporter ...",
		},
		{
			name: "read-only for the service",
			r:    Result{Item: Item{Path: "/srv/reports/2026-04-02", Access: WriteDir, Root: "/srv/reports"}, Err: &fs.PathError{Err: syscall.EROFS}, uid: 998, rootUID: 998},
			want: "sudo systemctl edit falco-reporter   # add: [Service] ReadWritePaths=/srv/reports",
		},
		{
			name: "a file where the spool directory should be",
			r:    Result{Item: Item{Path: "/var/lib/falco-reporter/spool", Access: WriteDir, Root: "/var/lib/falco-reporter"}, Err: errNotDir, uid: 998},
			want: "sudo mv -- /var/lib/falco-reporter/spool /var/lib/falco-reporter/spool.bak",
		},
		{
			name: "a file where a playbooks directory should be is the admin's to sort out",
			r:    Result{Item: Item{Path: "/etc/pb", Access: List}, Err: errNotDir, uid: 0},
			want: "",
		},
		{
			name: "playbooks directory closed to the group",
			r:    Result{Item: Item{Path: "/etc/falco-reporter/playbooks", Access: List}, Err: denied, uid: 0},
			want: "sudo chgrp -R falco-reporter -- /etc/falco-reporter/playbooks && sudo chmod -R g+rX -- /etc/falco-reporter/playbooks",
		},
		{
			name: "a path that needs quoting",
			r:    Result{Item: Item{Path: "/srv/it's here", Access: Write, Root: "/srv/it's here"}, Err: denied, uid: 0, rootUID: 0},
			want: `sudo chown -R falco-reporter:falco-reporter -- '/srv/it'\''s here'`,
		},
		{
			name: "missing required file",
			r:    Result{Item: Item{Path: "/etc/falco-reporter/tls/c.crt", Access: Read}, Err: fs.ErrNotExist, Info: "missing", uid: -1},
			want: "",
		},
		{
			name: "usable",
			r:    Result{Item: Item{Path: "/x", Access: Read}, uid: 998},
			want: "",
		},
		{
			name: "other errors have no generic repair",
			r:    Result{Item: Item{Path: "/x", Access: Read, Root: "/x"}, Err: fmt.Errorf("stat: %w", syscall.EIO), uid: 0},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fix(tt.r, svc); got != tt.want {
				t.Errorf("fix = %q\nwant  %q", got, tt.want)
			}
		})
	}
}

func TestSandboxNote(t *testing.T) {
	tests := []struct {
		it   Item
		want string
	}{
		{Item{Path: "/var/lib/falco-reporter/reports", Access: WriteDir}, ""},
		{Item{Path: "/var/log/falco/events.json", Access: Read}, ""},
		{Item{Path: "/srv/reports", Access: WriteDir, Root: "/srv"}, "read-only for the service (ProtectSystem=strict): add ReadWritePaths=/srv with sudo systemctl edit falco-reporter"},
		{Item{Path: "/home/alice/events.json", Access: Read}, "hidden from the service by ProtectHome=yes; move it, or add ProtectHome=read-only in a drop-in"},
		{Item{Path: "/root", Access: List}, "hidden from the service by ProtectHome=yes; move it, or add ProtectHome=read-only in a drop-in"},
		{Item{Path: "/tmp/events.json", Access: Read}, "the service has its own empty /tmp and /var/tmp (PrivateTmp=yes): it will not see this path"},
		{Item{Path: "/var/lib/falco-reporter-old", Access: WriteDir}, "read-only for the service (ProtectSystem=strict): add ReadWritePaths=/var/lib/falco-reporter-old with sudo systemctl edit falco-reporter"},
	}
	for _, tt := range tests {
		if got := SandboxNote(tt.it); got != tt.want {
			t.Errorf("SandboxNote(%s) = %q, want %q", tt.it.Path, got, tt.want)
		}
	}
}
