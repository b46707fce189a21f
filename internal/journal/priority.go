package journal

import (
	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"
)

// LevelPriority returns the syslog PRIORITY for a zerolog level: trace and
// debug 7, info 6, warn 4, error 3, fatal 2, panic 0, and notice (5) for
// entries logged without a level.
func LevelPriority(level zerolog.Level) journal.Priority {
	switch level {
	case zerolog.TraceLevel, zerolog.DebugLevel:
		return journal.PriDebug
	case zerolog.InfoLevel:
		return journal.PriInfo
	case zerolog.WarnLevel:
		return journal.PriWarning
	case zerolog.ErrorLevel:
		return journal.PriErr
	case zerolog.FatalLevel:
		return journal.PriCrit
	case zerolog.PanicLevel:
		return journal.PriEmerg
	}
	return journal.PriNotice
}
