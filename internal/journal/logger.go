package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Log outputs accepted by NewLogger.
const (
	OutputAuto    = "auto"
	OutputJournal = "journal"
	OutputConsole = "console"
	OutputJSON    = "json"
)

// SocketPath is journald's native protocol socket.
const SocketPath = "/run/systemd/journal/socket"

// ErrUnavailable means no journald listens on SocketPath.
var ErrUnavailable = errors.New("journald not available at " + SocketPath)

// NewLogger returns the daemon's logger for output:
//   - "journal": native journal entries with PRIORITY, SYSLOG_IDENTIFIER and
//     one upper-cased field per log field; at warning and above, MESSAGE
//     also ends with the error (or reason) field, which is what journalctl
//     and systemctl status show;
//   - "json": JSON lines on stderr;
//   - "console": human-readable lines on stderr, coloured only on a TTY;
//   - "auto": journal when stderr is the stream named by $JOURNAL_STREAM
//     (as under systemd) and journald answers, console otherwise.
func NewLogger(output string, level zerolog.Level, stderr io.Writer) (zerolog.Logger, error) {
	switch output {
	case OutputAuto:
		if isJournalStream(stderr, os.Getenv("JOURNAL_STREAM")) && journal.Enabled() {
			return newJournalLogger(level), nil
		}
		return newConsoleLogger(level, stderr), nil
	case OutputJournal:
		if !journal.Enabled() {
			return zerolog.Nop(), fmt.Errorf("log output journal: %w", ErrUnavailable)
		}
		return newJournalLogger(level), nil
	case OutputConsole:
		return newConsoleLogger(level, stderr), nil
	case OutputJSON:
		return zerolog.New(stderr).Level(level).With().Timestamp().Logger(), nil
	}
	return zerolog.Nop(), fmt.Errorf("unknown log output %q (want auto, journal, console or json)", output)
}

// newJournalLogger logs without a time field: journald stamps each entry.
func newJournalLogger(level zerolog.Level) zerolog.Logger {
	return zerolog.New(writer{send: journal.Send}).Level(level)
}

// newConsoleLogger escapes messages too: the console writer prints them
// raw, while it already quotes field values that need it.
func newConsoleLogger(level zerolog.Level, stderr io.Writer) zerolog.Logger {
	cw := zerolog.ConsoleWriter{
		Out:        stderr,
		NoColor:    !isTerminal(stderr),
		TimeFormat: time.RFC3339,
		FormatMessage: func(i any) string {
			if i == nil {
				return ""
			}
			return safe.Display(fmt.Sprint(i), 0)
		},
	}
	return zerolog.New(cw).Level(level).With().Timestamp().Logger()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
