package falcotest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

func TestDrain(t *testing.T) {
	s := New()
	addr, err := s.ListenUnix(filepath.Join(t.TempDir(), "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	msgs := responses(100)
	if _, err := Drain(context.Background(), addr, 100, 10*time.Millisecond, func() { s.Enqueue(msgs...) }); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDrain is the bare client's rate: the transport limit.
func BenchmarkDrain(b *testing.B) {
	s := New()
	addr, err := s.ListenUnix(filepath.Join(b.TempDir(), "falco.sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	msgs := responses(b.N)
	b.ResetTimer()
	took, err := Drain(context.Background(), addr, b.N, 10*time.Millisecond, func() { s.Enqueue(msgs...) })
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/took.Seconds(), "alerts/s")
}

func responses(n int) []*outputs.Response {
	out := make([]*outputs.Response, n)
	for i := range out {
		out[i] = AlertToResponse(event.Alert{Time: time.Unix(int64(i), 0), Rule: "Read sensitive file untrusted", Source: "syscall", Hostname: "h",
			Output: "a fairly long output line of about the usual size for a Falco alert, with a few fields in it",
			Fields: event.Fields{"fd.name": event.Str("/etc/shadow"), "proc.cmdline": event.Str(fmt.Sprintf("cat /etc/shadow #%d", i)),
				"proc.name": event.Str("cat"), "proc.exepath": event.Str("/usr/bin/cat"), "user.name": event.Str("root"), "container.id": event.Str("host")}})
	}
	return out
}
