package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// Defaults of GRPCOptions.
const (
	DefaultPollInterval = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
)

const (
	// grpcFirstBackoff is the longest wait before the first retry.
	grpcFirstBackoff = 100 * time.Millisecond
	// grpcSettle is how long a new stream must live, or else deliver an
	// alert, before it counts as connected. Falco answers a refused or
	// unimplemented subscription at once, so this keeps a server that
	// accepts and drops every stream from being logged as connected.
	grpcSettle = 500 * time.Millisecond
)

// GRPCOptions configures the gRPC input.
type GRPCOptions struct {
	// Address is Falco's grpc.bind_address: unix:///path or host:port.
	Address string
	// Cert, Key and CA are PEM files for mutual TLS, needed over TCP.
	Cert, Key, CA string
	// PollInterval is how often a request is sent on the stream: Falco
	// sends what it has queued only in answer to a request.
	PollInterval time.Duration
	// MaxBackoff caps the wait between reconnect attempts (at most 30 s).
	MaxBackoff time.Duration
	// Logger receives one line per change of state.
	Logger zerolog.Logger
	// OnState, if set, is called on each change of state.
	OnState StateFunc
	// OnDrop, if set, is told of an alert lost because it was larger than
	// event.MaxAlertBytes.
	OnDrop func(reason string)
}

// GRPC subscribes to Falco's gRPC outputs API (Falco 0.43 and older).
type GRPC struct {
	opts       GRPCOptions
	target     falcoTarget
	settle     time.Duration
	beat       time.Duration // heartbeat interval
	beatWait   time.Duration // how long Falco may take to answer one
	state      atomic.Int32
	connects   atomic.Uint64
	stateMu    sync.Mutex // stateMu orders state changes with their logs.
	stateKnown bool
	down       downLog
}

var _ Source = (*GRPC)(nil)

