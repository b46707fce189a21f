package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/app"
	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/demo"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// cmdDemo starts a Falco-compatible gRPC server on a temporary unix
// socket, queues the built-in alerts on it, and runs the real pipeline
// against it until every alert is reported.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flags("demo", stderr)
	dir := fs.String("dir", "./falco-reports", "where to write the reports")
	if fs.Parse(args) != nil {
		return 2
	}
	if err := runDemo(*dir, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "falco-reporter demo:", err)
		return 1
	}
	return 0
}

func runDemo(dir string, stdout, stderr io.Writer) error {
	alerts, err := demo.Alerts()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "falco-reporter-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	falco := falcotest.New()
	sock, err := falco.ListenUnix(filepath.Join(tmp, "falco.sock"))
	if err != nil {
		return fmt.Errorf("start fake Falco: %w", err)
	}
	defer falco.Stop()
	for _, a := range alerts {
		falco.Enqueue(falcotest.AlertToResponse(a))
	}

	cfg := config.Defaults()
	grpc := config.DefaultGRPC()
	grpc.Address = sock // already unix:///path
	grpc.PollInterval = 20 * time.Millisecond
	cfg.Falco.GRPC = grpc
	cfg.Reports.Dir = dir
	cfg.Reports.Formats = []string{"markdown", "json", "html"}
	cfg.Reports.Retention.MaxAge = 0 // the demo's alerts are from 2026-04-02
	cfg.StateDir = filepath.Join(tmp, "state")
	cfg.Incidents.Window = time.Second
	cfg.Journal.Reports = false

	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, TimeFormat: "15:04:05"}).With().Timestamp().Logger().Level(zerolog.WarnLevel)
	var mu sync.Mutex
	type row struct{ prio, rule, id, path string }
	var rows []row
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	written := func(r *report.Report, path string) {
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, row{r.Priority, r.Rule, r.ID, path})
		if len(rows) == len(alerts) {
			close(done)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx, &cfg, app.Options{Logger: log, Written: written}) }()
	select {
	case <-done:
	case err := <-errc:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("timed out: %d of %d alerts reported", len(rows), len(alerts))
	}
	cancel()
	if err := <-errc; err != nil {
		return err
	}

	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(stdout, "falco-reporter demo: a fake Falco sent %d alerts over gRPC; %d reports written to %s\n\n", len(alerts), len(rows), abs)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRIORITY\tRULE\tREPORT")
	mu.Lock()
	for _, r := range rows {
		rel, err := filepath.Rel(dir, r.path)
		if err != nil {
			rel = r.path
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.prio, safe.Line(r.rule), rel)
	}
	mu.Unlock()
	tw.Flush()
	// The hint names the directory as given, quoted for the shell: it may
	// hold spaces.
	q := safe.ShellQuote(dir)
	fmt.Fprintf(stdout, "\nList them:     falco-reporter list --dir %s\n", q)
	fmt.Fprintf(stdout, "Read one:      falco-reporter show --dir %s %s\n", q, rows[0].id)
	fmt.Fprintf(stdout, "In a browser:  %s\n", (&url.URL{Scheme: "file", Path: filepath.Join(abs, "index.html")}).String())
	return nil
}
