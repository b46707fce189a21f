package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ListenKind tells how a listen address of the HTTP input is protected.
type ListenKind int

// Kinds of listen address.
const (
	ListenUnix     ListenKind = iota // unix:///path: peers known by SO_PEERCRED
	ListenLoopback                   // 127.0.0.0/8, ::1, localhost: peers known by sock_diag
	ListenNetwork                    // anything else: mutual TLS required
)

// Listen is a parsed listen address.
type Listen struct {
	Kind    ListenKind
	Network string // "unix" or "tcp"
	Address string // the socket path, or host:port
}

// ParseListen checks a listen address of the HTTP input:
// unix:///absolute/path or host:port.
func ParseListen(s string) (Listen, error) {
	if path, ok := strings.CutPrefix(s, "unix://"); ok {
		if !strings.HasPrefix(path, "/") {
			return Listen{}, fmt.Errorf("listen address %q: want unix:///absolute/path", s)
		}
		return Listen{ListenUnix, "unix", path}, nil
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return Listen{}, fmt.Errorf("listen address %q: want host:port or unix:///path", s)
	}
	if ip, err := netip.ParseAddr(host); host == "localhost" || (err == nil && ip.Unmap().IsLoopback()) {
		return Listen{ListenLoopback, "tcp", s}, nil
	}
	return Listen{ListenNetwork, "tcp", s}, nil
}
