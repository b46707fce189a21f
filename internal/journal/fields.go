// Package journal writes to systemd-journald over its native protocol: the
// daemon's own log lines (through a zerolog writer) and one entry per
// incident report. Every value is escaped with safe.Display, so no raw
// control character from an alert reaches the journal. A report entry is
// also bounded (Reporter.Send), so that an attacker's alert cannot flush
// the journal; go-systemd's journal.Send passes entries too large for one
// datagram as a file descriptor.
package journal

import "strings"

// Identifier is the SYSLOG_IDENTIFIER of every entry this package sends.
const Identifier = "falco-reporter"

// Names of the journal fields the reporter sets on report entries.
const (
	FieldRule        = "FALCO_RULE"
	FieldPriority    = "FALCO_PRIORITY"
	FieldSource      = "FALCO_SOURCE"
	FieldHostname    = "FALCO_HOSTNAME"
	FieldReportID    = "REPORT_ID"
	FieldReportPath  = "REPORT_PATH"
	FieldOccurrences = "OCCURRENCES"
	FieldStorm       = "FALCO_STORM" // 1 on the entry of a storm report
	FieldTruncated   = "TRUNCATED"   // 1 when the entry was cut to its limits
	// FieldReportJSON holds the whole JSON report (journal.report_json),
	// and FieldReportTruncated is 1 when that report was cut to fit.
	FieldReportJSON      = "REPORT_JSON"
	FieldReportTruncated = "REPORT_TRUNCATED"
)

// fieldIdentifier is journald's field for the program name.
const fieldIdentifier = "SYSLOG_IDENTIFIER"

// maxFieldName is the longest field name journald accepts.
const maxFieldName = 64

// fieldPrefix is put before names journald would refuse or that would
// clash with the fields this package sets itself.
const fieldPrefix = "X_"

// reserved reports whether name is set by this package itself and so is
// never taken from a field.
func reserved(name string) bool {
	return name == "MESSAGE" || name == "PRIORITY" || name == fieldIdentifier
}

// FieldName returns key as a valid journal field name: upper-cased, with
// every character outside [A-Z0-9_] replaced by '_', prefixed with "X_"
// when it would start with a digit or underscore (journald keeps leading
// underscores for trusted fields) or would clash with MESSAGE, PRIORITY or
// SYSLOG_IDENTIFIER, and cut to 64 bytes. "falco.rule" becomes FALCO_RULE.
func FieldName(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" || name[0] == '_' || (name[0] >= '0' && name[0] <= '9') || reserved(name) {
		name = fieldPrefix + name
	}
	if len(name) > maxFieldName {
		name = name[:maxFieldName]
	}
	return name
}
