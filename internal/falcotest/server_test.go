package falcotest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// alerts returns n responses named prefix-0 .. prefix-(n-1).
func alerts(prefix string, n int) []*outputs.Response {
	r := make([]*outputs.Response, n)
	for i := range r {
		r[i] = &outputs.Response{Rule: fmt.Sprintf("%s-%d", prefix, i), Source: "syscall"}
	}
	return r
}

// startUnix serves s on a socket in a temporary directory.
func startUnix(t *testing.T, s *Server) string {
	t.Helper()
	addr, err := s.ListenUnix(filepath.Join(t.TempDir(), "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return addr
}

// client connects a stock gRPC client to addr.
func client(t *testing.T, addr string, creds credentials.TransportCredentials) outputs.ServiceClient {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return outputs.NewServiceClient(conn)
}

// testCtx is bounded so that no test hangs.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recvRules receives n responses and returns their rule names.
func recvRules(t *testing.T, sub outputs.Service_SubClient, n int) []string {
	t.Helper()
	var got []string
	for range n {
		r, err := sub.Recv()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, r.GetRule())
	}
	return got
}

// eventually waits up to 2 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubAnswersEachRequestOnly(t *testing.T) {
	s := New()
	s.Enqueue(alerts("a", 3)...)
	sub, err := client(t, startUnix(t, s), nil).Sub(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := recvRules(t, sub, 3); fmt.Sprint(got) != "[a-0 a-1 a-2]" {
		t.Fatalf("backlog = %v", got)
	}
	eventually(t, "the first request", func() bool { return s.Requests() == 1 })

	// Without a new request, newly queued alerts stay queued.
	s.Enqueue(alerts("b", 2)...)
	time.Sleep(50 * time.Millisecond)
	if s.Queued() != 2 {
		t.Fatalf("queued = %d, want 2: the server sent without a request", s.Queued())
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := recvRules(t, sub, 2); fmt.Sprint(got) != "[b-0 b-1]" {
		t.Fatalf("after second request = %v", got)
	}
	if s.Subscribers() != 1 {
		t.Fatalf("subscribers = %d", s.Subscribers())
	}
}

func TestGetDrainsAndEnds(t *testing.T) {
	s := New()
	s.Enqueue(alerts("a", 2)...)
	get, err := client(t, startUnix(t, s), nil).Get(testCtx(t), &outputs.Request{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		r, err := get.Recv()
		if err != nil {
			break
		}
		got = append(got, r.GetRule())
	}
	if fmt.Sprint(got) != "[a-0 a-1]" || s.Queued() != 0 {
		t.Fatalf("get = %v, queued %d", got, s.Queued())
	}
}

func TestSubscribersShareOneQueue(t *testing.T) {
	s := New()
	addr := startUnix(t, s)
	c := client(t, addr, nil)
	ctx := testCtx(t)
	first, err := c.Sub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Sub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(alerts("a", 4)...)
	if err := first.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	recvRules(t, first, 4)
	s.Enqueue(alerts("b", 1)...)
	if err := second.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := recvRules(t, second, 1); fmt.Sprint(got) != "[b-0]" {
		t.Fatalf("second subscriber got %v, want only what was left", got)
	}
}

func TestStopBreaksStreamsAndRestartServesAgain(t *testing.T) {
	s := New()
	addr := startUnix(t, s)
	sub, err := client(t, addr, nil).Sub(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the subscription", func() bool { return s.Subscribers() == 1 })
	s.Stop()
	if _, err := sub.Recv(); err == nil {
		t.Fatal("stream still alive after Stop")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
	}
	s.Enqueue(alerts("c", 1)...)
	sub, err = client(t, addr, nil).Sub(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := recvRules(t, sub, 1); fmt.Sprint(got) != "[c-0]" {
		t.Fatalf("after restart = %v", got)
	}
}

func TestListenTLSRequiresClientCertificate(t *testing.T) {
	m, err := NewMTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	addr, err := s.ListenTLS("127.0.0.1:0", m.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.Enqueue(alerts("tls", 1)...)

	good, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.ClientCert("stranger")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := stranger.TLS()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert tls.Certificate
		ok   bool
	}{
		{"certificate from another CA", bad, false},
		{"certificate from the CA", good, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := credentials.NewTLS(&tls.Config{
				Certificates: []tls.Certificate{tt.cert},
				RootCAs:      m.CA.Pool(),
				ServerName:   "127.0.0.1",
			})
			sub, err := client(t, addr, creds).Sub(testCtx(t))
			if err == nil {
				err = sub.Send(&outputs.Request{})
			}
			if err == nil {
				_, err = sub.Recv()
			}
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestEndStreamsEndsCleanly(t *testing.T) {
	s := New()
	sub, err := client(t, startUnix(t, s), nil).Sub(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the subscription", func() bool { return s.Subscribers() == 1 })
	s.EndStreams()
	if _, err := sub.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("recv after EndStreams: %v, want EOF", err)
	}
	eventually(t, "the handler to end", func() bool { return s.Subscribers() == 0 })
}

func TestListenUnixKeepsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New()
	if _, err := s.ListenUnix(path); err == nil {
		s.Stop()
		t.Fatal("listened over a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Fatalf("file changed: %q %v", b, err)
	}
}
