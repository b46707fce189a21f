package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query"
	"github.com/falco-reporter/falco-reporter/internal/render"
)

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := flags("list", stderr)
	src := sourceFlags(fs)
	sel := filterFlags(fs, "")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	limit := fs.Int("limit", 0, "print at most this many reports, the newest (0: all)")
	pos, err := parseAll(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 || *limit < 0 {
		fmt.Fprintln(stderr, "falco-reporter list: unexpected arguments; see falco-reporter list -h")
		return 2
	}
	f, err := sel.filter(time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter list:", err)
		return 2
	}
	f.Limit = *limit
	b, _, err := src.backend(stderr)
	if err != nil {
		return fail(stderr, err)
	}
	es, err := b.List(context.Background(), f)
	if err != nil {
		return fail(stderr, err)
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	defer w.Flush()
	if *asJSON {
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
	fs := flags("follow", stderr)
	src := sourceFlags(fs)
	sel := filterFlags(fs, "")
	asJSON := fs.Bool("json", false, "print one JSON object per line, with \"change\": \"new\" or \"update\"")
	pos, err := parseAll(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "falco-reporter follow: unexpected arguments; see falco-reporter follow -h")
		return 2
	}
	f, err := sel.filter(time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter follow:", err)
		return 2
	}
	b, _, err := src.backend(stderr)
	if err != nil {
		return fail(stderr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = b.Follow(ctx, f, func(c query.Change) error {
		if *asJSON {
			what := "update"
			if c.New {
				what = "new"
			}
			line, err := render.EntryJSON(&c.Entry, what)
			if err != nil {
				return err
			}
			_, err = stdout.Write(line)
			return err
		}
		_, err := io.WriteString(stdout, render.FollowLine(&c.Entry, c.New))
		return err
	})
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func cmdSummary(args []string, stdout, stderr io.Writer) int {
	fs := flags("summary", stderr)
	src := sourceFlags(fs)
	sel := filterFlags(fs, "24h")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	rows := fs.Int("rows", 10, "rows per count table")
	stormMin := fs.Int("storm-min", query.DefaultStorms.Min, "a rule stormed when it opened this many incidents")
	stormWindow := fs.Duration("storm-window", query.DefaultStorms.Window, "within this time")
	pos, err := parseAll(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 || *rows < 1 || *stormMin < 1 || *stormWindow <= 0 {
		fmt.Fprintln(stderr, "falco-reporter summary: unexpected arguments or values; see falco-reporter summary -h")
		return 2
	}
	now := time.Now()
	f, err := sel.filter(now)
	if err != nil {
		fmt.Fprintln(stderr, "falco-reporter summary:", err)
		return 2
	}
	b, _, err := src.backend(stderr)
	if err != nil {
		return fail(stderr, err)
	}
	es, err := b.List(context.Background(), f)
	if err != nil {
		return fail(stderr, err)
	}
	d := query.Summarize(es, f.Since, f.Until, query.Storms{Min: *stormMin, Window: *stormWindow}, now)
	if *asJSON {
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
