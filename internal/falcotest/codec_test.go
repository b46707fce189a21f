package falcotest

import (
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/api/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

func TestEncodeResponseMatchesProtobuf(t *testing.T) {
	tests := []struct {
		name string
		r    *outputs.Response
	}{
		{"empty", &outputs.Response{}},
		{"full", &outputs.Response{
			Time:             timestamppb.New(time.Date(2026, 4, 2, 10, 0, 1, 123456789, time.UTC)),
			Priority:         schema.Priority_WARNING,
			SourceDeprecated: schema.Source_K8S_AUDIT,
			Rule:             "Read sensitive file untrusted",
			Output:           "Warning Sensitive file opened | file=/etc/shadow",
			OutputFields:     map[string]string{"fd.name": "/etc/shadow", "proc.tty": "0", "empty": ""},
			Hostname:         "web-1",
			Tags:             []string{"T1555", "", "host"},
			Source:           "syscall",
		}},
		{"negative time", &outputs.Response{Time: &timestamppb.Timestamp{Seconds: -5, Nanos: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got outputs.Response
			if err := proto.Unmarshal(EncodeResponse(tt.r), &got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, tt.r) {
				t.Fatalf("decoded %v, want %v", &got, tt.r)
			}
		})
	}
}

func TestEncodeResponseKeepsInvalidUTF8(t *testing.T) {
	r := &outputs.Response{Rule: "bad \xff rule"}
	if _, err := proto.Marshal(r); err == nil {
		t.Fatal("protobuf-go marshalled invalid UTF-8: the fake's own encoder is no longer needed")
	}
	if err := proto.Unmarshal(EncodeResponse(r), &outputs.Response{}); err == nil {
		t.Fatal("encoded message has valid UTF-8; want the raw bytes")
	}
}

func TestAlertToResponse(t *testing.T) {
	a := event.Alert{
		Time:     time.Date(2026, 4, 2, 10, 0, 1, 5, time.UTC),
		Priority: event.PriorityCritical,
		Rule:     "r",
		Source:   "k8s_audit",
		Hostname: "h",
		Output:   "o",
		Tags:     []string{"t"},
		Fields:   event.Fields{"a": event.Str("x"), "n": {Kind: event.Null}, "num": {Text: "7", Kind: event.Number}},
	}
	r := AlertToResponse(a)
	want := &outputs.Response{
		Time:         timestamppb.New(a.Time),
		Priority:     schema.Priority_CRITICAL,
		Rule:         "r",
		Source:       "k8s_audit",
		Hostname:     "h",
		Output:       "o",
		Tags:         []string{"t"},
		OutputFields: map[string]string{"a": "x", "n": "null", "num": "7"},
	}
	if !proto.Equal(r, want) {
		t.Fatalf("got %v, want %v", r, want)
	}
	if AlertToResponse(event.Alert{}).Time != nil {
		t.Fatal("zero time was sent")
	}
}
