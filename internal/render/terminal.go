package render

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/glamour"
	"github.com/muesli/termenv"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// This file renders what the commands that read reports back print on a
// terminal: tables, follow lines, digests, and a Markdown report made
// readable. Every string from a report is escaped with safe.Display, so no
// value can move the cursor, change colours or reorder text.

// Column widths: longer values are cut with "…".
const (
	ruleWidth    = 44
	hostWidth    = 20
	subjectWidth = 36
)

// tableTime is how tables show times: UTC, to the second.
const tableTime = "2006-01-02 15:04:05Z"

// cell returns s safe for one table cell: escaped, at most width runes.
func cell(s string, width int) string {
	s = safe.Display(s, 4*width)
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// reportPath is the file a person opens: Markdown, else JSON.
func reportPath(e *report.Entry) string {
	if e.Files.Markdown != "" {
		return e.Files.Markdown
	}
	return e.Files.JSON
}

func occurrences(n int) string { return fmt.Sprintf("×%d", n) }

// Table writes entries as an aligned table, in the order given.
func Table(w io.Writer, es []report.Entry) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "LAST SEEN\tPRIORITY\tRULE\tHOST\tSUBJECT\tCOUNT\tID\tREPORT")
	for i := range es {
		e := &es[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.LastSeen.UTC().Format(tableTime), cell(e.Priority, 13),
			cell(e.Rule, ruleWidth), cell(e.Hostname, hostWidth), cell(orDash(e.Subject), subjectWidth),
			occurrences(e.Occurrences), cell(e.ID, 32), safe.Line(reportPath(e)))
	}
	return tw.Flush()
}

// FollowLine is one line of `falco-reporter follow`: what changed and the
// report's columns, padded so that lines align.
func FollowLine(e *report.Entry, isNew bool) string {
	what := "update"
	if isNew {
		what = "new"
	}
	pad := func(s string, width int) string {
		return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
	}
	return strings.Join([]string{
		e.LastSeen.UTC().Format(tableTime), pad(what, 6), pad(cell(e.Priority, 13), 8),
		pad(cell(e.Rule, ruleWidth), ruleWidth), pad(cell(e.Hostname, hostWidth), hostWidth),
		pad(cell(orDash(e.Subject), subjectWidth), subjectWidth), pad(occurrences(e.Occurrences), 5),
		cell(e.ID, 32), safe.Line(reportPath(e)),
	}, "  ") + "\n"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// EntryJSON is one JSON line for an entry (list --json); with change set
// ("new" or "update", for follow --json) it says what happened.
func EntryJSON(e *report.Entry, change string) ([]byte, error) {
	v := struct {
		Change string `json:"change,omitempty"`
		*report.Entry
	}{change, e}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(jsonInvisible(b), '\n'), nil
}

// StoredJSON returns a JSON report as read from disk, checked and made
// safe for a terminal: one line, control and invisible characters escaped.
func StoredJSON(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return append(jsonInvisible(buf.Bytes()), '\n'), nil
}

// PlainText returns text (a stored Markdown report) with every control or
// invisible character but newline escaped, for printing where a file may
// not be ours.
func PlainText(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r != '\n' && (safe.NeedsEscape(r) || r == utf8.RuneError) }) {
		return b
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = safe.Display(l, 0)
	}
	return []byte(strings.Join(lines, "\n"))
}

// TerminalOptions say how Terminal draws.
type TerminalOptions struct {
	Width   int             // columns to wrap prose at; 0: 80
	Style   string          // a glamour style name or file; "": dark
	Profile termenv.Profile // colours the terminal supports
}

// Terminal renders a Markdown report for a terminal with glamour:
// headings, tables and code blocks drawn with ANSI colours and prose
// wrapped to the width. Control characters in md are escaped first, so
// the only escape sequences in the result are glamour's own.
func Terminal(md []byte, o TerminalOptions) ([]byte, error) {
	if o.Width <= 0 {
		o.Width = 80
	}
	style := glamour.WithStandardStyle("dark")
	if o.Style != "" {
		style = glamour.WithStylePath(o.Style)
	}
	tr, err := glamour.NewTermRenderer(style, glamour.WithWordWrap(o.Width), glamour.WithColorProfile(o.Profile))
	if err != nil {
		return nil, fmt.Errorf("terminal renderer: %w", err)
	}
	held, blocks, token := holdCode(capLines(PlainText(md), maxTerminalLine))
	out, err := tr.RenderBytes(held)
	if err != nil {
		return nil, fmt.Errorf("render for the terminal: %w", err)
	}
	return restoreCode(out, blocks, token), nil
}

