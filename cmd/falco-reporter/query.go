package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/query"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// source is where the commands that read reports back find them: --dir,
// reports.dir of --config, or the fleet's VictoriaLogs (--fleet).
type source struct {
	fs          *flag.FlagSet
	dir, config *string
	fleet       *fleetFlags
}

func sourceFlags(fs *flag.FlagSet) *source {
	return &source{
		fs:     fs,
		dir:    fs.String("dir", "", "the reports directory (default: reports.dir of --config)"),
		config: configFlag(fs),
		fleet:  fleetFlagSet(fs),
	}
}

// backend opens the reports, warning on stderr about each file skipped,
// and names where they are. The fleet is used when --fleet (or its
// environment variable) is set, unless --dir or --config is given.
func (s *source) backend(stderr io.Writer) (query.Backend, string, error) {
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	local := given["dir"] || given["config"]
	if given["fleet"] && local {
		return nil, "", errors.New("give --fleet, or --dir or --config, not both")
	}
	if *s.fleet.url != "" && !local {
		f, err := s.fleet.backend()
		if err != nil {
			return nil, "", err
		}
		return f, "the fleet at " + f.String(), nil
	}
	dir := *s.dir
	if dir == "" {
		cfg, err := config.Load(*s.config)
		if err != nil {
			return nil, "", fmt.Errorf("%w (or give the reports directory with --dir, or the fleet with --fleet URL)", err)
		}
		dir = cfg.Reports.Dir
	}
	warn := func(path string, err error) {
		fmt.Fprintf(stderr, "falco-reporter: warning: skipped %s: %s\n", safe.Line(path), safe.Line(err.Error()))
	}
	return query.NewLocal(dir, warn), dir, nil
}

// filterSet holds the flags that select reports, shared by list, follow
// and summary.
type filterSet struct {
	since, until, priority, rule, host, container, exe, source, grep *string
}

func filterFlags(fs *flag.FlagSet, since string) *filterSet {
	return &filterSet{
		since:     fs.String("since", since, "reports seen since: a duration (1h, 30m, 7d) or a time (RFC 3339, or a date)"),
		until:     fs.String("until", "", "reports seen until: a duration ago or a time"),
		priority:  fs.String("priority", "", "this priority or worse (emergency, alert, critical, error, warning, notice, informational, debug)"),
		rule:      fs.String("rule", "", "rule name, a glob (* ? [...]), any case"),
		host:      fs.String("host", "", "host name, a glob"),
		container: fs.String("container", "", "container id (a prefix of 4 or more characters, or the full id), name (a glob), or host"),
		exe:       fs.String("exe", "", "the process's executable (proc.exepath), a glob"),
		source:    fs.String("source", "", "event source: syscall, k8s_audit, aws_cloudtrail, internal, ..."),
		grep:      fs.String("grep", "", "text in the report's facts, title or the alert's fields, any case"),
	}
}

func (f *filterSet) filter(now time.Time) (query.Filter, error) {
	var q query.Filter
	var err error
	if *f.since != "" {
		if q.Since, err = query.ParseTime(*f.since, now); err != nil {
			return q, fmt.Errorf("--since: %w", err)
		}
	}
	if *f.until != "" {
		if q.Until, err = query.ParseTime(*f.until, now); err != nil {
			return q, fmt.Errorf("--until: %w", err)
		}
	}
	if *f.priority != "" {
		p, err := event.ParsePriority(*f.priority)
		if err != nil {
			return q, fmt.Errorf("--priority: %w", err)
		}
		q.Priority = &p
	}
	q.Rule, q.Host, q.Container, q.Exe, q.Source, q.Grep = *f.rule, *f.host, *f.container, *f.exe, *f.source, *f.grep
	return q, nil
}

// parseAll parses flags that may come before or after the positional
// arguments (`show ID --format json`), and returns the positional ones.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// fail prints err for a person and returns the exit code 1. A permission
// error says how to get access.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "falco-reporter:", safe.Line(err.Error()))
	if errors.Is(err, fs.ErrPermission) {
		fmt.Fprintln(stderr, "falco-reporter: reports are readable by the falco-reporter group: sudo usermod -aG falco-reporter \"$USER\", then log in again")
	}
	return 1
}

// terminal returns stdout as a file when it is a terminal.
func terminal(w io.Writer) (*os.File, bool) {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return nil, false
	}
	return f, true
}
