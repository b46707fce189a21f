package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotAlert wraps every reason why a JSON document is not a Falco alert.
var ErrNotAlert = errors.New("not a Falco alert")

// jsonKeys are the keys of Falco's JSON alert, and falcosidekick's uuid.
// Keys are matched exactly: "RULE" is not "rule".
var jsonKeys = map[string]bool{
	"time": true, "priority": true, "rule": true, "source": true, "hostname": true,
	"output": true, "message": true, "tags": true, "output_fields": true, "uuid": true,
}

// ParseJSON decodes one alert as Falco's json_output prints it, http_output
// posts it and falcosidekick forwards it.
//
// It is strict where Go's encoding/json is lenient: keys match exactly (a
// key that differs from Falco's only by case is an error, not an alias) and
// a key that appears twice in any object is an error that names it, since
// either copy could be the one a reader trusts. Numbers are kept as exact
// text (evt.time is an integer in nanoseconds and must not pass through
// float64); the three forms of a missing value are accepted; output,
// message, tags and output_fields are optional because falco.yaml can
// switch each of them off. Other keys are ignored; the raw alert keeps them.
func ParseJSON(data []byte) (Alert, error) {
	if err := checkKeys(data); err != nil {
		return Alert{}, fmt.Errorf("%w: %v", ErrNotAlert, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Alert{}, fmt.Errorf("%w: invalid JSON: %v", ErrNotAlert, err)
	}
	if top == nil {
		return Alert{}, fmt.Errorf("%w: not a JSON object", ErrNotAlert)
	}
	for k := range top {
		if jsonKeys[k] {
			continue
		}
		for known := range jsonKeys {
			if strings.EqualFold(k, known) {
				return Alert{}, fmt.Errorf("%w: key %q: keys are case-sensitive, Falco sends %q", ErrNotAlert, k, known)
			}
		}
	}
	var a Alert
	var rule, prio, ts *string
	for _, f := range []struct {
		key string
		dst any
	}{
		{"rule", &rule}, {"priority", &prio}, {"time", &ts}, {"source", &a.Source},
		{"hostname", &a.Hostname}, {"output", &a.Output}, {"message", &a.Message}, {"tags", &a.Tags},
	} {
		raw, ok := top[f.key]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return Alert{}, fmt.Errorf("%w: %q: %v", ErrNotAlert, f.key, typeError(err))
		}
	}
	switch {
	case rule == nil || *rule == "":
		return Alert{}, fmt.Errorf("%w: missing \"rule\"", ErrNotAlert)
	case prio == nil:
		return Alert{}, fmt.Errorf("%w: missing \"priority\"", ErrNotAlert)
	case ts == nil:
		return Alert{}, fmt.Errorf("%w: missing \"time\"", ErrNotAlert)
	}
	p, err := ParsePriority(*prio)
	if err != nil {
		return Alert{}, fmt.Errorf("%w: %v", ErrNotAlert, err)
	}
	t, err := time.Parse(time.RFC3339Nano, *ts)
	if err != nil {
		return Alert{}, fmt.Errorf("%w: \"time\" is not RFC 3339: %v", ErrNotAlert, err)
	}
	a.Time, a.Priority, a.Rule = t.UTC(), p, *rule
	if raw, ok := top["output_fields"]; ok {
		if a.Fields, err = jsonFields(raw); err != nil {
			return Alert{}, fmt.Errorf("%w: \"output_fields\": %v", ErrNotAlert, err)
		}
	}
	a.Raw = RawText(data)
	a.Normalize()
	return a, nil
}

// typeError shortens encoding/json's type errors to what a sender can act on.
func typeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("expected %s, got a JSON %s", te.Type, te.Value)
	}
	return err
}

// jsonFields decodes output_fields, keeping each value's kind. A JSON null
// is the same as no output_fields.
func jsonFields(raw json.RawMessage) (Fields, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, typeError(err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	f := make(Fields, len(m))
	for k, v := range m {
		f[k] = jsonValue(v)
	}
	return f, nil
}

// checkKeys walks the whole document and fails on the first key that
// appears twice in one object, naming the key and where it is. It also
// rejects anything but exactly one JSON value.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// One frame per open object or array: the keys seen so far (nil for
	// an array), the object's own key, and whether a key is expected next.
	type frame struct {
		keys    map[string]bool
		name    string
		wantKey bool
	}
	var stack []frame
	var lastKey string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return errors.New("invalid JSON: unexpected end of input")
			}
			return errors.New("invalid JSON: empty document")
		}
		if err != nil {
			return fmt.Errorf("invalid JSON: %v", err)
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].keys != nil && stack[top].wantKey {
			if k, ok := tok.(string); ok {
				if stack[top].keys[k] {
					if stack[top].name == "" {
						return fmt.Errorf("duplicate key %q", k)
					}
					return fmt.Errorf("duplicate key %q in %q", k, stack[top].name)
				}
				stack[top].keys[k] = true
				stack[top].wantKey = false
				lastKey = k
				continue
			}
		}
		if top >= 0 && stack[top].keys != nil {
			stack[top].wantKey = true // a value was read: a key comes next
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, name: lastKey, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{name: lastKey})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].wantKey = true
			}
		}
		if len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				return errors.New("trailing data after the JSON object")
			}
			return nil
		}
	}
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
