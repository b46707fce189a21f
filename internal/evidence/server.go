package evidence

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Server is the collector: it answers one Request per connection on a
// unix socket, and only to the daemon's uid, checked with SO_PEERCRED
// (the socket file's mode is a second lock, not the only one).
type Server struct {
	AllowUID int
	Limits   Limits
	// MaxBusy bounds snapshots taken at once; more are answered "skipped"
	// at once rather than queued.
	MaxBusy int
	// Refused, if set, is told of every refused connection or request.
	Refused func(uid int, reason string)

	once sync.Once
	busy chan struct{}
}

// ioTimeout bounds reading a request and writing an answer.
const ioTimeout = 2 * time.Second

// Serve answers connections on ln until ctx ends, then waits for the
// snapshots under way.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	s.once.Do(func() { s.busy = make(chan struct{}, max(1, s.MaxBusy)) })
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	conns := make(chan struct{}, maxConns)
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			// Out of descriptors or memory, a timeout: wait and go on;
			// the collector must outlive a bad moment.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		select {
		case conns <- struct{}{}:
		default:
			c.Close() // only the daemon's uid can connect; it never opens this many
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-conns }()
			defer c.Close()
			s.answer(ctx, c)
		}()
	}
}

// maxConns bounds the connections served at once; each holds a request
// buffer of MaxRequestLen.
const maxConns = 64

// PeerUID returns the uid of the process at the other end of c.
func PeerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, serr
	}
	return int(cred.Uid), nil
}

func (s *Server) answer(ctx context.Context, c *net.UnixConn) {
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	refuse := func(uid int, reason string) {
		if s.Refused != nil {
			s.Refused(uid, reason)
		}
		writeAnswer(c, report.Evidence{Status: report.EvidenceFailed, Reason: "the collector refused: " + reason})
	}
	uid, err := PeerUID(c)
	if err != nil {
		refuse(-1, "no peer credentials")
		return
	}
	if uid != s.AllowUID {
		refuse(uid, fmt.Sprintf("uid %d may not ask", uid))
		return
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c, MaxRequestLen), MaxRequestLen).ReadSlice('\n')
	if err != nil {
		refuse(uid, "no request line within the size and time limits")
		return
	}
	var r Request
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		refuse(uid, "malformed request")
		return
	}
	if err := r.Validate(); err != nil {
		refuse(uid, err.Error())
		return
	}
	select {
	case s.busy <- struct{}{}:
		defer func() { <-s.busy }()
	default:
		writeAnswer(c, report.Evidence{Status: report.EvidenceSkipped, PID: r.PID, Reason: "the collector was busy with other snapshots"})
		return
	}
	ev := Take(ctx, r, s.Limits)
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	writeAnswer(c, ev)
}

func writeAnswer(c net.Conn, ev report.Evidence) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	_, _ = c.Write(append(b, '\n'))
}

// MaxAnswerLen bounds an answer read by the client.
const MaxAnswerLen = 8 << 20

// Client asks the collector at Socket for snapshots.
type Client struct {
	Socket string
	// Timeout bounds one request, connection to answer: the collector's
	// budget and some slack.
	Timeout time.Duration
}

// Take asks for a snapshot. It never fails: what went wrong is in the
// answer's status and reason.
func (c *Client) Take(ctx context.Context, r Request) report.Evidence {
	failed := func(err error) report.Evidence {
		return report.Evidence{Status: report.EvidenceFailed, PID: r.PID, Reason: "the collector could not be asked: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return failed(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A daemon that stops does not wait for the answer.
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })()
	b, err := json.Marshal(r)
	if err != nil {
		return failed(err)
	}
	// A refusal may come, and the collector hang up, before the request
	// is read: the answer tells more than the failed write.
	_, werr := conn.Write(append(b, '\n'))
	var ev report.Evidence
	if err := json.NewDecoder(io.LimitReader(conn, MaxAnswerLen)).Decode(&ev); err != nil {
		if werr != nil {
			return failed(werr)
		}
		return failed(fmt.Errorf("answer: %w", err))
	}
	switch ev.Status {
	case report.EvidenceTaken, report.EvidenceExited, report.EvidencePIDReused, report.EvidenceSkipped, report.EvidenceFailed:
	default:
		return failed(fmt.Errorf("answer with unknown status %q", ev.Status))
	}
	return ev
}
