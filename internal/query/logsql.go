package query

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// Journal fields of a report's entry, as falco-reporter writes them
// (internal/journal) and VictoriaLogs stores them.
const (
	vlReportID   = "REPORT_ID"
	vlReportJSON = "REPORT_JSON"
	vlReportPath = "REPORT_PATH"
	vlReportCut  = "REPORT_TRUNCATED"
	vlOccurs     = "OCCURRENCES"
	vlMachine    = "_MACHINE_ID"
	vlHost       = "_HOSTNAME"
)

// DefaultFleetFilter selects the entries written by the falco-reporter
// service. _SYSTEMD_UNIT is a trusted field: journald sets it from the
// sender's control group, which no unprivileged program can choose,
// whereas anyone can send an entry with SYSLOG_IDENTIFIER=falco-reporter
// and a forged report in it.
const DefaultFleetFilter = `_SYSTEMD_UNIT:="falco-reporter.service"`

// clockSlack is how far ahead of its host's clock an alert's time may be
// for the daemon to file it by that time (app.fileTime): a report whose
// last alert is after --since was written, at the latest, clockSlack
// before --since.
const clockSlack = 48 * time.Hour

// logsQL builds the LogsQL query that selects the latest entry of each
// report f may select: a superset of them, which the caller narrows down
// with the same matcher as the local backend, so that both select exactly
// the same reports. Only what can be told from the entry's own fields is
// pushed to VictoriaLogs; a field the journal escaped (an alert value
// with a control character) or cut could differ from the report's value,
// so an entry whose field has a backslash or that says it was truncated
// is always let through to the exact check.
func logsQL(trust string, f Filter, idPrefix string) string {
	var q []string
	q = append(q, "("+trust+")", `SYSLOG_IDENTIFIER:="falco-reporter"`, vlReportJSON+":*")
	if idPrefix != "" {
		q = append(q, vlReportID+":="+quote(idPrefix)+"*")
	} else {
		q = append(q, vlReportID+":*")
	}
	if !f.Since.IsZero() {
		q = append(q, "_time:>="+f.Since.Add(-clockSlack).UTC().Format(time.RFC3339Nano))
	}
	if f.Priority != nil {
		// PRIORITY is the syslog priority, the same number as Falco's.
		var in []string
		for p := event.PriorityEmergency; p <= *f.Priority; p++ {
			in = append(in, quote(strconv.Itoa(int(p))))
		}
		q = append(q, "PRIORITY:in("+strings.Join(in, ",")+")")
	}
	if f.Rule != "" {
		q = append(q, guarded("FALCO_RULE", globRE(f.Rule)))
	}
	if f.Host != "" {
		q = append(q, guarded("FALCO_HOSTNAME", globRE(f.Host)))
	}
	if f.Source != "" {
		q = append(q, guarded("FALCO_SOURCE", `(?i)\A`+regexpQuote(f.Source)+`\z`))
	}
	if g := strings.ToLower(f.Grep); g != "" && jsonVerbatim(g) {
		q = append(q, vlReportJSON+":~"+quote(`(?i)`+regexpQuote(g)))
	}
	return strings.Join(q, " AND ") +
		" | last 1 by (" + vlOccurs + ", _time) partition by (" + vlMachine + ", " + vlReportID + ")" +
		" | fields _time, " + vlMachine + ", " + vlHost + ", " + vlReportID + ", " + vlReportPath + ", " + vlReportCut + ", " + vlReportJSON
}

// guarded matches field against re, or lets the entry through when the
// field may not hold the report's value as it is.
func guarded(field, re string) string {
	return "(" + field + ":~" + quote(re) + " OR " + field + `:~"\\\\" OR TRUNCATED:="1" OR NOT ` + field + ":*)"
}

// globRE is the regular expression of a glob, as Glob compiles it.
func globRE(g string) string {
	re, err := Glob(g)
	if err != nil {
		return "" // compile already refused it
	}
	return re.String()
}

// quote returns s as a LogsQL string literal: LogsQL reads double-quoted
// strings as Go does.
func quote(s string) string { return strconv.Quote(s) }

// regexpQuote escapes every regular expression metacharacter in s.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// jsonVerbatim reports whether s appears in a JSON report exactly as it
// is: printable ASCII that encoding/json does not escape.
func jsonVerbatim(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || r < 0x20 || r == 0x7f || strings.ContainsRune("\"\\<>&", r) {
			return false
		}
	}
	return true
}
