package journal

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Entry is one journal entry for an incident report.
type Entry struct {
	// Message is the entry's MESSAGE.
	Message string
	// Priority is the syslog priority 0 (emergency) to 7 (debug); Falco's
	// priority numbers are the same.
	Priority int
	// Fields are extra journal fields, e.g. FieldRule; names are passed
	// through FieldName.
	Fields map[string]string
}

// Reporter sends report entries to journald. It is safe for concurrent use.
type Reporter struct {
	send sendFunc
}

// NewReporter returns a Reporter, or an error wrapping ErrUnavailable if
// no journald answers on SocketPath.
func NewReporter() (*Reporter, error) {
	if !journal.Enabled() {
		return nil, fmt.Errorf("journal reporter: %w", ErrUnavailable)
	}
	return &Reporter{send: journal.Send}, nil
}

// Send writes e with SYSLOG_IDENTIFIER=falco-reporter. The message and
// every value are escaped with safe.Display but never cut.
func (r *Reporter) Send(e Entry) error {
	if e.Priority < 0 || e.Priority > 7 {
		return fmt.Errorf("journal entry priority %d: want 0 to 7", e.Priority)
	}
	vars := make(map[string]string, len(e.Fields)+1)
	for k, v := range e.Fields {
		vars[FieldName(k)] = safe.Display(v, 0)
	}
	vars[fieldIdentifier] = Identifier
	if err := r.send(safe.Display(e.Message, 0), journal.Priority(e.Priority), vars); err != nil {
		return fmt.Errorf("send journal entry: %w", err)
	}
	return nil
}
