package stream

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

// grpcSink keeps every alert it is given. If gate is set, Put waits for
// a value on it before taking each alert.
type grpcSink struct {
	mu      sync.Mutex
	alerts  []event.Alert
	gate    chan struct{}
	putting chan struct{} // signalled when a Put starts
}

func (s *grpcSink) Put(ctx context.Context, a event.Alert) error {
	select {
	case s.putting <- struct{}{}:
	default:
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a)
	return nil
}

func (s *grpcSink) Offer(a event.Alert) bool { return s.Put(context.Background(), a) == nil }

func (s *grpcSink) got() []event.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Alert(nil), s.alerts...)
}

// rules returns the rule names of the alerts received.
func (s *grpcSink) rules() []string {
	var r []string
	for _, a := range s.got() {
		r = append(r, a.Rule)
	}
	return r
}

// waitFor waits up to 30 s until n alerts arrived.
func (s *grpcSink) waitFor(t *testing.T, n int) []event.Alert {
	t.Helper()
	grpcWait(t, fmt.Sprintf("%d alerts", n), func() bool { return len(s.got()) >= n })
	return s.got()
}

// grpcWait polls cond until it holds; the minute only catches a hang on a
// loaded machine.
func grpcWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// grpcLogs is a goroutine-safe log destination.
type grpcLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *grpcLogs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many log lines contain s.
func (b *grpcLogs) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *grpcLogs) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// grpcStates records the states an input reports.
type grpcStates struct {
	mu     sync.Mutex
	states []State
}

func (l *grpcStates) record(source string, s State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, s)
}

func (l *grpcStates) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.states)
}

// grpcRun is a GRPC input grpcRun in the background.
type grpcRun struct {
	g      *GRPC
	sink   *grpcSink
	logs   *grpcLogs
	states *grpcStates
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returns
	err    error         // what Run returned, once done is closed
}

// stop cancels the input and returns how long Run took to return.
func (r *grpcRun) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("Run returned %v, want nil", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	return time.Since(start)
}

// returned reports whether Run has returned.
func (r *grpcRun) returned() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// fastGRPCOptions are small intervals for tests.
func fastGRPCOptions(addr string) GRPCOptions {
	return GRPCOptions{Address: addr, PollInterval: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
}

// startGRPC runs an input with opts into sink (a new one if nil).
func startGRPC(t *testing.T, opts GRPCOptions, sink *grpcSink) *grpcRun {
	t.Helper()
	return startGRPCWith(t, opts, nil, sink)
}

// startGRPCWith is startGRPC with a chance to change the input's timings
// before it runs.
func startGRPCWith(t *testing.T, opts GRPCOptions, edit func(*GRPC), sinks ...*grpcSink) *grpcRun {
	t.Helper()
	sink := &grpcSink{}
	if len(sinks) > 0 && sinks[0] != nil {
		sink = sinks[0]
	}
	r := &grpcRun{sink: sink, logs: &grpcLogs{}, states: &grpcStates{}, done: make(chan struct{})}
	opts.Logger = zerolog.New(r.logs)
	opts.OnState = r.states.record
	g, err := NewGRPC(opts)
	if err != nil {
		t.Fatal(err)
	}
	g.settle = 50 * time.Millisecond
	if edit != nil {
		edit(g)
	}
	r.g = g
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.err = g.Run(ctx, sink)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// unixFalco serves a fake Falco on a socket in a temporary directory.
func unixFalco(t *testing.T) (*falcotest.Server, string) {
	t.Helper()
	s := falcotest.New()
	addr, err := s.ListenUnix(filepath.Join(t.TempDir(), "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, addr
}

// falcoAlerts returns n alerts named prefix-0 .. prefix-(n-1).
func falcoAlerts(prefix string, n int) []*outputs.Response {
	r := make([]*outputs.Response, n)
	for i := range r {
		r[i] = &outputs.Response{Rule: fmt.Sprintf("%s-%d", prefix, i), Source: "syscall"}
	}
	return r
}

// ruleNames returns the rule names prefix-0 .. prefix-(n-1).
func ruleNames(prefix string, n int) []string {
	var r []string
	for _, m := range falcoAlerts(prefix, n) {
		r = append(r, m.Rule)
	}
	return r
}
