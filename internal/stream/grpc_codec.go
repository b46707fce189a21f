package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/api/schema"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// lenientCodec is the gRPC codec of the outputs stream. It marshals with
// protobuf-go but decodes outputs.Response by hand, because Falco sends
// file names and command lines byte for byte: protobuf-go refuses a string
// with invalid UTF-8 and grpc-go then ends the whole stream.
type lenientCodec struct{}

// Name is the content-subtype: Falco expects "proto".
func (lenientCodec) Name() string { return "proto" }

// Marshal encodes requests with protobuf-go.
func (lenientCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal: %T is not a protobuf message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal decodes a Response leniently and anything else with protobuf-go.
func (lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		b = data.Materialize()
	}
	switch m := v.(type) {
	case *outputs.Response:
		return decodeResponse(b, m)
	case proto.Message:
		if err := proto.Unmarshal(b, m); err != nil {
			return fmt.Errorf("unmarshal %T: %w", v, err)
		}
		return nil
	}
	return fmt.Errorf("unmarshal: %T is not a protobuf message", v)
}

// Field numbers of falco.outputs.response and google.protobuf.Timestamp.
const (
	fieldTime         protowire.Number = 1
	fieldPriority     protowire.Number = 2
	fieldSourceOld    protowire.Number = 3
	fieldRule         protowire.Number = 4
	fieldOutput       protowire.Number = 5
	fieldOutputFields protowire.Number = 6
	fieldHostname     protowire.Number = 7
	fieldTags         protowire.Number = 8
	fieldSource       protowire.Number = 9

	fieldSeconds protowire.Number = 1
	fieldNanos   protowire.Number = 2
	fieldKey     protowire.Number = 1
	fieldValue   protowire.Number = 2
)

// decodeResponse decodes one falco.outputs.response into r. Invalid UTF-8
// in any string becomes U+FFFD; unknown fields, and known fields with an
// unexpected wire type, are skipped as protobuf-go would skip them.
// Malformed input is an error, never a panic.
func decodeResponse(b []byte, r *outputs.Response) error {
	r.Reset()
	err := eachProtoField(b, func(num protowire.Number, typ protowire.Type, b []byte) int {
		switch {
		case num == fieldPriority && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			r.Priority = schema.Priority(int32(v))
			return n
		case num == fieldSourceOld && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			r.SourceDeprecated = schema.Source(int32(v))
			return n
		case typ != protowire.BytesType || num < fieldTime || num > fieldSource:
			return protowire.ConsumeFieldValue(num, typ, b)
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return n
		}
		switch num {
		case fieldTime:
			if r.Time == nil {
				r.Time = &timestamppb.Timestamp{}
			}
			if err := decodeTimestamp(v, r.Time); err != nil {
				return -1
			}
		case fieldRule:
			r.Rule = protoString(v)
		case fieldOutput:
			r.Output = protoString(v)
		case fieldOutputFields:
			key, value, err := decodeMapEntry(v)
			if err != nil {
				return -1
			}
			if r.OutputFields == nil {
				r.OutputFields = make(map[string]string)
			}
			r.OutputFields[key] = value
		case fieldHostname:
			r.Hostname = protoString(v)
		case fieldTags:
			r.Tags = append(r.Tags, protoString(v))
		case fieldSource:
			r.Source = protoString(v)
		}
		return n
	})
	if err != nil {
		return fmt.Errorf("decode falco response: %w", err)
	}
	return nil
}

// decodeTimestamp merges a google.protobuf.Timestamp into t.
func decodeTimestamp(b []byte, t *timestamppb.Timestamp) error {
	return eachProtoField(b, func(num protowire.Number, typ protowire.Type, b []byte) int {
		if typ != protowire.VarintType || (num != fieldSeconds && num != fieldNanos) {
			return protowire.ConsumeFieldValue(num, typ, b)
		}
		v, n := protowire.ConsumeVarint(b)
		if num == fieldSeconds {
			t.Seconds = int64(v)
		} else {
			t.Nanos = int32(v)
		}
		return n
	})
}

// decodeMapEntry decodes one entry of a map<string, string>; a missing key
// or value is "".
func decodeMapEntry(b []byte) (key, value string, err error) {
	err = eachProtoField(b, func(num protowire.Number, typ protowire.Type, b []byte) int {
		if typ != protowire.BytesType || (num != fieldKey && num != fieldValue) {
			return protowire.ConsumeFieldValue(num, typ, b)
		}
		v, n := protowire.ConsumeBytes(b)
		if num == fieldKey {
			key = protoString(v)
		} else {
			value = protoString(v)
		}
		return n
	})
	return key, value, err
}

