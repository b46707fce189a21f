package stream

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestGRPCDeliversInOrderAndKeepsPolling(t *testing.T) {
	falco, addr := unixFalco(t)
	falco.Enqueue(falcoAlerts("before", 5)...)
	r := startGRPC(t, fastGRPCOptions(addr), nil)
	r.sink.waitFor(t, 5)

	// The backlog is drained; only further requests bring more.
	falco.Enqueue(falcoAlerts("after", 5)...)
	r.sink.waitFor(t, 10)
	want := append(ruleNames("before", 5), ruleNames("after", 5)...)
	if got := r.sink.rules(); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if falco.Subscribers() != 1 {
		t.Fatalf("subscribers = %d, want 1", falco.Subscribers())
	}
	if a := r.sink.got()[0]; a.Source != "syscall" {
		t.Fatalf("alert = %+v", a)
	}
	grpcWait(t, "connected", func() bool { return r.g.State() == StateConnected })
	if n := r.logs.count(`"message":"connected to falco"`); n != 1 {
		t.Fatalf("%d connected lines:\n%s", n, r.logs)
	}
}

func TestGRPCInvalidUTF8KeepsStream(t *testing.T) {
	falco, addr := unixFalco(t)
	alerts := falcoAlerts("a", 20)
	for i := 0; i < len(alerts); i += 3 {
		alerts[i].OutputFields = map[string]string{"proc.cmdline": "cat /tmp/\xff\xfe"}
		alerts[i].Hostname = "host\x80"
	}
	falco.Enqueue(alerts...)
	r := startGRPC(t, fastGRPCOptions(addr), nil)
	got := r.sink.waitFor(t, 20)
	if !slices.Equal(r.sink.rules(), ruleNames("a", 20)) {
		t.Fatalf("got %v", r.sink.rules())
	}
	if v := got[3].Fields["proc.cmdline"].Text; v != "cat /tmp/\uFFFD" {
		t.Fatalf("cmdline = %q", v)
	}
	if got[3].Hostname != "host\uFFFD" {
		t.Fatalf("hostname = %q", got[3].Hostname)
	}
	if r.g.Reconnects() != 0 || falco.Subscribers() != 1 {
		t.Fatalf("the stream broke: %d reconnects", r.g.Reconnects())
	}
}

func TestGRPCMalformedMessageReconnects(t *testing.T) {
	falco, addr := unixFalco(t)
	falco.EnqueueRaw([]byte{0x22, 0x10, 'x'})
	r := startGRPC(t, fastGRPCOptions(addr), nil)
	grpcWait(t, "a reconnect", func() bool {
		return falco.Requests() > 1 && falco.Subscribers() == 1 && r.g.State() != StateDisconnected
	})
	falco.Enqueue(falcoAlerts("ok", 1)...)
	r.sink.waitFor(t, 1)
	if r.returned() {
		t.Fatal("Run returned")
	}
}

func TestGRPCReconnects(t *testing.T) {
	tests := []struct {
		name   string
		cause  string
		breakf func(t *testing.T, falcoStop func(), falcoRestart func() error, endStreams func())
	}{
		{"falco dies and restarts", "reconnecting", func(t *testing.T, stop func(), restart func() error, _ func()) {
			stop()
			time.Sleep(50 * time.Millisecond)
			if err := restart(); err != nil {
				t.Fatal(err)
			}
		}},
		{"falco ends the stream", "falco ended the stream", func(_ *testing.T, _ func(), _ func() error, end func()) {
			end()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			falco, addr := unixFalco(t)
			falco.Enqueue(falcoAlerts("first", 2)...)
			r := startGRPC(t, fastGRPCOptions(addr), nil)
			r.sink.waitFor(t, 2)
			grpcWait(t, "connected", func() bool { return r.g.State() == StateConnected })

			tt.breakf(t, falco.Stop, falco.Restart, falco.EndStreams)
			falco.Enqueue(falcoAlerts("later", 3)...)
			r.sink.waitFor(t, 5)
			want := append(ruleNames("first", 2), ruleNames("later", 3)...)
			if got := r.sink.rules(); !slices.Equal(got, want) {
				t.Fatalf("got %v", got)
			}
			// The state is stored before OnState is told: wait for both.
			const states = "[connecting connected disconnected connected]"
			grpcWait(t, "connected again, and told", func() bool {
				return r.g.State() == StateConnected && r.states.String() == states
			})
			if n := r.g.Reconnects(); n != 1 {
				t.Fatalf("reconnects = %d, want 1", n)
			}
			logs := r.logs.String()
			if !strings.Contains(logs, tt.cause) || !strings.Contains(logs, "reconnected to falco") {
				t.Fatalf("logs lack %q:\n%s", tt.cause, logs)
			}
		})
	}
}

