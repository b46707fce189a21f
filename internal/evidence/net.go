package evidence

import (
	"bufio"
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// tcpStates are the kernel's TCP states (include/net/tcp_states.h) by
// their number in /proc/net/tcp.
var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
	"06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
	"0B": "CLOSING", "0C": "NEW_SYN_RECV",
}

// sockets finds the sockets whose inodes the process holds (byInode: inode
// to fd number) in the socket tables of its own network namespace,
// /proc/PID/net/{tcp,tcp6,udp,udp6}.
func (p *procDir) sockets(ctx context.Context, byInode map[uint64]int, max int) ([]report.Socket, error) {
	var out []report.Socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		if len(out) >= max || len(out) == len(byInode) {
			break
		}
		fd, err := unix.Openat(p.fd, "net/"+proto, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENOENT { // no IPv6 in this kernel
				continue
			}
			return out, err
		}
		f := os.NewFile(uintptr(fd), proto)
		sc := bufio.NewScanner(f)
		for n := 0; sc.Scan(); n++ {
			if n%256 == 0 && ctx.Err() != nil {
				break
			}
			s, ok := parseSocketLine(proto, sc.Text())
			if !ok {
				continue
			}
			if num, mine := byInode[s.Inode]; mine {
				s.FD = num
				out = append(out, s)
				if len(out) >= max {
					break
				}
			}
		}
		f.Close()
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// parseSocketLine parses one line of /proc/net/tcp and its kin:
// "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".
func parseSocketLine(proto, line string) (report.Socket, bool) {
	f := strings.Fields(line)
	if len(f) < 10 || f[0] == "sl" {
		return report.Socket{}, false
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil || inode == 0 {
		return report.Socket{}, false
	}
	local, ok1 := parseAddr(f[1])
	remote, ok2 := parseAddr(f[2])
	if !ok1 || !ok2 {
		return report.Socket{}, false
	}
	state := tcpStates[f[3]]
	if strings.HasPrefix(proto, "udp") {
		state = map[string]string{"01": "ESTABLISHED", "07": "UNCONNECTED"}[f[3]]
	}
	if state == "" {
		state = f[3]
	}
	return report.Socket{Proto: proto, Local: local, Remote: remote, State: state, Inode: inode}, true
}

// parseAddr turns "0100007F:1F90" (IPv4) or a 32-digit IPv6 address, each
// 32-bit word in host (little-endian) order, into "127.0.0.1:8080".
func parseAddr(s string) (string, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)).String(), true
}
