package stream

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
)

// HTTP defaults. The body limit is the one every input has.
const (
	DefaultHTTPListen  = "127.0.0.1:2801"
	DefaultHTTPPath    = "/"
	DefaultHTTPMaxBody = event.MaxAlertBytes
)

// DefaultAllowedUIDs may post on a loopback or unix address: Falco runs as
// root.
var DefaultAllowedUIDs = []uint32{0}

// Bodies larger than smallBody are read at most bigBodies at a time, so
// that many concurrent posts of the largest size cannot exhaust memory.
const (
	smallBody = 1 << 20
	bigBodies = 2
)

// healthPath answers GET with 200 "ok" for probes.
const healthPath = "/healthz"

// httpShutdownTimeout bounds the wait for requests in flight at shutdown.
const httpShutdownTimeout = 3 * time.Second

// HTTPOptions configures the HTTP input.
type HTTPOptions struct {
	// Listen is host:port or unix:///path; DefaultHTTPListen if empty,
	// port 0 picks one. Any address but loopback or unix needs ClientCA.
	Listen   string
	Path     string // where alerts are POSTed or PUT; DefaultHTTPPath if empty
	MaxBody  int64  // largest body accepted, after gzip; DefaultHTTPMaxBody if 0
	TLSCert  string // PEM certificate file; with TLSKey turns on HTTPS
	TLSKey   string // PEM private key file
	ClientCA string // PEM CA bundle; requires and verifies client certificates
	// AllowedUIDs may post on a loopback or unix address, checked against
	// the kernel's record of who opened the connection;
	// DefaultAllowedUIDs if nil.
	AllowedUIDs []uint32
	Logger      zerolog.Logger
	OnDrop      func(reason string) // told of every alert refused; may be nil
}

// HTTP receives alerts POSTed by Falco's http_output or by Falcosidekick's
// webhook output, one JSON alert per request.
type HTTP struct {
	opts     HTTPOptions
	kind     config.ListenKind
	network  string // "tcp" or "unix"
	address  string // what to listen on
	tls      *tls.Config
	big      chan struct{} // a slot per body over smallBody being read
	log      zerolog.Logger
	ready    chan struct{}
	once     sync.Once
	mu       sync.Mutex
	addr     net.Addr
	overload logEvery // pipeline full
	rejected logEvery // refused requests
	denied   logEvery // posts from peers not allowed
	server   logEvery // net/http's own messages
}

// NewHTTP checks opts, fills in defaults and loads the TLS files, so that a
// wrong configuration fails before anything runs.
func NewHTTP(opts HTTPOptions) (*HTTP, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultHTTPListen
	}
	if opts.Path == "" {
		opts.Path = DefaultHTTPPath
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultHTTPMaxBody
	}
	if opts.OnDrop == nil {
		opts.OnDrop = func(string) {}
	}
	if opts.AllowedUIDs == nil {
		opts.AllowedUIDs = DefaultAllowedUIDs
	}
	if !strings.HasPrefix(opts.Path, "/") || opts.Path == healthPath {
		return nil, fmt.Errorf("http path %q: must start with / and not be %s", opts.Path, healthPath)
	}
	l, err := config.ParseListen(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("http %w", err)
	}
	if l.Kind == config.ListenNetwork && opts.ClientCA == "" {
		return nil, fmt.Errorf("http listen address %s is not loopback: anyone who reaches it could forge alerts; "+
			"require client certificates (TLS cert, key and client CA; Falco's http_output.mtls)", opts.Listen)
	}
	cfg, err := httpTLSConfig(opts)
	if err != nil {
		return nil, err
	}
	return &HTTP{
		opts:     opts,
		kind:     l.Kind,
		network:  l.Network,
		address:  l.Address,
		tls:      cfg,
		big:      make(chan struct{}, bigBodies),
		log:      opts.Logger.With().Str("input", "http").Logger(),
		ready:    make(chan struct{}),
		overload: logEvery{every: time.Minute},
		rejected: logEvery{every: time.Minute},
		denied:   logEvery{every: time.Minute},
		server:   logEvery{every: time.Minute},
	}, nil
}

