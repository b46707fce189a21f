package stream

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// silencer is a TCP proxy to Falco that can fall silent: it then keeps
// every connection open but passes nothing on, as a hung Falco or a host
// that vanished from the network.
type silencer struct {
	ln     net.Listener
	silent atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silencer{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
	return p
}

// pipe copies from src to dst until the proxy falls silent; then it reads
// and drops.
func (p *silencer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *silencer) addr() string { return p.ln.Addr().String() }

// TestGRPCNoticesSilentFalco checks that a Falco which stops answering on
// an open connection is noticed by the heartbeat and the input
// reconnects, while a quiet but healthy Falco is never dropped.
func TestGRPCNoticesSilentFalco(t *testing.T) {
	falco, _, m, _ := tlsFalco(t)
	proxy := newSilencer(t, falco.Addr())
	_, port, _ := net.SplitHostPort(proxy.addr())
	opts := fastGRPCOptions(net.JoinHostPort("127.0.0.1", port))
	opts.Cert, opts.Key, opts.CA = m.CertFile, m.KeyFile, m.CAFile
	// A heartbeat answer may take long on a loaded machine: beatWait is
	// generous, and still far below TCP's own timeouts.
	r := startGRPCWith(t, opts, func(g *GRPC) { g.beat, g.beatWait = 50*time.Millisecond, 3*time.Second })
	falco.Enqueue(falcoAlerts("before", 1)...)
	r.sink.waitFor(t, 1)

	// Quiet but healthy: no alerts for many heartbeats, no reconnect.
	v := falco.Versions()
	grpcWait(t, "5 heartbeats", func() bool { return falco.Versions() >= v+5 })
	if r.g.Reconnects() != 0 || r.g.State() != StateConnected {
		t.Fatalf("a quiet Falco was dropped: state %v, %d reconnects\n%s", r.g.State(), r.g.Reconnects(), r.logs)
	}

	// Silent: noticed by the heartbeat (the log says so), not by TCP.
	proxy.silent.Store(true)
	grpcWait(t, "the silent Falco to be noticed", func() bool { return r.g.State() == StateDisconnected })
	if !strings.Contains(r.logs.String(), "did not answer a heartbeat") {
		t.Errorf("the log does not say why:\n%s", r.logs)
	}
	proxy.silent.Store(false)
	falco.Enqueue(falcoAlerts("after", 1)...)
	r.sink.waitFor(t, 2)
}

func TestGRPCLivenessDefaults(t *testing.T) {
	g, err := NewGRPC(GRPCOptions{Address: "unix:///run/falco/falco.sock"})
	if err != nil {
		t.Fatal(err)
	}
	if g.beat+g.beatWait > time.Minute || grpcKeepalive+grpcKeepaliveTimeout > time.Minute {
		t.Errorf("a silent Falco is noticed after %v (heartbeat) or %v (keepalive), want within a minute",
			g.beat+g.beatWait, grpcKeepalive+grpcKeepaliveTimeout)
	}
	// gRPC C++ servers (Falco) close a connection on the third ping that
	// comes sooner than 5 minutes after the last, unless they wrote
	// something in between: the heartbeat's answers are such writes, and
	// grpc-go pings only when it read nothing for grpcKeepalive.
	if g.beat >= grpcKeepalive {
		t.Errorf("heartbeat every %v: pings every %v would be refused by Falco", g.beat, grpcKeepalive)
	}
}

// TestGRPCJSONOutput sends what Falco's gRPC output sends with json_output
// enabled: the whole JSON alert in the output field.
func TestGRPCJSONOutput(t *testing.T) {
	falco, addr := unixFalco(t)
	doc := `{"hostname":"web-1","output":"10:00:01.123456789: Warning Sensitive file opened | file=/etc/shadow","output_fields":{"evt.time":1775124001123456789,"fd.name":"/etc/shadow","proc.tty":0},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555"],"time":"2026-04-02T10:00:01.123456789Z"}`
	falco.Enqueue(&outputs.Response{
		Time: &timestamppb.Timestamp{Seconds: 1775124001, Nanos: 123456789}, Priority: 4, Rule: "Read sensitive file untrusted",
		Output: doc, OutputFields: map[string]string{"fd.name": "/etc/shadow", "proc.tty": "0", "evt.time": "1775124001123456789"},
		Hostname: "web-1", Tags: []string{"T1555"}, Source: "syscall",
	})
	r := startGRPC(t, fastGRPCOptions(addr), nil)
	a := r.sink.waitFor(t, 1)[0]
	if a.Output != "10:00:01.123456789: Warning Sensitive file opened | file=/etc/shadow" {
		t.Errorf("output = %q, want the text inside the JSON document", a.Output)
	}
	if v := a.Fields["proc.tty"]; v.Kind != event.Number || v.Text != "0" {
		t.Errorf("proc.tty = %+v, want the JSON document's typed value", v)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(a.Raw), &raw); err != nil || raw["output"] != doc || raw["priority"] != "WARNING" {
		t.Errorf("raw = %s (%v): want the gRPC message as received", a.Raw, err)
	}
}

// TestGRPCRawShowsOnlySetFields: the raw alert of a gRPC message has no
// keys the message did not set.
func TestGRPCRawShowsOnlySetFields(t *testing.T) {
	got := responseRaw(&outputs.Response{Priority: 5, Rule: "r <b>", Source: "syscall"})
	if got != `{"priority":"NOTICE","rule":"r <b>","source":"syscall"}` {
		t.Errorf("raw = %s", got)
	}
}

// TestGRPCKeepsSayingWhy checks that a retry loop is never silent: an
// unchanged reason is logged again after grpcRepeatLog, a new one at once.
func TestGRPCKeepsSayingWhy(t *testing.T) {
	var logs grpcLogs
	g, err := NewGRPC(GRPCOptions{Address: "unix:///nonexistent/falco.sock", Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("dial unix /nonexistent/falco.sock: connect: no such file or directory")
	g.setState(StateConnecting, nil)
	for range 5 {
		g.setState(StateDisconnected, refused)
	}
	if n := logs.count(`"message":`); n != 2 {
		t.Fatalf("%d lines after 5 identical failures, want 2 (connecting, cannot reach):\n%s", n, logs.String())
	}
	g.down.at = time.Now().Add(-grpcRepeatLog)
	g.setState(StateDisconnected, refused)
	if !strings.Contains(logs.String(), `"attempts":5,"message":"still cannot reach falco, retrying"`) {
		t.Fatalf("the unchanged reason was not logged again:\n%s", logs.String())
	}
	g.setState(StateDisconnected, io.EOF)
	if n := logs.count("still cannot reach falco"); n != 1 {
		t.Fatalf("a new reason was logged within a minute of the last line:\n%s", logs.String())
	}
	g.down.at = time.Now().Add(-grpcNewReasonLog)
	g.setState(StateDisconnected, io.EOF)
	if n := logs.count("still cannot reach falco"); n != 2 {
		t.Fatalf("a new reason was not logged a minute after the last line:\n%s", logs.String())
	}
}
