package render_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// hostile are values an attacker can place in a command line, a file name,
// a container name or a custom rule name.
var hostile = []struct {
	name, value string
}{
	{"terminal escape", "\x1b[2J\x1b]0;pwned\x07red\x1b[31m"},
	{"newline and fake heading", "x\n# Everything is fine\n\n| fake | table |"},
	{"backticks", "a ``` b ```` c `"},
	{"html", `<script>alert(1)</script><img src=x onerror=alert(1)>`},
	{"markdown link", `[click](http://evil.example/) ![i](http://evil.example/i.png)`},
	{"bidi override", "file\u202egpj.exe"},
	{"nul and del", "a\x00b\x7fc\u0085d"},
	{"invalid utf-8", "bad\xff\xfebytes"},
	{"pipes", "a|b||c"},
	{"autolinks", "http://evil.example/x www.evil.example mail@evil.example ~~struck~~ <https://evil.example>"},
	{"tag characters", "visible\U000E0041\U000E0042hidden"},
	{"long", strings.Repeat("A", 3<<20)},
}

func alertWith(rule, v string) event.Alert {
	a := event.Alert{
		Time: time.Date(2026, 4, 2, 10, 0, 0, 123, time.UTC), Priority: event.PriorityWarning,
		Rule: rule, Source: "syscall", Hostname: v, Output: v, Tags: []string{v, "T1555"},
		Fields: event.Fields{
			"proc.name": event.Str(v), "proc.cmdline": event.Str(v), "proc.exepath": event.Str(v),
			"fd.name": event.Str(v), "evt.arg.oldpath": event.Str(v), "evt.arg.newpath": event.Str(v),
			"container.id": event.Str("abc123"), "container.name": event.Str(v),
			"k8s.ns.name": event.Str(v), "k8s.pod.name": event.Str(v), "proc.pid": event.Str(v), v: event.Str(v),
		},
	}
	a.Normalize()
	return a
}

func TestHostileValuesCannotInject(t *testing.T) {
	table := rules.Default()
	for _, h := range hostile {
		for _, rule := range []string{"Create Hardlink Over Sensitive Files", "A custom rule " + h.value} {
			t.Run(h.name+"/"+rule[:8], func(t *testing.T) {
				a := alertWith(rule, h.value)
				r, err := table.Build(&a)
				if err != nil {
					t.Fatal(err)
				}
				r.ID = "x"
				md := string(render.Markdown(&r))
				js, err := render.JSON(&r)
				if err != nil {
					t.Fatal(err)
				}
				for _, out := range []string{md, string(js)} {
					checkClean(t, out)
				}
				checkJSONRoundTrip(t, js, h.value)
				checkMarkdown(t, md)
				if len(md) > 400<<10 {
					t.Errorf("markdown is %d bytes: long values are not capped", len(md))
				}
				if !json.Valid(js) {
					t.Error("invalid JSON")
				}
			})
		}
	}
}

// checkClean fails on any raw control character, invisible formatting
// character or invalid UTF-8 in rendered output.
func checkClean(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Error("output is not valid UTF-8")
	}
	for i, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' || r == '\u2028' {
			t.Errorf("raw control character %U at byte %d: %q", r, i, out[max(0, i-20):min(len(out), i+20)])
			return
		}
	}
}

// checkMarkdown fails when a value added structure: a heading, HTML, a
// link, or a line that is not one of the renderer's own.
func checkMarkdown(t *testing.T, md string) {
	t.Helper()
	inFence := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if inFence != "" {
			if trimmed == inFence {
				inFence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			inFence = strings.TrimRight(trimmed, "abcdefghijklmnopqrstuvwxyz")
			continue
		}
		if strings.HasPrefix(trimmed, "# ") && !strings.HasPrefix(line, "# Warning: ") {
			t.Errorf("a value made a heading: %q", line)
		}
		outside := stripCode(line)
		if strings.Contains(outside, "<script") || strings.Contains(outside, "<img") {
			t.Errorf("raw HTML outside a code span: %q", trunc(line))
		}
		if strings.Contains(outside, "](http") {
			t.Errorf("a value made a link: %q", trunc(line))
		}
		// GitHub-flavoured Markdown links bare URLs, www. names and e-mail
		// addresses, and strikes through ~~text~~, wherever they appear
		// in text: values belong in code spans.
		for _, auto := range []string{"http://evil", "www.evil", "www\\.evil", "@evil", "~~struck", "\\~\\~struck"} {
			if strings.Contains(outside, auto) {
				t.Errorf("a value can become a link or strikethrough (%s): %q", auto, trunc(line))
			}
		}
	}
	if inFence != "" {
		t.Error("a code fence was left open")
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestCodeSpanNeverClosedByValue(t *testing.T) {
	a := alertWith("Create Hardlink Over Sensitive Files", "x` **bold** `y")
	r, _ := rules.Default().Build(&a)
	md := string(render.Markdown(&r))
	if !strings.Contains(md, "``x` **bold** `y``") {
		t.Errorf("value not fenced with a longer run of backticks:\n%s", trunc(md[strings.Index(md, "## Facts"):]))
	}
}

// stripCode removes code spans (a run of n backticks up to the next run
// of exactly n) and backslash-escaped characters from a Markdown line,
// leaving what a renderer would read as structure.
func stripCode(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			i += 2
		case line[i] == '`':
			n := 0
			for i+n < len(line) && line[i+n] == '`' {
				n++
			}
			fence := strings.Repeat("`", n)
			rest := line[i+n:]
			end := -1
			for j := 0; j+n <= len(rest); j++ {
				if rest[j:j+n] == fence && (j+n == len(rest) || rest[j+n] != '`') && (j == 0 || rest[j-1] != '`') {
					end = j
					break
				}
			}
			if end < 0 {
				b.WriteString(fence)
				i += n
				continue
			}
			i += n + end + n
		default:
			b.WriteByte(line[i])
			i++
		}
	}
	return b.String()
}

// checkJSONRoundTrip decodes the JSON report and checks that a value with
// characters above U+FFFF reads back as itself, not as the ASCII text a
// wrong \u escape would make.
func checkJSONRoundTrip(t *testing.T, js []byte, value string) {
	t.Helper()
	var r struct {
		Fields map[string]*string `json:"fields"`
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	got := r.Fields["proc.cmdline"]
	if got == nil || !strings.ContainsRune(value, 0xE0041) {
		return
	}
	if *got != strings.ToValidUTF8(value, "\uFFFD") {
		t.Errorf("JSON reads back %q, not %q", *got, value)
	}
	if bytes.Contains(js, []byte(`\u0041`)) || bytes.Contains(js, []byte(`\ue0041`)) {
		t.Errorf("a tag character is escaped as another character: %s", js)
	}
}
