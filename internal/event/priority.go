package event

import (
	"fmt"
	"strings"
)

// Priority is Falco's alert priority, from Emergency (0) to Debug (7). The
// numbers are Falco's own and syslog's, so they map to journald's PRIORITY.
type Priority int8

// Falco's priorities.
const (
	PriorityEmergency Priority = iota
	PriorityAlert
	PriorityCritical
	PriorityError
	PriorityWarning
	PriorityNotice
	PriorityInformational
	PriorityDebug
)

var priorityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// String returns the priority as Falco spells it, e.g. "Warning".
func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// Valid reports whether p is one of Falco's eight priorities.
func (p Priority) Valid() bool { return p >= 0 && int(p) < len(priorityNames) }

// ParsePriority parses a priority case-insensitively, accepting the short
// forms forwarders use ("info", "warn", "err", "crit", "emerg").
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "emergency", "emerg":
		return PriorityEmergency, nil
	case "alert":
		return PriorityAlert, nil
	case "critical", "crit":
		return PriorityCritical, nil
	case "error", "err":
		return PriorityError, nil
	case "warning", "warn":
		return PriorityWarning, nil
	case "notice":
		return PriorityNotice, nil
	case "informational", "info":
		return PriorityInformational, nil
	case "debug":
		return PriorityDebug, nil
	}
	return 0, fmt.Errorf("unknown priority %q", s)
}
