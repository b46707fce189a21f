package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/app"
	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/playbookdir"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/ruleoutput"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
	"github.com/falco-reporter/falco-reporter/internal/sdnotify"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// defaultConfig is where the package installs the configuration.
const defaultConfig = "/etc/falco-reporter/falco-reporter.yaml"

// configFlag adds the --config flag shared by the daemon's commands.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", defaultConfig, "configuration file")
}

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// logger builds the daemon's logger from the configuration.
func logger(cfg *config.Config, stderr io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		return zerolog.Nop(), err
	}
	zerolog.SetGlobalLevel(lvl)
	return journal.NewLogger(cfg.Log.Output, lvl, stderr)
}

// loadDaemon loads the configuration and builds the logger it asks for.
func loadDaemon(path string, stderr io.Writer) (*config.Config, zerolog.Logger, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, zerolog.Nop(), err
	}
	log, err := logger(cfg, stderr)
	return cfg, log, err
}

func cmdRun(args []string, stderr io.Writer) int {
	fs := flags("run", stderr)
	path := configFlag(fs)
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, log, err := loadDaemon(*path, stderr)
	if err != nil {
		failed(stderr, err)
		return 1
	}
	if err := prepareState(cfg, log); err != nil {
		logStopped(log, err)
		return 1
	}
	notifier, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn().Err(err).Msg("systemd notification disabled")
	}
	softMemoryLimit()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	err = app.Run(ctx, cfg, app.Options{ConfigPath: *path, Reload: reload, Logger: log, Notifier: notifier})
	if err != nil {
		logStopped(log, explain(cfg, err))
		return 1
	}
	log.Info().Msg("falco-reporter stopped")
	return 0
}

// memoryLimit is the daemon's soft memory limit. The pipeline bounds what
// it holds (alerts, incidents, rendered reports) well below it; the limit
// keeps the garbage between two collections from doubling the footprint.
const memoryLimit = 80 << 20

// softMemoryLimit sets memoryLimit, unless GOMEMLIMIT says otherwise.
func softMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flags("check-config", stderr)
	path := configFlag(fs)
	asService := fs.Bool("as-service", false, "also check, as the service's user, that every path the configuration names can be used (run as root)")
	user := fs.String("user", serviceUser, "the service's user, for --as-service")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err == nil {
		_, err = playbookdir.Load(rules.Default(), cfg.Reports.PlaybooksDir)
	}
	if err == nil {
		err = checkFalco(cfg, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	if *asService {
		return checkAsService(cfg, *path, *user, stdout, stderr)
	}
	fmt.Fprintf(stdout, "%s: OK\n", *path)
	return 0
}

// checkFalco asks Falco's gRPC server for its version, as the gRPC input
// would connect. A certificate that falco-reporter or Falco refuses is an
// error: the daemon could never connect. Falco not running now is only a
// warning.
func checkFalco(cfg *config.Config, stdout, stderr io.Writer) error {
	g := cfg.Falco.GRPC
	if g == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := stream.CheckGRPC(ctx, stream.GRPCOptions{Address: g.Address, Cert: g.Cert, Key: g.Key, CA: g.CA})
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "falco.grpc: Falco %s answers at %s\n", safe.Line(v), safe.Line(g.Address))
	case stream.IsCertificateError(err):
		return fmt.Errorf("falco.grpc: %w", err)
	default:
		fmt.Fprintf(stderr, "falco-reporter: warning: falco.grpc: cannot reach Falco now (the daemon retries): %v\n", err)
	}
	return nil
}

// openInput opens FILE, or stdin for "-" or no argument.
func openInput(args []string, stdin io.Reader) (io.ReadCloser, string, error) {
	if len(args) == 0 || args[0] == "-" {
		return io.NopCloser(stdin), "stdin", nil
	}
	if len(args) > 1 {
		return nil, "", errors.New("expected one FILE or -")
	}
	f, err := os.Open(args[0])
	return f, args[0], err
}