// eachProtoField calls field for every field of the message in b. field consumes
// the value that starts its b and returns its length, or a negative number
// when the value is malformed.
func eachProtoField(b []byte, field func(num protowire.Number, typ protowire.Type, b []byte) int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		n = field(num, typ, b)
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, errProtoMalformed)
		}
		b = b[n:]
	}
	return nil
}

// errProtoMalformed reports a field value that is truncated or invalid.
var errProtoMalformed = errors.New("truncated or malformed value")

// protoString copies b into a string, replacing invalid UTF-8 with U+FFFD.
func protoString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// responseAlert turns a decoded Response into an Alert.
func responseAlert(r *outputs.Response) event.Alert {
	a := event.Alert{
		Priority: grpcPriority(r.GetPriority()),
		Rule:     r.GetRule(),
		Source:   r.GetSource(),
		Hostname: r.GetHostname(),
		Output:   r.GetOutput(),
		Raw:      responseRaw(r),
	}
	if ts := r.GetTime(); ts != nil {
		a.Time = time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC()
	}
	if a.Source == "" {
		a.Source = deprecatedSource(r.GetSourceDeprecated())
	}
	if tags := r.GetTags(); len(tags) > 0 {
		a.Tags = append([]string(nil), tags...)
	}
	if fields := r.GetOutputFields(); len(fields) > 0 {
		a.Fields = make(event.Fields, len(fields))
		for k, v := range fields {
			a.Fields[k] = event.GRPCValue(v)
		}
	}
	jsonOutput(&a)
	a.Normalize()
	return a
}

// jsonOutput decodes an output that is a whole JSON alert. Falco formats
// an alert once for all its outputs, so with json_output: true (for the
// HTTP or file output) the gRPC output carries the JSON document. Its
// output text and message replace it; its output_fields, which keep
// Falco's JSON types, are used when the message has none of its own.
func jsonOutput(a *event.Alert) {
	out := strings.TrimSpace(a.Output)
	if !strings.HasPrefix(out, "{") {
		return
	}
	inner, err := event.ParseJSON([]byte(out))
	if err != nil {
		return
	}
	a.Output, a.Message = inner.Output, inner.Message
	if len(inner.Fields) > 0 {
		a.Fields = inner.Fields
	}
}

// rawResponse is a gRPC response shown as JSON: the set fields only, named
// as in Falco's outputs.proto, in its order.
type rawResponse struct {
	Time         string            `json:"time,omitempty"`
	Priority     string            `json:"priority"`
	SourceOld    string            `json:"source_deprecated,omitempty"`
	Rule         string            `json:"rule,omitempty"`
	Output       string            `json:"output,omitempty"`
	OutputFields map[string]string `json:"output_fields,omitempty"`
	Hostname     string            `json:"hostname,omitempty"`
	Tags         []string          `json:"tags,omitempty"`
	Source       string            `json:"source,omitempty"`
}

// responseRaw returns r as event.Alert.Raw keeps it.
func responseRaw(r *outputs.Response) string {
	j := rawResponse{
		Priority: r.GetPriority().String(), Rule: r.GetRule(), Output: r.GetOutput(), OutputFields: r.GetOutputFields(),
		Hostname: r.GetHostname(), Tags: r.GetTags(), Source: r.GetSource(),
	}
	if ts := r.GetTime(); ts != nil {
		j.Time = time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC().Format(time.RFC3339Nano)
	}
	if r.GetSourceDeprecated() != 0 {
		j.SourceOld = r.GetSourceDeprecated().String()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return ""
	}
	return event.RawText(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// grpcPriority converts Falco's priority enum. A number outside the eight
// priorities stays invalid (Priority.Valid reports false) rather than being
// guessed; one too large for the type becomes -1.
func grpcPriority(p schema.Priority) event.Priority {
	if p < 0 || p > math.MaxInt8 {
		return -1
	}
	return event.Priority(p)
}

// deprecatedSource maps the source enum of Falco versions that did not send
// the source string yet. Zero is also what an absent field decodes to, so
// it is left to Alert.Normalize, which tells internal alerts apart by name.
func deprecatedSource(s schema.Source) string {
	switch s {
	case schema.Source_K8S_AUDIT:
		return event.SourceK8sAudit
	case schema.Source_INTERNAL:
		return event.SourceInternal
	}
	return ""
}
