package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// jsonAlert is the body of Falco's json_output and http_output.
type jsonAlert struct {
	Time         *string                    `json:"time"`
	Priority     *string                    `json:"priority"`
	Rule         *string                    `json:"rule"`
	Source       string                     `json:"source"`
	Hostname     string                     `json:"hostname"`
	Output       string                     `json:"output"`
	Tags         []string                   `json:"tags"`
	OutputFields map[string]json.RawMessage `json:"output_fields"`
}

// ErrNotAlert wraps every reason why a JSON document is not a Falco alert.
var ErrNotAlert = errors.New("not a Falco alert")

// ParseJSON decodes one alert as Falco's json_output prints it and
// http_output posts it. Numbers are kept as exact text (evt.time is an
// integer in nanoseconds and must not pass through float64); the three
// forms of a missing value are accepted; output, tags and output_fields are
// optional because falco.yaml can switch each of them off.
func ParseJSON(data []byte) (Alert, error) {
	var j jsonAlert
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return Alert{}, fmt.Errorf("%w: invalid JSON: %v", ErrNotAlert, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Alert{}, fmt.Errorf("%w: trailing data after the JSON object", ErrNotAlert)
	}
	switch {
	case j.Rule == nil || *j.Rule == "":
		return Alert{}, fmt.Errorf("%w: missing \"rule\"", ErrNotAlert)
	case j.Priority == nil:
		return Alert{}, fmt.Errorf("%w: missing \"priority\"", ErrNotAlert)
	case j.Time == nil:
		return Alert{}, fmt.Errorf("%w: missing \"time\"", ErrNotAlert)
	}
	prio, err := ParsePriority(*j.Priority)
	if err != nil {
		return Alert{}, fmt.Errorf("%w: %v", ErrNotAlert, err)
	}
	t, err := time.Parse(time.RFC3339Nano, *j.Time)
	if err != nil {
		return Alert{}, fmt.Errorf("%w: \"time\" is not RFC 3339: %v", ErrNotAlert, err)
	}
	a := Alert{
		Time:     t.UTC(),
		Priority: prio,
		Rule:     *j.Rule,
		Source:   j.Source,
		Hostname: j.Hostname,
		Output:   j.Output,
		Tags:     j.Tags,
	}
	if len(j.OutputFields) > 0 {
		a.Fields = make(Fields, len(j.OutputFields))
		for k, raw := range j.OutputFields {
			a.Fields[k] = jsonValue(raw)
		}
	}
	a.Normalize()
	return a, nil
}

// jsonValue turns one raw JSON value into a Value, keeping its kind.
func jsonValue(raw json.RawMessage) Value {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{Kind: Null}
	}
	switch raw[0] {
	case 'n':
		return Value{Kind: Null}
	case 't', 'f':
		return Value{Text: string(raw), Kind: Bool}
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return Str(s)
		}
		return Str(string(raw))
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err == nil {
			return Value{Text: buf.String(), Kind: JSON}
		}
		return Value{Text: string(raw), Kind: JSON}
	default:
		return Value{Text: string(raw), Kind: Number}
	}
}

// GRPCValue turns one output field as Falco's gRPC output sends it (every
// value a string, non-strings JSON-encoded) into a Value. Only "null" can be
// told apart from a string; numbers stay strings, which renders the same.
func GRPCValue(s string) Value {
	if s == "null" {
		return Value{Kind: Null}
	}
	return Str(s)
}
