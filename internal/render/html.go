package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// HTML pages are self-contained: one file, the style inline, no script,
// no image, no font, nothing fetched. A Content-Security-Policy meta tag
// allows only that one style element (by its hash), so that even a bug in
// escaping could not run a script or load anything. html/template escapes
// every value for its context; safe.Display additionally escapes control
// and invisible characters so that text cannot be visually reordered.

// css is the style of every page. Its hash is in the CSP: change it here
// only, never in a template.
const css = `:root{color-scheme:light dark;--fg:#1d2125;--bg:#fff;--muted:#5c6670;--line:#d8dde2;--code:#f1f3f5;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--fg:#e3e6e8;--bg:#15181b;--muted:#9aa4ad;--line:#353b41;--code:#22272c;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:72rem;padding:1rem 1.5rem 3rem;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
h1{font-size:1.45rem;margin:.3rem 0 .4rem;line-height:1.3}
h2{font-size:1.1rem;margin:1.8rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid var(--line)}
code,pre{font:13px/1.45 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;background:var(--code);border-radius:4px}
code{padding:.05rem .3rem;overflow-wrap:anywhere}
pre{padding:.6rem .8rem;overflow-x:auto;white-space:pre}
pre code{padding:0;background:none}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{text-align:left;vertical-align:top;padding:.35rem .6rem;border-bottom:1px solid var(--line)}
th{font-weight:600;color:var(--muted);font-size:.85rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr td:first-child{white-space:nowrap}
tr td:nth-child(4){white-space:nowrap;max-width:14rem;overflow:hidden;text-overflow:ellipsis}
.meta,.muted{color:var(--muted);font-size:.9rem;margin:.2rem 0}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:700;color:#fff;background:#6b7280;white-space:nowrap}
.p-emergency .badge,.p-alert .badge,.p-critical .badge{background:#8b0000}
.p-error .badge{background:#c62828}
.p-warning .badge{background:#d97706}
.p-notice .badge{background:#1d4ed8}
.p-informational .badge{background:#0f766e}
.p-debug .badge{background:#6b7280}
header{border-left:6px solid #6b7280;padding:.2rem 0 .2rem 1rem;margin:.8rem 0 1rem}
header.p-emergency,header.p-alert,header.p-critical{border-color:#8b0000}
header.p-error{border-color:#c62828}
header.p-warning{border-color:#d97706}
header.p-notice{border-color:#1d4ed8}
header.p-informational{border-color:#0f766e}
ol,ul{padding-left:1.6rem}
li{margin:.5rem 0}
.changes{font-style:italic}
.counts .badge{margin-right:.4rem}
tr.p-emergency td:first-child,tr.p-alert td:first-child,tr.p-critical td:first-child{box-shadow:inset 4px 0 #8b0000}
tr.p-error td:first-child{box-shadow:inset 4px 0 #c62828}
tr.p-warning td:first-child{box-shadow:inset 4px 0 #d97706}
tr.p-notice td:first-child{box-shadow:inset 4px 0 #1d4ed8}
tr.p-informational td:first-child{box-shadow:inset 4px 0 #0f766e}
`

// CSP is the Content-Security-Policy of every page: nothing may load or
// run except the page's own style element.
var CSP = func() string {
	sum := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
}()

const htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{csp}}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{template "title" .}}</title>
<style>` + css + `</style>
</head>
`

const reportTemplate = `{{define "title"}}{{.R.Priority | line}}: {{.R.Rule | line}} on {{.R.Hostname | line}}{{end}}<body>
<nav class="meta"><a href="{{.Index}}">All reports</a></nav>
<header class="{{class .R.Priority}}">
<p><span class="badge">{{.R.Priority | line}}</span> <code>{{.R.Rule | line}}</code>
{{- if not .R.Hostname}}
{{- else if eq .R.Source "syscall"}} on <code>{{.R.Hostname | line}}</code>
{{- else}} (<code>{{.R.Source | line}}</code>, reported by Falco on <code>{{.R.Hostname | line}}</code>){{end}}</p>
<h1>{{template "text" .R.Title}}</h1>
<p class="meta">{{.Seen}} · source <code>{{.R.Source | line}}</code> · report <code>{{.R.ID | line}}</code> · {{.R.Handler | line}} handler</p>
</header>
<main>
<h2>What happened</h2>
<p>{{template "text" .R.Summary}}</p>
{{- if .R.Facts}}
<h2>Facts</h2>
<table>
{{- range .R.Facts}}
<tr><th scope="row">{{if .Label}}{{.Label | line}}{{else}}<code>{{.Field | line}}</code>{{end}}</th><td><code>{{.Value | value}}</code></td></tr>
{{- end}}
</table>
{{- end}}
{{- template "evidence" .R.Evidence}}
<h2>Why it matters</h2>
<p>{{template "text" .R.Why}}</p>
{{- if .R.MITRE}}
<table>
<tr><th>MITRE ATT&amp;CK</th><th>Name</th><th>Tactic</th></tr>
{{- range .R.MITRE}}
<tr><td>{{.ID | line}}</td><td>{{.Name | line}}</td><td>{{.Tactic | line}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- if .R.Tags}}
<p class="muted">Falco's tags on the rule:{{range .R.Tags}} <code>{{. | line}}</code>{{end}}</p>
{{- end}}
{{- if .R.Description}}
<p class="muted">Falco's description of the rule: {{.R.Description | prose}}</p>
{{- end}}
{{- template "steps" (steps "Investigation" .R.Investigation true)}}
{{- template "steps" (steps "False positives" .R.FalsePositives false)}}
{{- template "steps" (steps "Response and remediation" .R.Remediation true)}}
{{- if .Samples}}
<h2>Values seen across occurrences</h2>
<ul>
{{- range .Samples}}
<li><code>{{.Field | line}}</code>:{{range .Values}} <code>{{. | value}}</code>{{end}}</li>
{{- end}}
</ul>
{{- end}}
<h2>Raw alert</h2>
<pre><code>{{.Raw | lines}}</code></pre>
</main>
</body>
</html>
{{define "text"}}{{range .}}{{if .Value}}<code>{{.S | value}}</code>{{else}}{{.S | prose}}{{end}}{{end}}{{end}}
{{define "steps"}}{{if .List}}
<h2>{{.Title}}</h2>
{{if .Numbered}}<ol>{{else}}<ul>{{end}}
{{- range .List}}
<li>{{template "text" .Text}}
{{- if .Answered}}
<p class="changes">Answered at alert time: {{template "text" .Answered}}</p>
{{- end}}
{{- if .Changes}}
<p class="changes">Changes: {{template "text" .Changes}}</p>
{{- end}}
{{- if .Command}}
<pre><code>{{.Command | lines}}</code></pre>
{{- end}}
{{- if .Config}}
<pre><code>{{.Config | lines}}</code></pre>
{{- end}}
</li>
{{- end}}
{{if .Numbered}}</ol>{{else}}</ul>{{end}}
{{- end}}{{end}}
`

var htmlFuncs = template.FuncMap{
	"csp":   func() string { return CSP },
	"line":  safe.Line,
	"prose": func(s string) string { return safe.Display(s, 0) },
	"value": func(s string) string { return safe.Display(s, safe.MaxValue) },
	"lines": lines,
	"class": priorityClass,
	"steps": func(title string, list []report.Step, numbered bool) any {
		return struct {
			Title    string
			List     []report.Step
			Numbered bool
		}{title, list, numbered}
	},
}

var reportPage = template.Must(template.New("report").Funcs(htmlFuncs).Parse(htmlHead + reportTemplate))

// lines returns multi-line text (a command, a YAML snippet, the raw
// alert) with each line's control and invisible characters escaped.
func lines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = safe.Display(l, 0)
	}
	return strings.Join(lines, "\n")
}

// priorityClass maps a priority to its CSS class; a value that is not
// one of Falco's priorities gets the neutral one.
func priorityClass(p string) string {
	switch c := strings.ToLower(p); c {
	case "emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug":
		return "p-" + c
	}
	return "p-unknown"
}

// HTML renders r as one self-contained page. index is the link back to
// the list of reports, relative to the page (e.g. "../index.html").
func HTML(r *report.Report, index string) ([]byte, error) {
	type sample struct {
		Field  string
		Values []string
	}
	var samples []sample
	for k, v := range r.Samples {
		samples = append(samples, sample{k, v})
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].Field < samples[j].Field })
	seen := r.FirstSeen.String()
	if r.Occurrences > 1 {
		seen = fmt.Sprintf("%d times, first %s, last %s", r.Occurrences, seen, r.LastSeen.String())
	}
	var b bytes.Buffer
	err := reportPage.Execute(&b, struct {
		R       *report.Report
		Index   string
		Seen    string
		Samples []sample
		Raw     string
	}{r, relativeHref(index), "Seen " + seen, samples, rawAlert(r)})
	if err != nil {
		return nil, fmt.Errorf("render report %s as HTML: %w", r.ID, err)
	}
	return b.Bytes(), nil
}

const indexTemplate = `{{define "title"}}Falco incident reports{{end}}<body>
<h1>Falco incident reports</h1>
<p class="meta">{{.Period}} · newest first · written {{.Generated}}</p>
{{- if .Counts}}
<p class="counts">{{range .Counts}}<span class="{{class .Key}}"><span class="badge">{{.Key | line}} {{.Reports}}</span></span>{{end}}</p>
{{- end}}
{{- if .Rows}}
<table>
<tr><th>Last seen</th><th>Priority</th><th>Rule</th><th>Host</th><th>Subject</th><th>Count</th><th>Report</th></tr>
{{- range .Rows}}
<tr class="{{class .E.Priority}}"><td><time datetime="{{.Time}}">{{.Shown}}</time></td><td><span class="badge">{{.E.Priority | line}}</span></td><td>{{.E.Rule | line}}</td><td>{{.E.Hostname | line}}</td><td>{{.E.Subject | line}}</td><td class="n">{{.E.Occurrences}}</td><td>{{if .Href}}<a href="{{.Href}}">{{.E.Title | line}}</a>{{else}}{{.E.Title | line}}{{end}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>No reports.</p>
{{- end}}
</body>
</html>
`

var indexPage = template.Must(template.New("index").Funcs(htmlFuncs).Parse(htmlHead + indexTemplate))

// HTMLIndex renders the list of reports, in the order given, as one
// self-contained page. Each entry's HTML file (else its Markdown) is
// linked; its paths must be relative to the page. period says which
// reports these are ("reports of the last 720h").
func HTMLIndex(es []report.Entry, period string, generated time.Time) ([]byte, error) {
	type row struct {
		E           *report.Entry
		Time, Shown string
		Href        string
	}
	rows := make([]row, len(es))
	counts := map[string]int{}
	for i := range es {
		e := &es[i]
		target := e.Files.HTML
		if target == "" {
			target = e.Files.Markdown
		}
		rows[i] = row{E: e, Time: e.LastSeen.UTC().Format(time.RFC3339), Shown: e.LastSeen.UTC().Format(tableTime), Href: relativeHref(target)}
		counts[e.Priority]++
	}
	var cs []report.Count
	for k, n := range counts {
		cs = append(cs, report.Count{Key: k, Reports: n})
	}
	sort.Slice(cs, func(i, j int) bool {
		a, b := priorityRank(cs[i].Key), priorityRank(cs[j].Key)
		return a < b || a == b && cs[i].Key < cs[j].Key
	})
	var b bytes.Buffer
	err := indexPage.Execute(&b, struct {
		Period, Generated string
		Counts            []report.Count
		Rows              []row
	}{period, generated.UTC().Format(tableTime), cs, rows})
	if err != nil {
		return nil, fmt.Errorf("render the index: %w", err)
	}
	return b.Bytes(), nil
}

func priorityRank(p string) int {
	for i, name := range []string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"} {
		if strings.EqualFold(p, name) {
			return i
		}
	}
	return 99
}

// relativeHref turns a relative file path into a link that can only be a
// relative path: each segment percent-encoded, prefixed with "./" unless
// it climbs with "..". "" stays "".
func relativeHref(path string) string {
	if path == "" {
		return ""
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	href := strings.Join(segs, "/")
	if !strings.HasPrefix(href, "../") {
		href = "./" + href
	}
	return href
}

// CSS is the style of every page, for tests that check a page holds only
// its own style.
const CSS = css
