package render_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/falco-reporter/falco-reporter/internal/query"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

func TestTerminalGolden(t *testing.T) {
	rs := demoReports(t)
	es := entries(rs)
	var b bytes.Buffer
	if err := render.Table(&b, es); err != nil {
		t.Fatal(err)
	}
	golden(t, "list.txt", b.Bytes())

	b.Reset()
	for i := range es[:3] {
		b.WriteString(render.FollowLine(&es[i], i != 1))
	}
	golden(t, "follow.txt", b.Bytes())

	b.Reset()
	// A storm: the same rule opening an incident every 20 seconds.
	storm := es[4]
	for i := range 6 {
		storm.ID = fmt.Sprintf("storm%d", i)
		storm.FirstSeen.Time = goldenEnd.Add(-3*time.Hour + time.Duration(i)*20*time.Second)
		storm.LastSeen = storm.FirstSeen
		es = append(es, storm)
	}
	d := query.Summarize(es, goldenEnd.Add(-24*time.Hour), goldenEnd, query.Storms{Window: 5 * time.Minute, Min: 3}, goldenEnd)
	if err := render.Digest(&b, &d, 5); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.txt", b.Bytes())

	for _, p := range []struct {
		name    string
		profile termenv.Profile
	}{{"ansi256", termenv.ANSI256}, {"ascii", termenv.Ascii}} {
		out, err := render.Terminal(render.Markdown(&rs[0]), render.TerminalOptions{Width: 100, Profile: p.profile})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "terminal-shell-in-container."+p.name+".txt", out)
	}
}

// TestTerminalKeepsCommandsWhole checks that prose is wrapped to the
// width but no command is: a wrapped command pasted into a shell would run
// something else.
func TestTerminalKeepsCommandsWhole(t *testing.T) {
	rs := demoReports(t)
	out, err := render.Terminal(render.Markdown(&rs[0]), render.TerminalOptions{Width: 60, Profile: termenv.Ascii})
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, s := range rs[0].Investigation {
		for _, line := range strings.Split(s.Command, "\n") {
			if !strings.Contains(text, line) {
				t.Errorf("command line not shown whole on one line: %s", line)
			}
		}
	}
}

// sgr matches the colour sequences glamour draws with; any other escape
// sequence in the output came from a value.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTerminalHostile(t *testing.T) {
	table := rules.Default()
	for _, h := range hostile {
		a := alertWith("A custom rule "+h.value, h.value)
		r, err := table.Build(&a)
		if err != nil {
			t.Fatal(err)
		}
		r.ID = "x"
		e := report.Entry{ID: h.value, Rule: r.Rule, Priority: h.value, Hostname: h.value, Subject: h.value, Title: h.value,
			Files: report.Files{Markdown: h.value}}
		var b bytes.Buffer
		if err := render.Table(&b, []report.Entry{e}); err != nil {
			t.Fatal(err)
		}
		b.WriteString(render.FollowLine(&e, true))
		d := query.Summarize([]report.Entry{e}, time.Time{}, time.Time{}, query.Storms{Window: time.Minute, Min: 1}, goldenEnd)
		if err := render.Digest(&b, &d, 10); err != nil {
			t.Fatal(err)
		}
		js, err := render.EntryJSON(&e, "new")
		if err != nil {
			t.Fatal(err)
		}
		b.Write(js)
		checkClean(t, b.String())
		if strings.Count(b.String(), "\n") != 1+1+1+strings.Count(b.String()[strings.Index(b.String(), "Reports from"):], "\n") {
			t.Errorf("%s: a value added lines", h.name)
		}
		for _, profile := range []termenv.Profile{termenv.TrueColor, termenv.Ascii} {
			out, err := render.Terminal(append(render.Markdown(&r), h.value...), render.TerminalOptions{Width: 80, Profile: profile})
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, sgr.ReplaceAllString(string(out), ""))
		}
		checkClean(t, string(render.PlainText([]byte(h.value))))
	}
}

func TestStoredJSON(t *testing.T) {
	out, err := render.StoredJSON([]byte("{\"a\": \"x\u202ey\",\n \"b\": 1}"))
	if err != nil || string(out) != `{"a":"x\u202ey","b":1}`+"\n" {
		t.Errorf("StoredJSON = %q, %v", out, err)
	}
	if _, err := render.StoredJSON([]byte("{\"a\": \"\x1b[2J\"}")); err == nil {
		t.Error("a raw control character in a JSON string was accepted")
	}
}
