package journal

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// isJournalStream reports whether w is the journal stream named by env, a
// JOURNAL_STREAM value "DEV:INODE": systemd sets it for a service whose
// stdout or stderr it connects to journald.
func isJournalStream(w io.Writer, env string) bool {
	if env == "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var dev, ino uint64
	if n, err := fmt.Sscanf(env, "%d:%d", &dev, &ino); err != nil || n != 2 {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// ErrorPrefix returns "<3>" when w is the journal stream named by
// $JOURNAL_STREAM, and "" otherwise. journald files a stream line that
// starts with it at priority err (SyslogLevelPrefix=, on by default), so
// errors printed before the logger exists show up in `journalctl -p err`.
func ErrorPrefix(w io.Writer) string {
	if isJournalStream(w, os.Getenv("JOURNAL_STREAM")) {
		return "<3>"
	}
	return ""
}
