package falcotest

import (
	"fmt"
	"slices"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// rawMessage is a message sent exactly as given, to test a client with
// bytes no encoder would produce.
type rawMessage []byte

// codec encodes responses by hand, byte for byte, as Falco's C++ server
// does: protobuf-go refuses to marshal a string with invalid UTF-8, and
// Falco sends such strings whenever a file name or command line has them.
type codec struct{}

// Name is the content-subtype Falco's clients send.
func (codec) Name() string { return "proto" }

// Marshal encodes a Response by hand, a rawMessage as it is, and any other
// message with protobuf-go.
func (codec) Marshal(v any) (mem.BufferSlice, error) {
	var b []byte
	switch m := v.(type) {
	case *outputs.Response:
		b = EncodeResponse(m)
	case rawMessage:
		b = []byte(m)
	case proto.Message:
		var err error
		if b, err = proto.Marshal(m); err != nil {
			return nil, fmt.Errorf("marshal %T: %w", v, err)
		}
	default:
		return nil, fmt.Errorf("marshal: %T is not a protobuf message", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal decodes requests with protobuf-go.
func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal: %T is not a protobuf message", v)
	}
	if err := proto.Unmarshal(data.Materialize(), m); err != nil {
		return fmt.Errorf("unmarshal %T: %w", v, err)
	}
	return nil
}

// EncodeResponse encodes r in the protobuf wire format without checking
// that its strings are valid UTF-8, as Falco does. For valid strings the
// result decodes to the same message as proto.Marshal's; map entries are
// written in key order.
func EncodeResponse(r *outputs.Response) []byte {
	var b []byte
	if t := r.GetTime(); t != nil {
		var ts []byte
		ts = appendVarint(ts, 1, uint64(t.GetSeconds()))
		ts = appendVarint(ts, 2, uint64(int64(t.GetNanos())))
		b = appendBytes(b, 1, ts)
	}
	b = appendVarint(b, 2, uint64(int64(r.GetPriority())))
	b = appendVarint(b, 3, uint64(int64(r.GetSourceDeprecated())))
	b = appendString(b, 4, r.GetRule())
	b = appendString(b, 5, r.GetOutput())
	fields := r.GetOutputFields()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		entry := protowire.AppendTag(nil, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, k)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendString(entry, fields[k])
		b = appendBytes(b, 6, entry)
	}
	b = appendString(b, 7, r.GetHostname())
	for _, t := range r.GetTags() {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendString(b, t)
	}
	return appendString(b, 9, r.GetSource())
}

// appendVarint appends a varint field unless it has the default value 0.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendString appends a string field unless it is empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendBytes appends a length-delimited field, even an empty one.
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}
