package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// sendFunc sends one journal entry; journal.Send outside tests.
type sendFunc func(message string, priority journal.Priority, vars map[string]string) error

// writer is a zerolog.LevelWriter that turns each JSON log line into one
// native journal entry.
type writer struct {
	send sendFunc
}

// Write sends one log line, taking its priority from the level field.
func (w writer) Write(p []byte) (int, error) {
	e, err := entryFromJSON(p)
	if err != nil {
		return 0, err
	}
	level, err := zerolog.ParseLevel(e.level)
	if err != nil || e.level == "" {
		level = zerolog.NoLevel
	}
	return w.sendEntry(level, e, len(p))
}

// WriteLevel sends one log line at the given level.
func (w writer) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	e, err := entryFromJSON(p)
	if err != nil {
		return 0, err
	}
	return w.sendEntry(level, e, len(p))
}

func (w writer) sendEntry(level zerolog.Level, e logEntry, n int) (int, error) {
	msg := e.message
	if level >= zerolog.WarnLevel && level <= zerolog.PanicLevel {
		msg = withReason(msg, e.reason)
	}
	if err := w.send(msg, LevelPriority(level), e.vars); err != nil {
		return 0, fmt.Errorf("send to journal: %w", err)
	}
	return n, nil
}

// reasonFields are the log fields that say why something failed, in the
// order withReason looks for them: zerolog's Err and the inputs' reason.
var reasonFields = []string{zerolog.ErrorFieldName, "reason"}

// withReason appends reason to msg as "msg: reason". journalctl, systemctl
// status and `journalctl -o cat` show MESSAGE only; a warning or error whose
// cause sits in a separate field would read there as "falco-reporter
// stopped" with no why. A reason msg already contains is not repeated.
func withReason(msg, reason string) string {
	switch {
	case reason == "" || strings.Contains(msg, reason):
		return msg
	case msg == "":
		return reason
	}
	return msg + ": " + reason
}

// logEntry is one decoded log line.
type logEntry struct {
	message string
	level   string
	reason  string // the first of reasonFields the line has, escaped
	vars    map[string]string
}

// entryFromJSON turns a zerolog JSON line into a message and journal
// fields. The level and time fields are dropped: journald has PRIORITY and
// its own timestamps. Keys are sorted so that, when two keys map to one
// field name, the result does not depend on map order.
func entryFromJSON(p []byte) (logEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	var evt map[string]any
	if err := dec.Decode(&evt); err != nil {
		return logEntry{}, fmt.Errorf("decode log line: %w", err)
	}
	keys := make([]string, 0, len(evt))
	for k := range evt {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	e := logEntry{vars: make(map[string]string, len(evt)+1)}
	for _, k := range keys {
		switch k {
		case zerolog.LevelFieldName:
			e.level, _ = evt[k].(string)
		case zerolog.TimestampFieldName:
		case zerolog.MessageFieldName:
			e.message = safe.Display(valueString(evt[k]), 0)
		default:
			e.vars[FieldName(k)] = safe.Display(valueString(evt[k]), 0)
		}
	}
	for _, k := range reasonFields {
		if v, ok := evt[k]; ok && e.reason == "" {
			e.reason = safe.Display(valueString(v), 0)
		}
	}
	e.vars[fieldIdentifier] = Identifier
	return e, nil
}

// valueString returns a decoded JSON value as journal text: strings as
// they are, numbers and booleans as written, objects and arrays as JSON.
func valueString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("[error: %v]", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
