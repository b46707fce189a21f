package journal

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	// ReportJSON, if set, is the JSON report (render.JournalJSON), sent
	// as REPORT_JSON byte for byte: it is valid JSON with nothing to
	// escape, at most MaxReportJSON bytes, and outside the limits of the
	// other fields. ReportCut says it was cut to fit: REPORT_TRUNCATED=1.
	ReportJSON []byte
	ReportCut  bool
}

// Limits of one report entry. Values are escaped first (a control byte
// becomes four bytes) and then cut, so that an alert crafted to expand
// cannot make entries large enough to rotate older logs out of the journal.
const (
	MaxFieldValue = 1024 // each field's value, escaped
	MaxMessage    = 2048 // MESSAGE, escaped
	MaxEntry      = 8192 // every name and value together
)

// keep lists the fields never dropped to fit MaxEntry: they are short by
// construction and say which report the entry is about.
var keep = []string{FieldReportID, FieldReportPath, FieldPriority, FieldOccurrences, FieldStorm}

// MaxReportJSON bounds REPORT_JSON. Reports are 3 to 13 KiB; journald
// takes far more, and VictoriaLogs reads lines of up to 256 KiB by
// default (-insert.maxLineSizeBytes) and works best with entries under
// 100 KB.
const MaxReportJSON = 32 << 10

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
// every value are escaped with safe.Display and cut to MaxMessage and
// MaxFieldValue; if the whole entry is still over MaxEntry, the longest
// fields are dropped, then the message cut further. A cut entry carries
// TRUNCATED=1.
func (r *Reporter) Send(e Entry) error {
	if e.Priority < 0 || e.Priority > 7 {
		return fmt.Errorf("journal entry priority %d: want 0 to 7", e.Priority)
	}
	msg, cut := capped(e.Message, MaxMessage)
	vars := make(map[string]string, len(e.Fields)+2)
	size := len(msg) + len("MESSAGE")
	for k, v := range e.Fields {
		name := FieldName(k)
		val, c := capped(v, MaxFieldValue)
		cut = cut || c
		if old, ok := vars[name]; ok {
			size -= len(name) + len(old)
		}
		vars[name] = val
		size += len(name) + len(val)
	}
	if size > MaxEntry {
		cut = true
		names := make([]string, 0, len(vars))
		for n := range vars {
			if !slices.Contains(keep, n) {
				names = append(names, n)
			}
		}
		// Longest first; ties by name, so that the result is stable.
		slices.SortFunc(names, func(a, b string) int {
			if d := len(vars[b]) - len(vars[a]); d != 0 {
				return d
			}
			return cmp.Compare(a, b)
		})
		for _, n := range names {
			if size <= MaxEntry {
				break
			}
			size -= len(n) + len(vars[n])
			delete(vars, n)
		}
		if size > MaxEntry {
			room := max(MaxEntry-(size-len(msg)), 256)
			size -= len(msg)
			msg, _ = capped(e.Message, room)
			size += len(msg)
		}
	}
	if cut {
		vars[FieldTruncated] = "1"
	}
	vars[fieldIdentifier] = Identifier
	bad := reportJSON(e, vars)
	if err := r.send(msg, journal.Priority(e.Priority), vars); err != nil {
		return fmt.Errorf("send journal entry: %w", err)
	}
	return bad
}

// reportJSON adds REPORT_JSON and REPORT_TRUNCATED to vars. A report JSON
// that breaks Entry's rules (a bug) is left out, the entry says it is
// truncated, and the error says why.
func reportJSON(e Entry, vars map[string]string) error {
	js := string(e.ReportJSON)
	var bad error
	switch {
	case e.ReportJSON == nil:
	case len(js) > MaxReportJSON:
		bad = fmt.Errorf("%d bytes, over %d", len(js), MaxReportJSON)
	case safe.Display(js, 0) != js:
		bad = errors.New("it holds characters the journal would escape")
	case !json.Valid(e.ReportJSON):
		bad = errors.New("it is not valid JSON")
	}
	if bad != nil || e.ReportCut {
		vars[FieldReportTruncated] = "1"
	}
	if bad != nil {
		return fmt.Errorf("journal entry sent without %s: %w", FieldReportJSON, bad)
	}
	if e.ReportJSON != nil {
		vars[FieldReportJSON] = js
	}
	return nil
}

// capped returns s escaped with safe.Display and cut near max bytes, and
// whether it was cut. Display stops only after the escape that crosses
// max (at most 6 bytes), and a cut adds a marker of more than 30.
func capped(s string, max int) (string, bool) {
	out := safe.Display(s, max)
	return out, len(out) > max+8
}