func TestGRPCFalcoAbsentAtStart(t *testing.T) {
	falco, addr := unixFalco(t)
	falco.Stop()
	r := startGRPC(t, fastGRPCOptions(addr), nil)
	grpcWait(t, "disconnected", func() bool { return r.g.State() == StateDisconnected })
	time.Sleep(200 * time.Millisecond) // several retries at MaxBackoff 20 ms

	falco.Enqueue(falcoAlerts("late", 2)...)
	if err := falco.Restart(); err != nil {
		t.Fatal(err)
	}
	r.sink.waitFor(t, 2)
	// The first alerts may reach the sink before OnState is told.
	const states = "[connecting disconnected connected]"
	grpcWait(t, "OnState told "+states, func() bool { return r.states.String() == states })
	if n := r.logs.count(`"level":"warn"`); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, r.logs)
	}
	if r.g.Reconnects() != 0 {
		t.Fatalf("first connection counted as a reconnect")
	}
}

func TestGRPCStopsPromptlyOnCancel(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) (GRPCOptions, *grpcSink)
	}{
		{"while connected", func(t *testing.T) (GRPCOptions, *grpcSink) {
			_, addr := unixFalco(t)
			return fastGRPCOptions(addr), nil
		}},
		{"while the sink blocks", func(t *testing.T) (GRPCOptions, *grpcSink) {
			falco, addr := unixFalco(t)
			falco.Enqueue(falcoAlerts("a", 3)...)
			return fastGRPCOptions(addr), &grpcSink{gate: make(chan struct{})}
		}},
		{"while waiting to retry", func(t *testing.T) (GRPCOptions, *grpcSink) {
			falco, addr := unixFalco(t)
			falco.Stop()
			opts := fastGRPCOptions(addr)
			opts.MaxBackoff = 30 * time.Second
			return opts, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, sink := tt.setup(t)
			r := startGRPC(t, opts, sink)
			time.Sleep(300 * time.Millisecond)
			if r.returned() {
				t.Fatal("Run returned before cancel")
			}
			if d := r.stop(t); d > time.Second {
				t.Fatalf("Run took %v to return", d)
			}
		})
	}
}

func TestGRPCBackpressure(t *testing.T) {
	falco, addr := unixFalco(t)
	falco.Enqueue(falcoAlerts("a", 3)...)
	sink := &grpcSink{gate: make(chan struct{}), putting: make(chan struct{}, 1)}
	opts := fastGRPCOptions(addr)
	r := startGRPC(t, opts, sink)
	select {
	case <-sink.putting:
	case <-time.After(5 * time.Second):
		t.Fatal("no alert reached the sink")
	}
	// A request may have raced the start of Put; after that, none.
	time.Sleep(100 * time.Millisecond)
	before := falco.Requests()
	time.Sleep(30 * opts.PollInterval)
	if after := falco.Requests(); after != before {
		t.Fatalf("requests went from %d to %d while the sink was full", before, after)
	}

	close(sink.gate)
	r.sink.waitFor(t, 3)
	grpcWait(t, "polling to resume", func() bool { return falco.Requests() > before+2 })
}

func TestGRPCReasons(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "unknown"},
		{fmt.Errorf("receive: %w", io.EOF), "falco ended the stream"},
		{fmt.Errorf("receive: %w", status.Error(codes.Unimplemented, "unknown service")), "grpc_output"},
		{fmt.Errorf("dial: refused"), "dial: refused"},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (70000000 vs. 67108864)"), "larger than 64 MiB"},
		{status.Error(codes.Unavailable, "x509: certificate relies on legacy Common Name field, use SANs instead"), "subjectAltName=DNS:"},
		{status.Error(codes.Unavailable, "x509: certificate signed by unknown authority"), "falco.grpc.ca"},
		{status.Error(codes.Unavailable, "x509: certificate is valid for falco-1, not falco-2"), "falco.grpc.address"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := grpcReason(tt.err); !strings.Contains(got, tt.want) {
				t.Fatalf("grpcReason(%v) = %q, want it to contain %q", tt.err, got, tt.want)
			}
		})
	}
}
