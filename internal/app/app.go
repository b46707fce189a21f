// Package app wires the pipeline together and runs it: inputs, the
// bounded queue, the writer that builds, folds and stores reports, the
// journal, metrics, reload and shutdown.
package app

import (
	"container/list"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/playbookdir"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/sdnotify"
	"github.com/falco-reporter/falco-reporter/internal/spool"
	"github.com/falco-reporter/falco-reporter/internal/store"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// ShutdownTimeout bounds the time from SIGTERM to exit.
const ShutdownTimeout = 4 * time.Second

// Options are what Run needs besides the configuration.
type Options struct {
	ConfigPath string          // re-read on reload; empty: reload does nothing
	Reload     <-chan struct{} // a value per SIGHUP
	Logger     zerolog.Logger
	Notifier   *sdnotify.Notifier // may be nil
	// Sources, if set, replace the inputs built from the configuration
	// (the demo and tests use this).
	Sources []stream.Source
	// Ready, if set, is closed once the reports directory is open.
	Ready chan<- struct{}
	// MetricsAddr, if set, receives the metrics listener's address.
	MetricsAddr *string
	// metricsOut, if set, receives the metrics (tests).
	metricsOut chan<- *Metrics
	// Written, if set, is told of every report written (the demo uses it).
	Written func(r *report.Report, path string)
}

// Run runs the daemon until ctx ends, then writes what it has received
// and returns nil. It returns an error only when it cannot start: the
// reports directory is unusable or locked, or an input cannot listen.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	table, err := playbookdir.Load(rules.Default(), cfg.Reports.PlaybooksDir)
	if err != nil {
		return fmt.Errorf("load playbooks: %w", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	unlock, err := store.Lock(cfg.Reports.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := store.Open(store.Options{Dir: cfg.Reports.Dir, Retention: store.Retention{
		MaxAge: cfg.Reports.Retention.MaxAge, MaxFiles: cfg.Reports.Retention.MaxFiles, MaxBytes: int64(cfg.Reports.Retention.MaxBytes),
	}})
	if err != nil {
		return fmt.Errorf("reports directory: %w", err)
	}
	defer st.Close()

	sp, err := spool.Open(spool.Options{Dir: filepath.Join(cfg.StateDir, "spool"), Logger: log})
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer sp.Close()

	metrics := NewMetrics()
	if opts.metricsOut != nil {
		opts.metricsOut <- metrics
	}
	var tablePtr atomic.Pointer[rules.Table]
	tablePtr.Store(table)
	q := newQueue(cfg.Queue.Size, sp, metrics, log)
	healthy := &atomic.Bool{}
	healthy.Store(true)

	health := newHealth()
	sources := opts.Sources
	if sources == nil {
		sources, err = buildSources(cfg, log, metrics, health, opts.Notifier)
		if err != nil {
			return err
		}
	}

	var jr *journal.Reporter
	if cfg.Journal.Reports {
		if jr, err = journal.NewReporter(); err != nil {
			log.Info().Msg("no journald socket: reports get no journal entries")
			jr = nil
		}
	}

	w := &writer{
		store: st, table: &tablePtr, formats: cfg.Reports.Formats, journal: jr, log: log,
		metrics: metrics, window: cfg.Incidents.Window, update: cfg.Incidents.UpdateInterval,
		now: time.Now, healthy: healthy, open: map[string]*incident{}, byAge: list.New(), written: opts.Written, spool: sp,
	}
	pinger := watchdog(opts.Notifier, log)
	w.onLoop = pinger

	if cfg.Metrics.Listen != "" {
		srv, err := serveMetrics(cfg.Metrics.Listen, metrics, healthy, health)
		if err != nil {
			return err
		}
		defer srv.Close()
		if opts.MetricsAddr != nil {
			*opts.MetricsAddr = srv.Addr
		}
	}
	log.Info().Str("reports_dir", st.Dir()).Int("handlers", len(table.Entries())).Msg("falco-reporter started")
	_ = opts.Notifier.Ready()
	if opts.Ready != nil {
		close(opts.Ready)
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.run(q)
	}()

	// Alerts received before a crash come first, then the inputs start.
	replayed, err := replay(ctx, sp, q)
	if err != nil {
		log.Error().Err(err).Msg("spool replay incomplete")
	}
	if replayed > 0 {
		log.Info().Int("alerts", replayed).Msg("replayed alerts received before the last stop")
	}
	inputs, stopInputs := context.WithCancel(context.Background())
	defer stopInputs()
	g, gctx := errgroup.WithContext(inputs)
	for _, s := range sources {
		g.Go(func() error {
			if err := s.Run(gctx, q); err != nil {
				return fmt.Errorf("input %s: %w", s.Name(), err)
			}
			return nil
		})
	}

	inputErr := make(chan error, 1)
	go func() { inputErr <- g.Wait() }()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-inputErr:
			if err != nil {
				runErr = err
				break loop
			}
			inputErr = nil // every input ended by itself (ingest-like sources)
			if opts.Sources != nil {
				break loop
			}
		case <-opts.Reload:
			reload(opts.ConfigPath, cfg, &tablePtr, opts.Notifier, log)
		}
	}

	// Shutdown, last in first out: stop the inputs, drain the queue into
	// reports, close every incident, write.
	_ = opts.Notifier.Stopping()
	log.Info().Msg("stopping: writing what was received")
	stopInputs()
	deadline := time.After(ShutdownTimeout)
	if ctx.Err() == nil && runErr == nil {
		// Every input ended by itself (ingest): take the time to write all.
		deadline = nil
	}
	select {
	case <-waitGroup(g):
	case <-deadline:
		log.Warn().Msg("inputs did not stop in time")
	}
	q.close()
	select {
	case <-writerDone:
	case <-deadline:
		log.Error().Int("alerts", len(q.ch)).Msg("shutdown deadline passed before every alert was written; they stay in the spool for the next start")
	}
	return runErr
}

// replay queues every alert the spool holds from before the last stop.
func replay(ctx context.Context, sp *spool.Spool, q *queue) (int, error) {
	n := 0
	err := sp.Replay(func(seq uint64, payload []byte) error {
		a, err := spool.DecodeAlert(payload)
		if err != nil {
			q.metrics.Drop("spool_undecodable")
			return nil
		}
		n++
		return q.replay(ctx, seq, a)
	})
	return n, err
}

func waitGroup(g *errgroup.Group) <-chan struct{} {
	done := make(chan struct{})
	go func() { _ = g.Wait(); close(done) }()
	return done
}

// run is the writer's loop: take alerts, fold, write in batches, tick.
func (w *writer) run(q *queue) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	backoff := time.Duration(0)
	var retryAt time.Time
	for {
		w.onLoop()
		if len(w.pending) > 0 && w.now().After(retryAt) {
			if err := w.flush(); err != nil {
				backoff = min(max(2*backoff, 250*time.Millisecond), 30*time.Second)
				retryAt = w.now().Add(backoff)
				if w.now().Sub(w.lastErr) >= time.Minute {
					w.lastErr = w.now()
					w.log.Error().Err(err).Dur("retry_in", backoff).Msg("cannot write reports; alerts are held in memory and retried")
				}
			} else if backoff > 0 {
				backoff = 0
				w.log.Info().Msg("writing reports again")
			}
		}
		// While writes fail, stop taking alerts: the queue fills and the
		// inputs push back (gRPC stops asking Falco, HTTP answers 503).
		in := q.ch
		if len(w.pending) > 0 && backoff > 0 {
			in = nil
		}
		select {
		case a, ok := <-in:
			if !ok {
				w.closeAll()
				if err := w.flush(); err != nil {
					// The alerts stay in the spool and are replayed at the next start.
					w.log.Error().Err(err).Int("reports", len(w.pending)).Msg("reports not written at shutdown; their alerts stay in the spool for the next start")
					return
				}
				w.lastTrim = time.Time{}
				w.trim()
				return
			}
			w.add(a)
		drain:
			for i := 1; i < maxBatch; i++ {
				select {
				case a, ok := <-q.ch:
					if !ok {
						break drain
					}
					w.add(a)
				default:
					break drain
				}
			}
		case <-tick.C:
			w.tick()
			w.trim()
			w.metrics.QueueDepth.Set(float64(len(q.ch)))
		}
	}
}