// holdCode replaces the body of every fenced code block with one short
// placeholder line, so that glamour, which wraps everything to the width,
// cannot break a command in two: a command wrapped onto two lines and
// pasted into a shell runs as two commands. restoreCode puts the lines
// back, whole. The placeholder holds a random token that no report can
// predict.
func holdCode(md []byte) (held []byte, blocks [][]string, token string) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	token = "falcoreportercode" + hex.EncodeToString(nonce[:]) + "n"
	lines := strings.Split(string(md), "\n")
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		fence := trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
		end := -1
		if len(fence) >= 3 && indent < 16 && !strings.Contains(trimmed[len(fence):], "`") {
			for j := i + 1; j < len(lines); j++ {
				if strings.TrimSpace(lines[j]) == fence {
					end = j
					break
				}
			}
		}
		if end < 0 {
			out = append(out, line)
			continue
		}
		code := make([]string, 0, end-i-1)
		for _, l := range lines[i+1 : end] {
			code = append(code, strings.TrimPrefix(l, line[:indent]))
		}
		out = append(out, line[:indent]+fence, line[:indent]+token+strconv.Itoa(len(blocks)), line[:indent]+fence)
		blocks = append(blocks, code)
		i = end
	}
	return []byte(strings.Join(out, "\n")), blocks, token
}

// restoreCode replaces each placeholder line glamour drew with the block's
// lines, each drawn with what glamour put before and after the
// placeholder (indentation, colours).
func restoreCode(out []byte, blocks [][]string, token string) []byte {
	if len(blocks) == 0 {
		return out
	}
	lines := strings.Split(string(out), "\n")
	var b strings.Builder
	for i, line := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		at := strings.Index(line, token)
		if at < 0 {
			b.WriteString(line)
			continue
		}
		rest := line[at+len(token):]
		digits := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
		n, err := strconv.Atoi(rest[:digits])
		if err != nil || n >= len(blocks) {
			b.WriteString(line)
			continue
		}
		before, after := line[:at], strings.TrimRight(rest[digits:], " ")
		for j, code := range blocks[n] {
			if j > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(before + code + after)
		}
	}
	return []byte(b.String())
}

// maxTerminalLine caps each line given to glamour, whose wrapping slows
// down sharply on very long lines. The daemon's reports never come near
// it (values are capped at safe.MaxValue); a foreign file may.
const maxTerminalLine = 16 << 10

// capLines cuts every line longer than max bytes, with a visible marker.
func capLines(b []byte, max int) []byte {
	if len(b) <= max {
		return b
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if len(l) > max {
			lines[i] = []byte(safe.Cap(string(l), max))
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// Digest writes a summary of reports (falco-reporter summary) as text.
func Digest(w io.Writer, d *report.Digest, maxRows int) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Reports from %s to %s: %s, %s\n", d.Since.UTC().Format(tableTime), d.Until.UTC().Format(tableTime), plural(d.Reports, "incident"), plural(d.Occurrences, "alert"))
	if d.Reports == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	counts := func(title string, cs []report.Count, width int) {
		p("\n%s\n", title)
		tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		for i, c := range cs {
			if i == maxRows {
				fmt.Fprintf(tw, "  (%d more)\t\t\n", len(cs)-maxRows)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", cell(c.Key, width), column(c.Reports, "incident"), column(c.Occurrences, "alert"))
		}
		_ = tw.Flush()
	}
	counts("By priority", d.ByPriority, 13)
	counts("By rule", d.ByRule, ruleWidth)
	counts("By host", d.ByHost, hostWidth)
	counts("By source", d.BySource, 20)

	p("\nMost occurrences\n")
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	for i := range d.Top {
		e := &d.Top[i]
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", occurrences(e.Occurrences), cell(e.Priority, 13), cell(e.Rule, ruleWidth), cell(e.Hostname, hostWidth), cell(e.ID, 32))
	}
	_ = tw.Flush()

	if len(d.Storms) > 0 {
		p("\nStorms (many incidents of one rule within %s)\n", d.Storms[0].Window)
		for _, s := range d.Storms {
			p("  %s: %s from %s to %s\n", cell(s.Rule, ruleWidth), plural(s.Reports, "incident"), s.From.UTC().Format(tableTime), s.To.UTC().Format(tableTime))
		}
	}

	unit, layout := "hour", "2006-01-02 15:04Z"
	if d.Bucket >= 24*time.Hour {
		unit, layout = "day", "2006-01-02"
	}
	p("\nIncidents per %s (by first seen)\n", unit)
	peak := 0
	for _, c := range d.Timeline {
		peak = max(peak, c.Reports)
	}
	for _, c := range d.Timeline {
		t, _ := time.Parse(time.RFC3339, c.Key)
		p("  %s  %-40s %d\n", t.UTC().Format(layout), bar(c.Reports, peak, 40), c.Reports)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plural returns "1 alert", "2 alerts".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// column is plural with the number right-aligned, for tables.
func column(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%6d %s", n, noun)
}

// bar draws n out of peak as up to width block characters, in eighths; a
// non-zero count always shows.
func bar(n, peak, width int) string {
	if n <= 0 || peak <= 0 {
		return ""
	}
	eighths := max(1, n*width*8/peak)
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}

// DigestJSON is the summary as one JSON object (summary --json).
func DigestJSON(d *report.Digest) ([]byte, error) {
	window := 0.0
	if len(d.Storms) > 0 {
		window = d.Storms[0].Window.Seconds()
	}
	b, err := json.Marshal(struct {
		*report.Digest
		BucketSeconds      float64 `json:"bucket_seconds"`
		StormWindowSeconds float64 `json:"storm_window_seconds,omitempty"`
	}{d, d.Bucket.Seconds(), window})
	if err != nil {
		return nil, err
	}
	return append(jsonInvisible(b), '\n'), nil
}
