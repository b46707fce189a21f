// Package falcotest is a fake Falco gRPC outputs server, with Falco's own
// queue semantics, for tests and for the demo command. It also makes the
// certificates that Falco's mutual TLS needs.
package falcotest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/api/version"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Server behaves like Falco's gRPC server (Falco 0.43 and older): every
// alert waits in one process-wide queue; `sub` answers each request of the
// client with everything queued, then waits for the next request; `get`
// writes everything queued and ends. Two subscribers share the queue, each
// getting some of the alerts.
//
// Unlike Falco's, the queue survives Stop and Restart, so that a test can
// choose what a restarted Falco has to send. An alert whose write fails
// because the server stopped is lost, as in Falco.
type Server struct {
	outputs.UnimplementedServiceServer

	mu    sync.Mutex
	queue []any // *outputs.Response or rawMessage, oldest first
	end   chan struct{}

	requests atomic.Int64
	versions atomic.Int64
	subs     atomic.Int64
	conns    atomic.Int64

	lifeMu  sync.Mutex
	grpc    *grpc.Server
	network string // "unix" or "tcp"
	addr    string // socket path or host:port
	tls     *tls.Config
}

// New returns a server that is not listening yet.
func New() *Server { return &Server{} }

// Enqueue adds alerts to the queue, as Falco does when rules fire. Strings
// are sent byte for byte, invalid UTF-8 included.
func (s *Server) Enqueue(r ...*outputs.Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range r {
		s.queue = append(s.queue, m)
	}
}

// EnqueueRaw adds messages that are sent exactly as the given bytes, to
// test a client with malformed messages.
func (s *Server) EnqueueRaw(b ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range b {
		s.queue = append(s.queue, rawMessage(m))
	}
}

// Queued returns how many alerts wait in the queue.
func (s *Server) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Requests returns how many requests clients have sent, on every stream.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Subscribers returns how many `sub` streams are open.
func (s *Server) Subscribers() int { return int(s.subs.Load()) }

// Conns returns how many connections the server has accepted, including
// those whose TLS handshake then failed.
func (s *Server) Conns() int64 { return s.conns.Load() }

// pop takes the oldest queued message.
func (s *Server) pop() (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, false
	}
	m := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return m, true
}

// Sub answers each request with everything queued, as Falco does.
func (s *Server) Sub(stream outputs.Service_SubServer) error {
	s.subs.Add(1)
	defer s.subs.Add(-1)
	end := s.ending()
	ctx := stream.Context()
	requests := make(chan error)
	go func() {
		for {
			_, err := stream.Recv()
			if err == nil {
				s.requests.Add(1)
			}
			select {
			case requests <- err:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case err := <-requests:
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.drain(stream); err != nil {
				return err
			}
		case <-end:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// EndStreams ends every open `sub` stream cleanly: the clients read
// io.EOF, which is what they see when Falco restarts gracefully.
func (s *Server) EndStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end != nil {
		close(s.end)
	}
	s.end = make(chan struct{})
}

// ending returns the channel that the next EndStreams closes.
func (s *Server) ending() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end == nil {
		s.end = make(chan struct{})
	}
	return s.end
}

// Get writes everything queued and ends.
func (s *Server) Get(_ *outputs.Request, stream outputs.Service_GetServer) error {
	s.requests.Add(1)
	return s.drain(stream)
}

// drain writes queued messages until the queue is empty.
func (s *Server) drain(stream grpc.ServerStream) error {
	for {
		m, ok := s.pop()
		if !ok {
			return nil
		}
		if err := stream.SendMsg(m); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
}

// ListenUnix serves on a unix socket without TLS, as Falco's default
// unix:///run/falco/falco.sock, and returns the address for clients.
func (s *Server) ListenUnix(path string) (string, error) {
	return s.listen("unix", path, nil)
}

// ListenTLS serves on a TCP address (e.g. "127.0.0.1:0") with cfg, which
// should require client certificates as Falco does (see ServerConfig). It
// returns the address for clients, with the port chosen.
func (s *Server) ListenTLS(addr string, cfg *tls.Config) (string, error) {
	if cfg == nil {
		return "", errors.New("listen tls: no TLS configuration")
	}
	return s.listen("tcp", addr, cfg)
}

// Restart serves again on the address of the last Listen, after Stop.
func (s *Server) Restart() error {
	s.lifeMu.Lock()
	network, addr, cfg := s.network, s.addr, s.tls
	s.lifeMu.Unlock()
	if network == "" {
		return errors.New("restart: the server never listened")
	}
	_, err := s.listen(network, addr, cfg)
	return err
}

// Addr returns the address for clients: unix:///path or host:port.
func (s *Server) Addr() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.network == "unix" {
		return "unix://" + s.addr
	}
	return s.addr
}

// listen starts serving on a new grpc.Server.
func (s *Server) listen(network, addr string, cfg *tls.Config) (string, error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.grpc != nil {
		return "", errors.New("listen: the server is already serving")
	}
	if network == "unix" {
		if err := removeStaleSocket(addr); err != nil {
			return "", err
		}
	}
	lis, err := net.Listen(network, addr)
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	opts := []grpc.ServerOption{grpc.ForceServerCodecV2(codec{})}
	if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	srv := grpc.NewServer(opts...)
	outputs.RegisterServiceServer(srv, s)
	version.RegisterServiceServer(srv, versionServer{s: s})
	s.grpc, s.network, s.tls = srv, network, cfg
	s.addr = lis.Addr().String()
	go func() { _ = srv.Serve(countingListener{Listener: lis, n: &s.conns}) }()
	if network == "unix" {
		return "unix://" + s.addr, nil
	}
	return s.addr, nil
}

// removeStaleSocket removes a socket left at path by a server that died;
// anything else at path is left alone, and Listen then fails.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// Stop ends the server at once, as if Falco died: open streams break,
// mid-flight writes included. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.lifeMu.Lock()
	srv := s.grpc
	s.grpc = nil
	s.lifeMu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Version is the version Falco reports.
const Version = "0.43.0"

// versionServer answers Falco's version service, which Falco's gRPC
// server also serves.
type versionServer struct {
	version.UnimplementedServiceServer
	s *Server
}

func (v versionServer) Version(context.Context, *version.Request) (*version.Response, error) {
	v.s.versions.Add(1)
	return &version.Response{Version: Version, Major: 0, Minor: 43, Patch: 0}, nil
}

// Versions returns how many times the version service was called.
func (s *Server) Versions() int64 { return s.versions.Load() }

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

// Accept counts each connection it returns.
func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}
