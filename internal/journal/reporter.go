package journal

import (
	"encoding/json"
	"errors"
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
	// ReportJSON, if set, is the JSON report (render.JournalJSON), sent
	// as REPORT_JSON byte for byte: it is valid JSON with nothing to
	// escape, at most MaxReportJSON bytes, and outside the limits of the
	// other fields. ReportCut says it was cut to fit: REPORT_TRUNCATED=1.
	ReportJSON []byte
	ReportCut  bool
}

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
	bad := reportJSON(e, vars)
	if err := r.send(safe.Display(e.Message, 0), journal.Priority(e.Priority), vars); err != nil {
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
