// Package app wires the pipeline together and runs it: inputs, the
// bounded queue, the writer that builds, folds and stores reports, the
// journal, metrics, reload and shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/htmlindex"
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
	// noCheckpoint makes the run end as a crash would, for tests: no
	// checkpoint is written, so the spool is never trimmed.
	noCheckpoint bool
	// evidence, if set, takes snapshots instead of the collector (tests).
	evidence takeFunc
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
	metrics := NewMetrics()
	badDay := func(day, dir string, err error) {
		log.Error().Err(err).Str("day", day).Str("fallback_dir", dir).
			Msg("the day directory is not a directory of ours (a symlink or a file?); that day's reports go to the fallback directory")
	}
	st, err := store.Open(store.Options{Dir: cfg.Reports.Dir, OnBadDay: badDay, Retention: store.Retention{
		MaxAge: cfg.Reports.Retention.MaxAge, MaxReports: cfg.Reports.Retention.MaxFiles, MaxBytes: int64(cfg.Reports.Retention.MaxBytes),
	}})
	if err != nil {
		return fmt.Errorf("reports directory: %w", err)
	}
	defer st.Close()

	sp, err := spool.Open(spool.Options{Dir: filepath.Join(cfg.StateDir, "spool"), MaxBytes: int64(cfg.Spool.MaxBytes), Logger: log})
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer sp.Close()
	ckpt, err := newCheckpointer(cfg.StateDir, st.Dir())
	if err != nil {
		return err
	}
	ckpt.off = opts.noCheckpoint

	if opts.metricsOut != nil {
		opts.metricsOut <- metrics
	}
	var tablePtr atomic.Pointer[rules.Table]
	tablePtr.Store(table)
	run := time.Now().UnixNano()
	q := newQueue(cfg.Queue.Size, sp, run, metrics, log)
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

	written := opts.Written
	var pages *htmlindex.Index // index.html, with the html format
	if slices.Contains(cfg.Reports.Formats, "html") {
		pages = htmlindex.New(st.Dir(), cfg.Reports.Retention.MaxAge, log)
		written = func(r *report.Report, path string) {
			pages.Changed()
			if opts.Written != nil {
				opts.Written(r, path)
			}
		}
		pagesCtx, stopPages := context.WithCancel(context.Background())
		pagesDone := make(chan struct{})
		go func() { defer close(pagesDone); pages.Run(pagesCtx) }()
		defer func() {
			stopPages()
			<-pagesDone
			if err := pages.Flush(); err != nil {
				log.Warn().Err(err).Msg("index.html not written at shutdown")
			}
		}()
	}

	w := &writer{
		store: st, table: &tablePtr, formats: cfg.Reports.Formats, journal: jr, reportJSON: cfg.Journal.ReportJSON, log: log,
		metrics: metrics, window: cfg.Incidents.Window, update: cfg.Incidents.UpdateInterval,
		stormIncidents: cfg.Incidents.Storm.Incidents, stormWindow: cfg.Incidents.Storm.Window,
		now: time.Now, healthy: healthy, written: written, spool: sp, ckpt: ckpt, queue: q,
		fromDisk: true, runID: run, onLoop: watchdog(opts.Notifier, log),
	}
	w.newState()
	if err := w.load(cfg.StateDir); err != nil {
		return err
	}
	w.reader = sp.NewReader(w.next)
	if cfg.Evidence.Enabled || opts.evidence != nil {
		take := opts.evidence
		if take == nil {
			c := &evidence.Client{Socket: cfg.Evidence.Socket, Timeout: cfg.Evidence.Timeout}
			take = c.Take
		}
		w.evidenceGrace = min(cfg.Evidence.Timeout, 2*time.Second)
		w.asker = newEvidenceAsker(take, q, &tablePtr, max(cfg.Evidence.PerSecond, 1), cfg.Incidents.Window,
			cfg.Incidents.Storm.Incidents, cfg.Incidents.Storm.Window)
		q.asker = w.asker
		askCtx, stopAsking := context.WithCancel(context.Background())
		w.asker.start(askCtx)
		// Runs after the writer has returned (deferred later, run first),
		// and before the spool closes.
		defer func() { stopAsking(); w.asker.wg.Wait() }()
	}

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
	var stopBy atomic.Int64
	go func() {
		defer close(writerDone)
		w.run(&stopBy)
	}()

	// The inputs start at once: what the spool holds from before the last
	// stop is applied first, and new alerts wait behind it in the spool.
	inputs, stopInputs := context.WithCancel(context.Background())
	defer stopInputs()
	g, gctx := errgroup.WithContext(inputs)
	for _, s := range sources {
		g.Go(func() error {
			if err := s.Run(gctx, recovering{q.input(s.Name())}); err != nil {
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

	// Shutdown, last in first out: stop the inputs, apply what the spool
	// holds, write every report with unwritten alerts, checkpoint.
	_ = opts.Notifier.Stopping()
	log.Info().Msg("stopping: writing what was received")
	stopInputs()
	deadline := time.After(ShutdownTimeout)
	drainBy := time.Now().Add(ShutdownTimeout - time.Second)
	if ctx.Err() == nil && runErr == nil {
		// Every input ended by itself (ingest): take the time to write all.
		deadline = nil
		drainBy = time.Time{}
	}
	select {
	case <-waitGroup(g):
	case <-deadline:
		log.Warn().Msg("inputs did not stop in time")
	}
	if !drainBy.IsZero() {
		stopBy.Store(drainBy.UnixNano())
	}
	q.close()
	select {
	case <-writerDone:
	case <-deadline:
		log.Error().Msg("shutdown deadline passed while writing reports; what was not written is in the spool for the next start")
	}
	return runErr
}

// load restores the writer's state from the checkpoint in stateDir, if
// there is one, and sets where in the spool to go on.
func (w *writer) load(stateDir string) error {
	wm := w.spool.Stats().Watermark
	ck, err := loadCheckpoint(stateDir)
	switch {
	case err == nil:
		if err := w.restore(ck); err != nil {
			w.log.Error().Err(err).Msg("checkpoint unusable; starting without it: alerts replayed from the spool may be counted again in new reports")
			w.newState()
			w.next = 0
		}
	case errors.Is(err, errNoCheckpoint):
	default:
		w.log.Error().Err(err).Msg("checkpoint unusable; starting without it: alerts replayed from the spool may be counted again in new reports")
	}
	w.next = max(w.next, wm+1)
	w.ckpt.applied = w.next - 1
	return nil
}

func waitGroup(g *errgroup.Group) <-chan struct{} {
	done := make(chan struct{})
	go func() { _ = g.Wait(); close(done) }()
	return done
}
