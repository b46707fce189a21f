package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// peerKey is the context key of the connection's peer.
type peerKey struct{}

// peer is the process at the other end of one connection. Its uid is
// looked up once, on the connection's first request.
type peer struct {
	conn net.Conn
	once sync.Once
	uid  uint32
	err  error
}

// peerContext is http.Server.ConnContext: it remembers each connection.
func peerContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, &peer{conn: c})
}

// peerUID returns the uid of the process that opened the connection of
// ctx, as the kernel knows it: SO_PEERCRED on a unix socket, the socket
// diagnostics (netlink sock_diag, as ss -e shows) for TCP over loopback.
// Nothing the client sends can change it.
func peerUID(ctx context.Context) (uint32, error) {
	p, ok := ctx.Value(peerKey{}).(*peer)
	if !ok {
		return 0, errors.New("no connection in the request context")
	}
	p.once.Do(func() { p.uid, p.err = connUID(p.conn) })
	return p.uid, p.err
}

// connUID finds the uid of the process at the other end of c.
func connUID(c net.Conn) (uint32, error) {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn() // a TLS connection: the socket under it
	}
	switch conn := c.(type) {
	case *net.UnixConn:
		raw, err := conn.SyscallConn()
		if err != nil {
			return 0, fmt.Errorf("peer credentials: %w", err)
		}
		var cred *unix.Ucred
		var credErr error
		if err := raw.Control(func(fd uintptr) {
			cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		}); err != nil {
			return 0, fmt.Errorf("peer credentials: %w", err)
		}
		if credErr != nil {
			return 0, fmt.Errorf("peer credentials: %w", credErr)
		}
		return cred.Uid, nil
	case *net.TCPConn:
		// The client's socket: its local address is our remote one.
		s, err := netlink.SocketGet(conn.RemoteAddr(), conn.LocalAddr())
		if err != nil {
			return 0, fmt.Errorf("socket diagnostics for %s: %w", conn.RemoteAddr(), err)
		}
		return s.UID, nil
	}
	return 0, fmt.Errorf("peer uid: unsupported connection %T", c)
}

// allowedUID reports whether uid is in uids.
func allowedUID(uids []uint32, uid uint32) bool { return slices.Contains(uids, uid) }
