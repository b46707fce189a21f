package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// reader is a command that reads reports back with the filters: list,
// follow and summary.
type reader struct {
	name   string
	fs     *flag.FlagSet
	src    *source
	sel    *filterSet
	asJSON *bool
}

func newReader(name, since, jsonHelp string, stderr io.Writer) *reader {
	fs := flags(name, stderr)
	return &reader{name: name, fs: fs, src: sourceFlags(fs), sel: filterFlags(fs, since), asJSON: fs.Bool("json", false, jsonHelp)}
}

// open parses args (valid() checks the command's own flags) and opens the
// reports. code is the exit code when it fails, or -1.
func (c *reader) open(args []string, now time.Time, stderr io.Writer, valid func() bool) (b query.Backend, f query.Filter, code int) {
	b, f, _, code = c.openDir(args, now, stderr, valid)
	return b, f, code
}

// openDir is open, and also returns the reports directory.
func (c *reader) openDir(args []string, now time.Time, stderr io.Writer, valid func() bool) (b query.Backend, f query.Filter, dir string, code int) {
	pos, err := parseAll(c.fs, args)
	if err != nil {
		return nil, f, "", 2
	}
	if len(pos) > 0 || !valid() {
		fmt.Fprintf(stderr, "falco-reporter %s: unexpected arguments or values; see falco-reporter %s -h\n", c.name, c.name)
		return nil, f, "", 2
	}
	if f, err = c.sel.filter(now); err != nil {
		fmt.Fprintf(stderr, "falco-reporter %s: %v\n", c.name, err)
		return nil, f, "", 2
	}
	if b, dir, err = c.src.backend(stderr); err != nil {
		return nil, f, "", fail(stderr, err)
	}
	return b, f, dir, -1
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	c := newReader("list", "", "print one JSON object per line", stderr)
	limit := c.fs.Int("limit", 0, "print at most this many reports, the newest (0: all)")
	b, f, code := c.open(args, time.Now(), stderr, func() bool { return *limit >= 0 })
	if code >= 0 {
		return code
	}
	f.Limit = *limit
	es, err := b.List(context.Background(), f)
	if err != nil {
		return fail(stderr, err)
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	defer w.Flush()
	if *c.asJSON {
		for i := range es {
			line, err := render.EntryJSON(&es[i], "")
			if err != nil {
				return fail(stderr, err)
			}
			_, _ = w.Write(line)
		}
		return 0
	}
	if len(es) == 0 {
		fmt.Fprintln(stderr, "falco-reporter: no reports match")
		return 0
	}
	if err := render.Table(w, es); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func cmdFollow(args []string, stdout, stderr io.Writer) int {
	c := newReader("follow", "", `print one JSON object per line, with "change": "new" or "update"`, stderr)
	b, f, dir, code := c.openDir(args, time.Now(), stderr, func() bool { return true })
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stderr, "falco-reporter: following %s; Ctrl-C stops\n", safe.Line(dir))
	err := b.Follow(ctx, f, func(ch query.Change) error {
		if !*c.asJSON {
			_, err := io.WriteString(stdout, render.FollowLine(&ch.Entry, ch.New))
			return err
		}
		what := "update"
		if ch.New {
			what = "new"
		}
		line, err := render.EntryJSON(&ch.Entry, what)
		if err == nil {
			_, err = stdout.Write(line)
		}
		return err
	})
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func cmdSummary(args []string, stdout, stderr io.Writer) int {
	c := newReader("summary", "24h", "print the summary as one JSON object", stderr)
	rows := c.fs.Int("rows", 10, "rows per count table")
	stormMin := c.fs.Int("storm-min", query.DefaultStorms.Min, "a rule stormed when it opened this many incidents")
	stormWindow := c.fs.Duration("storm-window", query.DefaultStorms.Window, "within this time")
	now := time.Now()
	b, f, code := c.open(args, now, stderr, func() bool { return *rows >= 1 && *stormMin >= 1 && *stormWindow > 0 })
	if code >= 0 {
		return code
	}
	es, err := b.List(context.Background(), f)
	if err != nil {
		return fail(stderr, err)
	}
	d := query.Summarize(es, f.Since, f.Until, query.Storms{Min: *stormMin, Window: *stormWindow}, now)
	if *c.asJSON {
		out, err := render.DigestJSON(&d)
		if err != nil {
			return fail(stderr, err)
		}
		_, _ = stdout.Write(out)
		return 0
	}
	if err := render.Digest(stdout, &d, *rows); err != nil {
		return fail(stderr, err)
	}
	return 0
}
