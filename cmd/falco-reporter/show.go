package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/falco-reporter/falco-reporter/internal/query"
	"github.com/falco-reporter/falco-reporter/internal/render"
)

func cmdShow(args []string, stdout, stderr io.Writer) int {
	fs := flags("show", stderr)
	src := sourceFlags(fs)
	format := fs.String("format", "markdown", "markdown or json")
	host := fs.String("host", "", "the report's host, a glob: with --fleet, an id can be on several hosts")
	noPager := fs.Bool("no-pager", false, "do not page the output on a terminal")
	pos, err := parseAll(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || *format != "markdown" && *format != "json" {
		fmt.Fprintln(stderr, "usage: falco-reporter show [--dir DIR | --config FILE | --fleet URL [--host GLOB]] [--format markdown|json] [--no-pager] ID|PATH")
		return 2
	}
	b, _, err := src.backend(stderr)
	if err != nil {
		return fail(stderr, err)
	}
	doc, err := b.Get(context.Background(), pos[0], query.Filter{Host: *host})
	if err != nil {
		return fail(stderr, err)
	}
	if doc.Partial != "" {
		fmt.Fprintln(stderr, "falco-reporter: warning:", doc.Partial)
	}
	var out []byte
	tty, isTTY := terminal(stdout)
	switch {
	case *format == "json" && doc.JSON == nil:
		return fail(stderr, errors.New("this report has no JSON file (reports.formats has no json)"))
	case *format == "json":
		if out, err = render.StoredJSON(doc.JSON); err != nil {
			return fail(stderr, fmt.Errorf("%s: %w", doc.Entry.Files.JSON, err))
		}
	default:
		// The report is drawn from its JSON, wherever it comes from (a
		// reports directory or the fleet's store), so that it reads the
		// same everywhere. The Markdown file is shown only for a JSON
		// report that does not say where its values are (an older one), or
		// when there is no JSON (reports.formats has no json).
		md := doc.Markdown
		if doc.JSON != nil && (md == nil || !doc.Report.Decoded()) {
			md = render.Markdown(&doc.Report)
		}
		out = render.PlainText(md)
		if isTTY {
			if out, err = render.Terminal(md, terminalOptions(tty)); err != nil {
				return fail(stderr, err)
			}
		}
	}
	if isTTY && !*noPager {
		if err := page(out, tty, stderr); err == nil {
			return 0
		}
	}
	_, _ = stdout.Write(out)
	return 0
}

// terminalOptions read the terminal's width and colours, and the style in
// GLAMOUR_STYLE (a glamour style name or file) if set.
func terminalOptions(tty *os.File) render.TerminalOptions {
	width := 80
	if w, _, err := term.GetSize(int(tty.Fd())); err == nil && w > 20 {
		width = min(w, 120)
	}
	return render.TerminalOptions{
		Width:   width,
		Style:   os.Getenv("GLAMOUR_STYLE"),
		Profile: termenv.NewOutput(tty).EnvColorProfile(),
	}
}

// page shows out through the user's pager as git does: $FALCO_REPORTER_PAGER,
// else $PAGER, else less, run by the shell, with LESS=FRX (quit when it
// fits one screen, keep colours, leave the screen as it is) and LV=-c
// unless set. An empty pager or "cat" means no pager. It returns an
// error, having written nothing, when the pager cannot start.
func page(out []byte, tty *os.File, stderr io.Writer) error {
	pager, ok := os.LookupEnv("FALCO_REPORTER_PAGER")
	if !ok {
		pager = os.Getenv("PAGER")
		if pager == "" {
			pager = "less"
		}
	}
	if pager == "" || pager == "cat" {
		return errors.New("no pager")
	}
	cmd := exec.Command("/bin/sh", "-c", pager)
	cmd.Stdout, cmd.Stderr = tty, stderr
	cmd.Env = os.Environ()
	if _, ok := os.LookupEnv("LESS"); !ok {
		cmd.Env = append(cmd.Env, "LESS=FRX")
	}
	if _, ok := os.LookupEnv("LV"); !ok {
		cmd.Env = append(cmd.Env, "LV=-c")
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// The pager may quit before reading everything (q in less): a broken
	// pipe is not an error.
	_, _ = in.Write(out)
	_ = in.Close()
	_ = cmd.Wait()
	return nil
}