// httpTLSConfig builds the server's TLS configuration, or nil for plain HTTP.
func httpTLSConfig(o HTTPOptions) (*tls.Config, error) {
	if o.TLSCert == "" && o.TLSKey == "" {
		if o.ClientCA != "" {
			return nil, errors.New("http client CA: needs a TLS certificate and key")
		}
		return nil, nil
	}
	if o.TLSCert == "" || o.TLSKey == "" {
		return nil, errors.New("http TLS: needs both a certificate and a key")
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("http TLS key pair: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if o.ClientCA != "" {
		pem, err := os.ReadFile(o.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("http client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http client CA %s: no PEM certificate", o.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Name returns "http".
func (h *HTTP) Name() string { return "http" }

// Ready is closed once Run listens, or once Run failed to listen.
func (h *HTTP) Ready() <-chan struct{} { return h.ready }

// Addr returns the address Run listens on, or nil before Ready is closed
// and when listening failed.
func (h *HTTP) Addr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// Run serves until ctx ends, then shuts down gracefully and returns nil.
// It returns an error when it cannot listen, e.g. the address is in use.
func (h *HTTP) Run(ctx context.Context, sink Sink) error {
	defer h.once.Do(func() { close(h.ready) })
	ln, err := h.listen(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.addr = ln.Addr()
	h.mu.Unlock()
	srv := &http.Server{
		Handler:           &httpHandler{h: h, sink: sink},
		ConnContext:       peerContext,
		TLSConfig:         h.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(serverLogWriter{h}, "", 0),
	}
	done := make(chan error, 1)
	go func() {
		if h.tls != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	log := h.log.Info().Str("listen", ln.Addr().String()).Str("path", h.opts.Path).
		Bool("tls", h.tls != nil).Bool("client_cert", h.opts.ClientCA != "")
	if h.kind != config.ListenNetwork {
		log = log.Uints32("allowed_uids", h.opts.AllowedUIDs)
	}
	log.Msg("listening for alerts")
	h.once.Do(func() { close(h.ready) })
	select {
	case err := <-done:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

// listen opens the listener. A socket left behind by a reporter that died
// is replaced; the socket's mode lets any local user connect, because
// every connection's uid is then checked against AllowedUIDs.
func (h *HTTP) listen(ctx context.Context) (net.Listener, error) {
	if h.network == "unix" {
		if fi, err := os.Lstat(h.address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", h.address); err == nil {
				c.Close()
				return nil, fmt.Errorf("http listen: %s: another process serves this socket", h.address)
			}
			if err := os.Remove(h.address); err != nil {
				return nil, fmt.Errorf("http listen: remove stale socket: %w", err)
			}
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, h.network, h.address)
	if err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	if h.network == "unix" {
		if err := os.Chmod(h.address, 0o666); err != nil {
			ln.Close()
			return nil, fmt.Errorf("http listen: %w", err)
		}
	}
	return ln, nil
}

// serverLogWriter sends net/http's own messages (TLS handshake failures,
// recovered panics) to the logger, at most one a minute.
type serverLogWriter struct{ h *HTTP }

func (w serverLogWriter) Write(p []byte) (int, error) {
	if ok, n := w.h.server.allow(time.Now()); ok {
		w.h.log.Warn().Int("suppressed", n).Msg(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// httpHandler serves the alert path and the health check.
type httpHandler struct {
	h    *HTTP
	sink Sink
}

// httpError is a refusal to send back to the client.
type httpError struct {
	code int
	msg  string
}

func (hh *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			hh.h.log.Error().Str("panic", fmt.Sprint(v)).Msg("recovered from a panic in the http input")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	switch r.URL.Path {
	case hh.h.opts.Path:
		// falcosidekick's webhook.method may be PUT.
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "method not allowed: POST (or PUT) one JSON alert", http.StatusMethodNotAllowed)
			return
		}
		if !hh.allowed(w, r) {
			return
		}
		hh.post(w, r)
	case healthPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	default:
		http.NotFound(w, r)
	}
}

// allowed checks who is posting: on a loopback or unix address the uid
// of the process that opened the connection must be allowed (on any other
// address, TLS has already required a client certificate). A refusal is
// answered 403, counted and logged.
func (hh *httpHandler) allowed(w http.ResponseWriter, r *http.Request) bool {
	if hh.h.kind == config.ListenNetwork {
		return true
	}
	uid, err := peerUID(r.Context())
	if err == nil && allowedUID(hh.h.opts.AllowedUIDs, uid) {
		return true
	}
	hh.h.opts.OnDrop(DropHTTPForbidden)
	if ok, n := hh.h.denied.allow(time.Now()); ok {
		ev := hh.h.log.Warn().Str("remote", r.RemoteAddr).Int("suppressed", n)
		if err != nil {
			ev.Err(err).Msg("refused a post: cannot tell which user sent it")
		} else {
			ev.Uint32("uid", uid).Uints32("allowed_uids", hh.h.opts.AllowedUIDs).Msg("refused a post from a user not in falco.http.allowed_uids")
		}
	}
	http.Error(w, "forbidden: this user may not post alerts (falco.http.allowed_uids)", http.StatusForbidden)
	return false
}

// post accepts one alert.
func (hh *httpHandler) post(w http.ResponseWriter, r *http.Request) {
	a, herr := hh.read(w, r)
	if herr != nil {
		hh.h.opts.OnDrop(DropHTTPRejected)
		if ok, n := hh.h.rejected.allow(time.Now()); ok {
			hh.h.log.Warn().Int("status", herr.code).Str("reason", herr.msg).
				Str("remote", r.RemoteAddr).Int("suppressed", n).Msg("refused a POST")
		}
		http.Error(w, herr.msg, herr.code)
		return
	}
	if !hh.sink.Offer(a) {
		hh.h.opts.OnDrop(DropHTTPOverload)
		if ok, n := hh.h.overload.allow(time.Now()); ok {
			hh.h.log.Warn().Int("suppressed", n).Msg("pipeline full: answering 503 and dropping alerts")
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "pipeline full, alert dropped", http.StatusServiceUnavailable)
		return
	}
	// 200 with an empty body: falcosidekick closes each response unread,
	// and a body would stop it from reusing the connection; Falco's
	// libcurl prints any body to its stdout with http_output.echo.
	w.WriteHeader(http.StatusOK)
}

// read checks the headers, reads the body within the size limit and parses
// the alert.
func (hh *httpHandler) read(w http.ResponseWriter, r *http.Request) (event.Alert, *httpError) {
	if herr := checkContentType(r.Header.Get("Content-Type")); herr != nil {
		return event.Alert{}, herr
	}
	max := hh.h.opts.MaxBody
	if r.ContentLength > max {
		return event.Alert{}, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", max)}
	}
	if r.ContentLength < 0 || r.ContentLength > smallBody {
		select {
		case hh.h.big <- struct{}{}:
			defer func() { <-hh.h.big }()
		case <-r.Context().Done():
			return event.Alert{}, &httpError{http.StatusServiceUnavailable, "stopping"}
		}
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, max)
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		// Falco's compress_uploads does not compress the body (it sets
		// libcurl's CURLOPT_TRANSFER_ENCODING, which asks for a compressed
		// response), but a proxy or another forwarder may gzip it.
		zr, err := gzip.NewReader(body)
		if err != nil {
			return event.Alert{}, bodyError(err, max, true)
		}
		defer zr.Close()
		body, gzipped = io.LimitReader(zr, max+1), true
	default:
		return event.Alert{}, &httpError{http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Encoding %q: send the body plain or gzip", enc)}
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return event.Alert{}, bodyError(err, max, gzipped)
	}
	if int64(len(data)) > max {
		return event.Alert{}, &httpError{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body larger than %d bytes after decompression", max)}
	}
	a, err := event.ParseJSON(data)
	if err != nil {
		return event.Alert{}, &httpError{http.StatusBadRequest, err.Error()}
	}
	return a, nil
}

// bodyError maps an error reading the body to a refusal.
func bodyError(err error, max int64, gzipped bool) *httpError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", max)}
	}
	if gzipped {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("invalid gzip body: %v", err)}
	}
	return &httpError{http.StatusBadRequest, fmt.Sprintf("reading body: %v", err)}
}

// checkContentType accepts JSON and a missing Content-Type. Falco sends
// text/plain when json_output is off; its alerts then carry no fields.
func checkContentType(ct string) *httpError {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("invalid Content-Type %q", ct)}
	}
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return nil
	case mt == "text/plain":
		return &httpError{http.StatusUnsupportedMediaType,
			"Content-Type text/plain: Falco sends JSON alerts only with json_output: true; set json_output: true in falco.yaml"}
	}
	return &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: POST one JSON alert as application/json", mt)}
}
