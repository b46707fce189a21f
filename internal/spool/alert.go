package spool

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// alertVersion is the version of the spooled alert encoding.
const alertVersion = 1

// spooledAlert is the JSON form of an event.Alert in the spool. The time is
// kept as Unix seconds and nanoseconds, exact for any year; field values
// keep their kind.
type spooledAlert struct {
	V        int                     `json:"v"`
	Sec      int64                   `json:"time_sec"`
	Nsec     int32                   `json:"time_nsec"`
	Priority int8                    `json:"priority"`
	Rule     string                  `json:"rule"`
	Source   string                  `json:"source"`
	Hostname string                  `json:"hostname"`
	Output   string                  `json:"output"`
	Tags     []string                `json:"tags"`
	Fields   map[string]spooledValue `json:"fields"`
	Raw      string                  `json:"raw,omitempty"`
}

// spooledValue is one event.Value.
type spooledValue struct {
	Text string     `json:"t"`
	Kind event.Kind `json:"k"`
	R    bool       `json:"r,omitempty"` // recovered from the output text
}

// EncodeAlert returns the payload that stores a in the spool. Times come
// back in UTC; strings must be valid UTF-8, as event.Alert promises.
func EncodeAlert(a event.Alert) []byte {
	j := spooledAlert{
		V:        alertVersion,
		Sec:      a.Time.Unix(),
		Nsec:     int32(a.Time.Nanosecond()),
		Priority: int8(a.Priority),
		Rule:     a.Rule,
		Source:   a.Source,
		Hostname: a.Hostname,
		Output:   a.Output,
		Tags:     a.Tags,
		Raw:      a.Raw,
	}
	if a.Fields != nil {
		j.Fields = make(map[string]spooledValue, len(a.Fields))
		for k, v := range a.Fields {
			j.Fields[k] = spooledValue{Text: v.Text, Kind: v.Kind, R: v.Recovered}
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		// Only strings, integers and maps with string keys: cannot fail.
		panic(fmt.Sprintf("spool: encode alert: %v", err))
	}
	return b
}

// DecodeAlert returns the alert stored by EncodeAlert.
func DecodeAlert(b []byte) (event.Alert, error) {
	var j spooledAlert
	if err := json.Unmarshal(b, &j); err != nil {
		return event.Alert{}, fmt.Errorf("decode spooled alert: %w", err)
	}
	if j.V != alertVersion {
		return event.Alert{}, fmt.Errorf("decode spooled alert: unknown version %d", j.V)
	}
	if j.Nsec < 0 || j.Nsec >= 1e9 {
		return event.Alert{}, fmt.Errorf("decode spooled alert: nanoseconds %d out of range", j.Nsec)
	}
	a := event.Alert{
		Time:     time.Unix(j.Sec, int64(j.Nsec)).UTC(),
		Priority: event.Priority(j.Priority),
		Rule:     j.Rule,
		Source:   j.Source,
		Hostname: j.Hostname,
		Output:   j.Output,
		Tags:     j.Tags,
		Raw:      j.Raw,
	}
	if j.Fields != nil {
		a.Fields = make(event.Fields, len(j.Fields))
		for k, v := range j.Fields {
			a.Fields[k] = event.Value{Text: v.Text, Kind: v.Kind, Recovered: v.R}
		}
	}
	return a, nil
}