// watchdog returns the ping the writer's loop calls: it notifies systemd
// at half of WatchdogSec, so a wedged loop stops pinging.
func watchdog(n *sdnotify.Notifier, log zerolog.Logger) func() {
	every, ok := n.WatchdogInterval()
	if !ok {
		return func() {}
	}
	var last time.Time
	return func() {
		if time.Since(last) < every {
			return
		}
		last = time.Now()
		if err := n.Ping(); err != nil {
			log.Warn().Err(err).Msg("watchdog ping failed")
		}
	}
}

// reload re-reads the configuration and playbooks. A bad file is logged
// and the running configuration kept; a good one swaps the handler table.
func reload(path string, cur *config.Config, table *atomic.Pointer[rules.Table], n *sdnotify.Notifier, log zerolog.Logger) {
	if path == "" {
		return
	}
	_ = n.Reloading()
	defer func() { _ = n.Ready() }()
	next, err := config.Load(path)
	if err != nil {
		log.Error().Err(err).Msg("reload failed: keeping the running configuration")
		return
	}
	t, err := playbookdir.Load(rules.Default(), next.Reports.PlaybooksDir)
	if err != nil {
		log.Error().Err(err).Msg("reload failed: keeping the running configuration")
		return
	}
	table.Store(t)
	if lvl, err := zerolog.ParseLevel(next.Log.Level); err == nil {
		zerolog.SetGlobalLevel(lvl)
	}
	rest := *next
	rest.Reports.PlaybooksDir, rest.Log.Level = cur.Reports.PlaybooksDir, cur.Log.Level
	if !reflect.DeepEqual(&rest, cur) {
		log.Warn().Msg("reload applies playbooks and log.level; the other changes in the file take effect at the next restart")
	}
	log.Info().Int("handlers", len(t.Entries())).Msg("configuration and playbooks reloaded")
}

