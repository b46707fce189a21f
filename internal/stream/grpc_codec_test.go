package stream

import (
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/api/schema"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// fullResponse has every field of a response set.
func fullResponse() *outputs.Response {
	return &outputs.Response{
		Time:             timestamppb.New(time.Date(2026, 4, 2, 10, 0, 1, 123456789, time.UTC)),
		Priority:         schema.Priority_WARNING,
		SourceDeprecated: schema.Source_K8S_AUDIT,
		Rule:             "Read sensitive file untrusted",
		Output:           "Warning Sensitive file opened | file=/etc/shadow",
		OutputFields:     map[string]string{"fd.name": "/etc/shadow", "proc.tty": "0", "proc.pname": "null", "": ""},
		Hostname:         "web-1",
		Tags:             []string{"T1555", "", "host"},
		Source:           "syscall",
	}
}

func TestDecodeResponseRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    *outputs.Response
	}{
		{"empty", &outputs.Response{}},
		{"full", fullResponse()},
		{"epoch time", &outputs.Response{Time: &timestamppb.Timestamp{}}},
		{"negative time", &outputs.Response{Time: &timestamppb.Timestamp{Seconds: -1, Nanos: -5}}},
		{"unknown priority", &outputs.Response{Priority: schema.Priority(42)}},
		{"unicode", &outputs.Response{Rule: "règle ✓", OutputFields: map[string]string{"k€y": "vål"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := proto.Marshal(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			var got outputs.Response
			if err := decodeResponse(b, &got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, tt.r) {
				t.Fatalf("got %v\nwant %v", &got, tt.r)
			}
		})
	}
}

// protoStr appends a length-delimited field holding s, byte for byte.
func protoStr(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func TestDecodeResponseInvalidUTF8(t *testing.T) {
	entry := protoStr(protoStr(nil, 1, "fd.name\xff"), 2, "/tmp/\xc3\x28x")
	var b []byte
	b = protoStr(b, 4, "rule \xff")
	b = protoStr(b, 5, "out\xfe\xfe")
	b = protoStr(b, 6, string(entry))
	b = protoStr(b, 7, "host\x80")
	b = protoStr(b, 8, "tag\xff")
	b = protoStr(b, 9, "sys\xffcall")
	if err := proto.Unmarshal(b, &outputs.Response{}); err == nil {
		t.Fatal("protobuf-go accepted the message: the test bytes are not invalid")
	}
	var r outputs.Response
	if err := decodeResponse(b, &r); err != nil {
		t.Fatal(err)
	}
	want := &outputs.Response{
		Rule:         "rule \uFFFD",
		Output:       "out\uFFFD",
		OutputFields: map[string]string{"fd.name\uFFFD": "/tmp/\uFFFD(x"},
		Hostname:     "host\uFFFD",
		Tags:         []string{"tag\uFFFD"},
		Source:       "sys\uFFFDcall",
	}
	if !proto.Equal(&r, want) {
		t.Fatalf("got %v\nwant %v", &r, want)
	}
	if _, err := proto.Marshal(&r); err != nil {
		t.Fatalf("decoded message is still invalid: %v", err)
	}
}

func TestDecodeResponseSkipsUnknownAndMistypedFields(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 99, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	b = protoStr(b, 100, "future field")
	b = protowire.AppendTag(b, 4, protowire.Fixed32Type) // rule with a wrong wire type
	b = protowire.AppendFixed32(b, 1)
	b = protoStr(b, 2, "priority as bytes")
	b = protoStr(b, 4, "rule")
	var r outputs.Response
	if err := decodeResponse(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Rule != "rule" || r.Priority != 0 {
		t.Fatalf("got %v", &r)
	}
}

func TestDecodeResponseMalformed(t *testing.T) {
	full, err := proto.Marshal(fullResponse())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"truncated tag", []byte{0x80}},
		{"truncated length", []byte{0x22}},
		{"length past end", []byte{0x22, 0x10, 'a'}},
		{"truncated varint", []byte{0x10, 0xff}},
		{"field number zero", []byte{0x02, 0x00}},
		{"end group without start", []byte{0x0c}},
		{"bad timestamp", protoStr(nil, 1, "\xff")},
		{"bad map entry", protoStr(nil, 6, "\x0a\x05ab")},
		{"cut in half", full[:len(full)/2]},
		{"garbage", []byte("this is not a protobuf message at all \xff\xfe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := decodeResponse(tt.b, &outputs.Response{}); err == nil {
				t.Fatalf("decoded % x without error", tt.b)
			}
		})
	}
}

