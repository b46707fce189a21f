package stream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// falcoTarget is where Falco's gRPC server listens.
type falcoTarget struct {
	unix   bool   // a unix socket, reached without TLS
	target string // the address in gRPC's target syntax
	host   string // the host part of a TCP address, for certificate checks
}

// parseGRPCAddress checks a Falco gRPC address: unix:///path/to.sock or
// host:port, as Falco's grpc.bind_address spells it.
func parseGRPCAddress(addr string) (falcoTarget, error) {
	if addr == "" {
		return falcoTarget{}, errors.New("grpc address is empty")
	}
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		if !strings.HasPrefix(path, "/") {
			return falcoTarget{}, fmt.Errorf("grpc address %q: want unix:///absolute/path", addr)
		}
		return falcoTarget{unix: true, target: addr}, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return falcoTarget{}, fmt.Errorf("grpc address %q: want unix:///path or host:port: %w", addr, err)
	}
	if host == "" || port == "" {
		return falcoTarget{}, fmt.Errorf("grpc address %q: host and port are both needed", addr)
	}
	return falcoTarget{target: "dns:///" + addr, host: host}, nil
}

// credentials returns the transport credentials for one connection
// attempt. Over TCP Falco requires mutual TLS; the files are read anew on
// each attempt so that rotated certificates are picked up.
func (t falcoTarget) credentials(certFile, keyFile, caFile string) (credentials.TransportCredentials, error) {
	if t.unix {
		return insecure.NewCredentials(), nil
	}
	cfg, err := grpcClientTLS(certFile, keyFile, caFile, t.host)
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(cfg), nil
}

// grpcClientTLS builds the mutual TLS configuration: our certificate and key,
// and Falco's certificate verified against caFile for serverName.
func grpcClientTLS(certFile, keyFile, caFile, serverName string) (*tls.Config, error) {
	for _, f := range []struct{ name, path string }{{"cert", certFile}, {"key", keyFile}, {"ca", caFile}} {
		if f.path == "" {
			return nil, fmt.Errorf("grpc over TCP needs mutual TLS: %s file not set", f.name)
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate %s and key %s: %w", certFile, keyFile, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("ca file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// Liveness of a connection to Falco. Falco's server (gRPC C++) refuses
// client pings more often than every 5 minutes while it sends nothing: the
// third one closes the connection ("too_many_pings"). So liveness is a
// heartbeat: a call of Falco's version service every grpcHeartbeat, which
// Falco answers, and each answer lets the next ping through. grpc-go pings
// only after grpcKeepalive without anything read, which the heartbeat
// prevents while Falco answers; when Falco falls silent, the heartbeat
// times out, and the ping, not answered within grpcKeepaliveTimeout, closes
// the connection. grpc-go also sets TCP_USER_TIMEOUT to that timeout, so a
// host that vanished is noticed as soon as our requests go unacknowledged.
// Either way a silent Falco is noticed within grpcHeartbeat +
// grpcHeartbeatTimeout (30 s).
const (
	grpcHeartbeat        = 20 * time.Second
	grpcHeartbeatTimeout = 10 * time.Second
	grpcKeepalive        = 30 * time.Second
	grpcKeepaliveTimeout = 10 * time.Second
)

// dial creates a client for one connection attempt. It does not connect:
// the first RPC does.
func (t falcoTarget) dial(creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(t.target, grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: grpcKeepalive, Timeout: grpcKeepaliveTimeout}))
	if err != nil {
		return nil, fmt.Errorf("grpc client for %s: %w", t.target, err)
	}
	return conn, nil
}
