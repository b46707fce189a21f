package query

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
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

// logsQL builds the LogsQL query for the entries of the reports f may
// select: a superset of them, which the caller narrows down with the same
// matcher as the local backend, so that both select exactly the same
// reports. Only what can be told from the entry's own fields is pushed to
// VictoriaLogs; a field the journal escaped (an alert value with a control
// character) could differ from the report's value, so an entry whose
// field has a backslash is always let through to the exact check.
//
// Every value from f or idPrefix enters the query only as a quoted LogsQL
// string (quote), and the regular expressions in them only with their
// metacharacters escaped, so no value, however hostile, changes the
// query's shape.
//
// It keeps the entries with the highest OCCURRENCES of each report on
// each host, found by joining the entries with their maximum: VictoriaLogs'
// `last 1 by (...) partition by (...)` costs several times more. Copies
// of an entry (journal-upload resends one when it restarts) all pass; the
// caller keeps one. --grep is applied after that choice, to the latest
// entry only: an earlier entry's samples may hold a word the final report
// no longer does. Without full, each entry comes with what a listing
// needs, unpacked from REPORT_JSON by VictoriaLogs (a tenth of its size);
// with full, with REPORT_JSON.
func logsQL(trust string, f Filter, idPrefix string, full bool) string {
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
		q = append(q, guarded("FALCO_SOURCE", `(?i)\A`+regexp.QuoteMeta(f.Source)+`\z`))
	}
	base := strings.Join(q, " AND ")
	out := base + " | join by (" + vlMachine + ", " + vlReportID + ") (" + base + " | stats by (" + vlMachine + ", " + vlReportID + ") max(" + vlOccurs + ") as latest) inner" +
		" | filter " + vlOccurs + ":eq_field(latest)"
	if g := strings.ToLower(f.Grep); g != "" && jsonVerbatim(g) {
		out += " | filter " + vlReportJSON + ":~" + quote(`(?i)`+regexp.QuoteMeta(g))
	}
	keep := "_time, " + vlMachine + ", " + vlHost + ", " + vlReportID + ", " + vlOccurs + ", " + vlReportPath + ", " + vlReportCut
	if full {
		return out + " | fields " + keep + ", " + vlReportJSON
	}
	return out + " | unpack_json from " + vlReportJSON + " fields (" + strings.Join(listingKeys(), ", ") + `) result_prefix "r."` +
		" | fields " + keep + ", r.*"
}

// listingKeys are the keys of the JSON report that a listing reads, as
// unpack_json names them (nested keys joined with dots).
func listingKeys() []string {
	keys := []string{"id", "rule", "source", "priority", "hostname", "first_seen", "last_seen", "occurrences", "title"}
	for _, f := range report.ListingFields() {
		keys = append(keys, "fields."+f)
	}
	for i := range keys {
		keys[i] = quote(keys[i])
	}
	return keys
}

// guarded matches field against re, or lets the entry through when the
// field may not hold the report's value as it is.
func guarded(field, re string) string {
	return "(" + field + ":~" + quote(re) + " OR " + field + `:~"\\\\" OR NOT ` + field + ":*)"
}

// globRE is the regular expression of a glob, as Glob compiles it.
func globRE(g string) string {
	re, err := Glob(g)
	if err != nil {
		return "" // compile already refused it
	}
	return re.String()
}

// quote returns s as a LogsQL string literal. LogsQL's lexer reads a
// double-quoted string with Go's strconv.QuotedPrefix and strconv.Unquote
// (lib/logstorage/parser.go in VictoriaLogs), so strconv.Quote gives back
// exactly s, whatever it holds: quotes, backslashes, pipes, newlines,
// invalid UTF-8.
func quote(s string) string { return strconv.Quote(s) }

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