func cmdRender(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flags("render", stderr)
	format := fs.String("format", "markdown", "markdown or json")
	playbooks := fs.String("playbooks-dir", "", "a directory of extra playbooks")
	if fs.Parse(args) != nil {
		return 2
	}
	if *format != "markdown" && *format != "json" {
		fmt.Fprintf(stderr, "falco-reporter: unknown format %q (markdown or json)\n", *format)
		return 2
	}
	in, name, err := openInput(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	defer in.Close()
	const maxAlert = 64 << 20
	data, err := io.ReadAll(io.LimitReader(in, maxAlert+1))
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	if len(data) > maxAlert {
		fmt.Fprintf(stderr, "falco-reporter: %s: larger than %d MiB; not one Falco alert\n", name, maxAlert>>20)
		return 1
	}
	a, err := event.ParseJSON(data)
	if err != nil {
		fmt.Fprintf(stderr, "falco-reporter: %s: %v\n", name, err)
		return 1
	}
	ruleoutput.Recover(&a)
	table, err := playbookdir.Load(rules.Default(), *playbooks)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	r, err := table.Build(&a)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter: warning:", err)
	}
	rules.Received(&r, &a)
	r.ID = "rendered"
	out := render.Markdown(&r)
	if *format == "json" {
		if out, err = render.JSON(&r); err != nil {
			fmt.Fprintln(stderr, "falco-reporter:", err)
			return 1
		}
	}
	_, _ = stdout.Write(out)
	return 0
}

func cmdIngest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flags("ingest", stderr)
	path := configFlag(fs)
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, log, err := loadDaemon(*path, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	// The input is opened first: root may read what the state's owner
	// cannot.
	in, name, err := openInput(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	defer in.Close()
	if err := prepareState(cfg, log); err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	src := &ingestSource{r: in, log: log}
	written := 0
	softMemoryLimit()
	err = app.Run(ctx, cfg, app.Options{Logger: log, Sources: []stream.Source{src}, Written: func(_ *report.Report, _ string) { written++ }})
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", explain(cfg, err))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d lines, %d alerts, %d skipped; %d report writes\n", name, src.stats.Lines, src.stats.Alerts, src.stats.Skipped, written)
	if src.err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", src.err)
		return 1
	}
	return 0
}

// ingestSource is a one-shot input over a reader.
type ingestSource struct {
	r     io.Reader
	log   zerolog.Logger
	stats stream.IngestStats
	err   error
}

func (s *ingestSource) Name() string { return "ingest" }

func (s *ingestSource) Run(ctx context.Context, sink stream.Sink) error {
	s.stats, s.err = stream.Ingest(ctx, s.r, sink, stream.IngestOptions{Logger: s.log})
	if errors.Is(s.err, context.Canceled) {
		s.err = nil
	}
	return nil
}

func cmdRules(args []string, stdout, stderr io.Writer) int {
	fs := flags("rules", stderr)
	var files multi
	fs.Var(&files, "falco-rules", "a Falco rules file to check for coverage (repeatable)")
	playbooks := fs.String("playbooks-dir", "", "a directory of extra playbooks")
	if fs.Parse(args) != nil {
		return 2
	}
	files = append(files, fs.Args()...)
	table, err := playbookdir.Load(rules.Default(), *playbooks)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter:", err)
		return 1
	}
	if len(files) == 0 {
		fmt.Fprintf(stdout, "%-10s  %-9s  %s\n", "SOURCE", "HANDLER", "RULE")
		for _, e := range table.Entries() {
			fmt.Fprintf(stdout, "%-10s  %-9s  %s\n", safe.Line(e.Source), "dedicated", safe.Line(e.Rule))
		}
		fmt.Fprintf(stdout, "%-10s  %-9s  %s\n", "*", "generic", "(every other rule)")
		return 0
	}
	missing, total := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "falco-reporter:", err)
			return 1
		}
		frs, err := rules.ParseFalcoRules(data)
		if err != nil {
			fmt.Fprintf(stderr, "falco-reporter: %s: %v\n", f, err)
			return 1
		}
		for _, fr := range frs {
			total++
			if _, ok := table.Lookup(fr.Source, fr.Rule); !ok {
				missing++
				fmt.Fprintf(stdout, "no playbook: %s (source %s, %s)\n", safe.Line(fr.Rule), safe.Line(fr.Source), f)
			}
		}
	}
	fmt.Fprintf(stdout, "%d rules, %d with a dedicated playbook, %d without\n", total, total-missing, missing)
	if missing > 0 {
		return 1
	}
	return 0
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