// NewGRPC checks opts and returns the input. A TCP address needs the
// certificate, key and CA files, and they must be loadable now.
func NewGRPC(opts GRPCOptions) (*GRPC, error) {
	target, err := parseGRPCAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	if !target.unix {
		if _, err := grpcClientTLS(opts.Cert, opts.Key, opts.CA, target.host); err != nil {
			return nil, err
		}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MaxBackoff <= 0 || opts.MaxBackoff > DefaultMaxBackoff {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	return &GRPC{opts: opts, target: target, settle: grpcSettle, beat: grpcHeartbeat, beatWait: grpcHeartbeatTimeout}, nil
}

// Name returns "grpc".
func (g *GRPC) Name() string { return "grpc" }

// State returns the current connection state.
func (g *GRPC) State() State { return State(g.state.Load()) }

// Reconnects returns how many times the input connected again after its
// first connection: each one is a Falco restart or a broken connection.
func (g *GRPC) Reconnects() uint64 {
	if n := g.connects.Load(); n > 1 {
		return n - 1
	}
	return 0
}

// Run subscribes to Falco and delivers alerts to sink until ctx ends. Falco
// being absent, restarting, refusing our certificate or ending the stream
// is retried with backoff, never returned.
func (g *GRPC) Run(ctx context.Context, sink Sink) error {
	g.setState(StateConnecting, nil)
	bo := newBackoff(grpcFirstBackoff, g.opts.MaxBackoff)
	for {
		healthy, err := g.attempt(ctx, sink)
		if ctx.Err() != nil {
			return nil
		}
		if status.Code(err) == codes.ResourceExhausted && g.opts.OnDrop != nil {
			g.opts.OnDrop(DropTooLarge)
		}
		if healthy {
			bo.reset()
		}
		g.setState(StateDisconnected, err)
		if !waitBackoff(ctx, bo.next()) {
			return nil
		}
	}
}

// attempt makes one connection and runs one subscription on it. It reports
// whether the stream became healthy, and why it ended.
func (g *GRPC) attempt(ctx context.Context, sink Sink) (bool, error) {
	creds, err := g.target.credentials(g.opts.Cert, g.opts.Key, g.opts.CA)
	if err != nil {
		return false, err
	}
	conn, err := g.target.dial(creds)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	return g.subscribe(ctx, conn, sink)
}

// setState records a change of state, logs it once and tells OnState.
// While Falco stays unreachable, the reason is logged again when it
// changes and at least every grpcRepeatLog, so that a retry loop is never
// silent.
func (g *GRPC) setState(s State, reason error) {
	g.stateMu.Lock()
	defer g.stateMu.Unlock()
	log := g.opts.Logger.With().Str("input", g.Name()).Str("address", g.opts.Address).Logger()
	if g.stateKnown && g.State() == s {
		if s == StateDisconnected {
			g.stillDown(log, reason)
		}
		return
	}
	prev := g.State()
	g.stateKnown = true
	g.state.Store(int32(s))
	switch s {
	case StateConnecting:
		log.Info().Msg("connecting to falco")
	case StateConnected:
		if n := g.connects.Add(1); n > 1 {
			log.Info().Uint64("reconnects", n-1).Msg("reconnected to falco")
		} else {
			log.Info().Msg("connected to falco")
		}
	case StateDisconnected:
		msg := "lost connection to falco, reconnecting"
		if prev == StateConnecting {
			msg = "cannot reach falco, retrying"
		}
		g.down = downLog{kind: reasonKind(reason), at: time.Now()}
		level(log, reason).Str("reason", grpcReason(reason)).Msg(msg)
	}
	if g.opts.OnState != nil {
		g.opts.OnState(g.Name(), s)
	}
}

// While disconnected, an unchanged kind of reason is logged again after
// grpcRepeatLog, a new one after grpcNewReasonLog (reasons can alternate
// from one attempt to the next).
const (
	grpcRepeatLog    = 5 * time.Minute
	grpcNewReasonLog = time.Minute
)

// downLog is what was last logged about being disconnected.
type downLog struct {
	kind     string // reasonKind of the reason logged
	at       time.Time
	attempts int // failed attempts since then
}

// stillDown logs another failed attempt if its kind of reason is new or
// the last log is old, and never more than once a minute. Kinds, not messages, are compared: a refused
// certificate shows up as "bad certificate" once and "broken pipe" the
// next time.
func (g *GRPC) stillDown(log zerolog.Logger, err error) {
	g.down.attempts++
	since := time.Since(g.down.at)
	if since < grpcNewReasonLog || (reasonKind(err) == g.down.kind && since < grpcRepeatLog) {
		return
	}
	level(log, err).Str("reason", grpcReason(err)).Int("attempts", g.down.attempts).Msg("still cannot reach falco, retrying")
	g.down = downLog{kind: reasonKind(err), at: time.Now()}
}

// reasonKind groups reasons that call for the same action.
func reasonKind(err error) string {
	switch {
	case err == nil:
		return "unknown"
	case IsCertificateError(err):
		return "certificate"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, errSilent):
		return "silent"
	}
	return status.Code(err).String()
}

// level is Error for a problem that retrying cannot fix (a certificate
// Falco or we refuse), Warn otherwise.
func level(log zerolog.Logger, err error) *zerolog.Event {
	if IsCertificateError(err) {
		return log.Error()
	}
	return log.Warn()
}

// IsCertificateError reports whether err is a TLS certificate problem
// between falco-reporter and Falco, which only a configuration change
// fixes.
func IsCertificateError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "x509: ") || strings.Contains(err.Error(), "tls: "))
}

// grpcReason explains why a subscription ended, for the log.
func grpcReason(err error) string {
	if err == nil {
		return "unknown"
	}
	msg := err.Error()
	switch {
	case errors.Is(err, io.EOF):
		return "falco ended the stream (restarting?)"
	case status.Code(err) == codes.Unimplemented:
		return fmt.Sprintf("%v (is grpc_output enabled? Falco 0.44 and later have no gRPC output)", err)
	case status.Code(err) == codes.ResourceExhausted:
		return fmt.Sprintf("%v (an alert larger than %d MiB, the largest any input accepts; it is lost)", err, event.MaxAlertBytes>>20)
	case strings.Contains(msg, "legacy Common Name"):
		return msg + ": Falco's server certificate names its host only in the Common Name, with no subjectAltName, " +
			"and Go's TLS refuses such certificates (Falco's documented openssl commands make one). " +
			"Issue Falco a server certificate with subjectAltName=DNS:<the host in falco.grpc.address> " +
			"(or IP:<address>): see the README, \"Falco's server certificate\""
	case strings.Contains(msg, "x509: certificate is valid for"):
		return msg + ": the host part of falco.grpc.address must be a name or address in Falco's server certificate"
	case strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return msg + ": falco.grpc.ca is not the CA that signed Falco's server certificate"
	case strings.Contains(msg, "tls: ") && strings.Contains(msg, "certificate"):
		return msg + ": Falco refused our client certificate (falco.grpc.cert), or ours is not valid: it must be signed by the CA in Falco's grpc.root_certs"
	}
	return msg
}
