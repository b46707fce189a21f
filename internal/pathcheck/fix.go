package pathcheck

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"

	"github.com/falco-reporter/falco-reporter/internal/runas"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// socketDropIn is what docs/systemd.md says to run so that Falco's gRPC
// socket is handed to the falco-reporter group after every Falco start.
const socketDropIn = "sudo install -D -m 0644 /usr/share/doc/falco-reporter/falco-socket-access.conf " +
	"/etc/systemd/system/falco.service.d/falco-reporter.conf && sudo systemctl daemon-reload && sudo systemctl restart falco"

// fix returns a command that repairs r for the user who, or "".
func fix(r Result, who runas.User) string {
	if r.Err == nil {
		return ""
	}
	q := safe.ShellQuote
	owner := q(who.Name + ":" + who.Group)
	switch {
	case errors.Is(r.Err, syscall.EROFS):
		return "sudo systemctl edit falco-reporter   # add: [Service] ReadWritePaths=" + q(r.treeRoot())
	case r.Root != "" && r.rootUID > 0 && r.rootUID != who.UID:
		// Another user's daemon state: use it as them, do not take it.
		o := runas.Named(r.rootUID, 0).Name
		return "run falco-reporter as " + o + ", who owns " + q(r.Root) + ": sudo -u " + q(o) + " falco-reporter ..."
	case r.Info == "missing" && r.Access == WriteDir:
		return "sudo install -d -o " + q(who.Name) + " -g " + q(who.Group) + " -m 0750 -- " + q(r.Path)
	case r.Info == "missing":
		return "" // a file only the admin can provide, or a directory above it is in the way
	case (r.Err == errNotDir || r.Err == errIsDir) && r.Root != "":
		return "sudo mv -- " + q(r.Path) + " " + q(r.Path+".bak")
	case !errors.Is(r.Err, fs.ErrPermission):
		return ""
	case r.Root != "":
		// The daemon's own tree: everything in it belongs to the daemon.
		if r.uid == who.UID {
			return "sudo chmod -R u+rwX -- " + q(r.Root)
		}
		return "sudo chown -R " + owner + " -- " + q(r.Root)
	case r.uid < 0 || r.uid == who.UID:
		return "" // a directory above it is in the way (Info names it), or its mode
	case r.Access == Connect:
		return socketDropIn
	case strings.Contains(r.Role, "key"):
		// A private key stays readable by the daemon alone.
		return "sudo chown " + q(who.Name) + " -- " + q(r.Path) + " && sudo chmod 0400 -- " + q(r.Path)
	case r.Access == List:
		return "sudo chgrp -R " + q(who.Group) + " -- " + q(r.Path) + " && sudo chmod -R g+rX -- " + q(r.Path)
	}
	return "sudo chgrp " + q(who.Group) + " -- " + q(r.Path) + " && sudo chmod g+r -- " + q(r.Path)
}