// buildSources makes the inputs the configuration asks for.
func buildSources(cfg *config.Config, log zerolog.Logger, m *Metrics, h *health, n *sdnotify.Notifier) ([]stream.Source, error) {
	var out []stream.Source
	onState := func(input string, s stream.State) {
		h.set(input, s)
		_ = n.Status("Falco " + input + " input " + s.String())
		m.StreamState.WithLabelValues(input).Set(float64(s))
		if s == stream.StateDisconnected {
			m.Reconnects.WithLabelValues(input).Inc()
		}
	}
	if g := cfg.Falco.GRPC; g != nil {
		s, err := stream.NewGRPC(stream.GRPCOptions{Address: g.Address, Cert: g.Cert, Key: g.Key, CA: g.CA,
			PollInterval: g.PollInterval, Logger: log.With().Str("input", "grpc").Logger(), OnState: onState})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if h := cfg.Falco.HTTP; h != nil {
		o := stream.HTTPOptions{Listen: h.Listen, Path: h.Path, MaxBody: int64(h.MaxBody),
			Logger: log.With().Str("input", "http").Logger(), OnDrop: m.Drop}
		if h.TLS != nil {
			o.TLSCert, o.TLSKey, o.ClientCA = h.TLS.Cert, h.TLS.Key, h.TLS.ClientCA
		}
		s, err := stream.NewHTTP(o)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if f := cfg.Falco.File; f != nil {
		s, err := stream.NewFile(stream.FileOptions{Path: f.Path, StateFile: filepath.Join(cfg.StateDir, "file-input.json"),
			Logger: log.With().Str("input", "file").Logger(), OnDrop: m.Drop})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// serveMetrics starts the /metrics and /healthz listener.
func serveMetrics(addr string, m *Metrics, healthy *atomic.Bool, h *health) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy: reports cannot be written", http.StatusServiceUnavailable)
			return
		}
		if input, d := h.unreachable(); d > UnreachableAfter {
			http.Error(w, fmt.Sprintf("unhealthy: Falco unreachable on input %s for %s", input, d.Round(time.Second)), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// UnreachableAfter is how long Falco may be unreachable before /healthz
// reports it.
const UnreachableAfter = time.Minute

// health tracks since when each input has been without Falco.
type health struct {
	mu   sync.Mutex
	down map[string]time.Time
}

func newHealth() *health { return &health{down: map[string]time.Time{}} }

func (h *health) set(input string, s stream.State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s == stream.StateConnected {
		delete(h.down, input)
	} else if _, ok := h.down[input]; !ok {
		h.down[input] = time.Now()
	}
}

// unreachable returns the input that has been without Falco longest.
func (h *health) unreachable() (string, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var worst string
	var d time.Duration
	for in, since := range h.down {
		if time.Since(since) > d {
			worst, d = in, time.Since(since)
		}
	}
	return worst, d
}
