package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/falco-reporter/falco-reporter/internal/bench"
)

// cmdBench runs the benchmark of README "Performance": the daemon, run from
// this binary (or --binary), against its references, in one table.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := flags("bench", stderr)
	var o bench.Options
	fs.StringVar(&o.Binary, "binary", "", "falco-reporter binary to run as the daemon (default: this one)")
	fs.StringVar(&o.Dir, "dir", "", "scratch directory, on the filesystem to measure (default: a new one under $TMPDIR)")
	fs.BoolVar(&o.Legacy, "legacy", false, "the --binary is an older build without the reported-alerts metric and storm keys")
	fs.IntVar(&o.Storm, "storm", 0, "alerts of the one-rule storm (default 200000)")
	fs.IntVar(&o.Distinct, "distinct", 0, "distinct incidents (default 20000)")
	fs.IntVar(&o.HTTP, "http", 0, "alerts per HTTP run (default 50000)")
	fs.IntVar(&o.Conns, "conns", 0, "HTTP connections (default 32)")
	fs.IntVar(&o.Backlog, "backlog", 0, "alerts in the spool for the backlog run (default 1000000)")
	fs.IntVar(&o.Trickle, "trickle", 0, "alerts of the latency run (default 200)")
	fs.IntVar(&o.Repeat, "repeat", 0, "times each pair of reference and daemon runs, alternating (default 3)")
	only := fs.String("only", "", "comma-separated workloads: grpc, distinct, http, backlog, trickle (default all)")
	if fs.Parse(args) != nil {
		return 2
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "falco-reporter:", err)
			return 1
		}
		o.Binary = exe
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "falco-reporter-bench-")
		if err != nil {
			fmt.Fprintln(stderr, "falco-reporter:", err)
			return 1
		}
		o.Dir = d
	}
	o.Dir, _ = filepath.Abs(o.Dir)
	o.Out, o.Log = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := bench.Run(ctx, o); err != nil {
		fmt.Fprintln(stderr, "falco-reporter: bench:", err)
		return 1
	}
	return 0
}