func TestLenientCodec(t *testing.T) {
	c := lenientCodec{}
	if c.Name() != "proto" {
		t.Fatalf("name %q: Falco expects the proto content-subtype", c.Name())
	}
	data, err := c.Marshal(fullResponse())
	if err != nil {
		t.Fatal(err)
	}
	// Split the bytes over two buffers, as a transport may deliver them.
	b := data.Materialize()
	split := mem.BufferSlice{mem.SliceBuffer(b[:7]), mem.SliceBuffer(b[7:])}
	var r outputs.Response
	if err := c.Unmarshal(split, &r); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&r, fullResponse()) {
		t.Fatalf("got %v", &r)
	}
	var req outputs.Request
	if err := c.Unmarshal(mem.BufferSlice{}, &req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Marshal("not a message"); err == nil {
		t.Fatal("marshalled a string")
	}
	if err := c.Unmarshal(split, new(int)); err == nil {
		t.Fatal("unmarshalled into an int")
	}
}

func TestResponseAlert(t *testing.T) {
	tests := []struct {
		name string
		r    *outputs.Response
		want event.Alert
	}{
		{"full", fullResponse(), event.Alert{
			Time:     time.Date(2026, 4, 2, 10, 0, 1, 123456789, time.UTC),
			Priority: event.PriorityWarning,
			Rule:     "Read sensitive file untrusted",
			Source:   "syscall",
			Hostname: "web-1",
			Output:   "Warning Sensitive file opened | file=/etc/shadow",
			Tags:     []string{"T1555", "", "host"},
			Fields: event.Fields{
				"fd.name": event.Str("/etc/shadow"), "proc.tty": event.Str("0"),
				"proc.pname": {Kind: event.Null}, "": event.Str(""),
			},
		}},
		{"old falco, k8s_audit enum", &outputs.Response{Rule: "r", SourceDeprecated: schema.Source_K8S_AUDIT},
			event.Alert{Rule: "r", Source: "k8s_audit"}},
		{"old falco, internal enum", &outputs.Response{Rule: "r", SourceDeprecated: schema.Source_INTERNAL},
			event.Alert{Rule: "r", Source: "internal"}},
		{"old falco, syscall enum", &outputs.Response{Rule: "r"},
			event.Alert{Rule: "r", Source: "syscall"}},
		{"old falco, internal alert without enum", &outputs.Response{Rule: "Falco internal: syscall event drop"},
			event.Alert{Rule: "Falco internal: syscall event drop", Source: "internal"}},
		{"source string wins", &outputs.Response{Rule: "r", Source: "okta", SourceDeprecated: schema.Source_INTERNAL},
			event.Alert{Rule: "r", Source: "okta"}},
		{"priority out of range", &outputs.Response{Rule: "r", Source: "s", Priority: schema.Priority(1000)},
			event.Alert{Rule: "r", Source: "s", Priority: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := responseAlert(tt.r)
			if !grpcAlertsEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// grpcAlertsEqual compares two alerts field by field.
func grpcAlertsEqual(a, b event.Alert) bool {
	if !a.Time.Equal(b.Time) || a.Priority != b.Priority || a.Rule != b.Rule || a.Source != b.Source ||
		a.Hostname != b.Hostname || a.Output != b.Output || len(a.Tags) != len(b.Tags) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Tags {
		if a.Tags[i] != b.Tags[i] {
			return false
		}
	}
	for k, v := range a.Fields {
		if w, ok := b.Fields[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func FuzzDecode(f *testing.F) {
	full, err := proto.Marshal(fullResponse())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte{})
	f.Add(protoStr(nil, 4, "bad \xff"))
	f.Add(protoStr(nil, 6, "\x0a\x05ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r outputs.Response
		if err := decodeResponse(b, &r); err != nil {
			return
		}
		// Whatever decodes must be valid for protobuf-go and for the pipeline.
		if _, err := proto.Marshal(&r); err != nil {
			t.Fatalf("decoded message does not marshal: %v", err)
		}
		responseAlert(&r)
	})
}
