package render

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// evidenceHTML is the HTML page's "Evidence at alert time" section; the
// Markdown renderer's evidence says what each part is.
const evidenceHTML = `{{with .}}
<h2>Evidence at alert time</h2>
<p>Snapshot {{evstatus . | value}}.{{if .TakenAt}} Looked at <code>{{.TakenAt.String}}</code>, {{printf "%.1f" .DelayMS}} ms after the alert, for {{printf "%.1f" .TookMS}} ms.{{end}} Never read: the environment, memory and file contents.</p>
{{- with .Process}}
<table>
<tr><th scope="row">PID, parent</th><td>{{.PID}}, {{.PPID}}</td></tr>
<tr><th scope="row">Started</th><td><code>{{.Start.String}}</code></td></tr>
<tr><th scope="row">Executable</th><td><code>{{.Exe | value}}</code>{{if .ExeDeleted}} (deleted since it started){{end}}</td></tr>
<tr><th scope="row">SHA-256 of the running executable</th><td>{{if .SHA256}}<code>{{.SHA256 | line}}</code> ({{.ExeSize}} bytes){{else}}not taken{{end}}</td></tr>
<tr><th scope="row">Command line</th><td><code>{{argv .Cmdline | value}}</code></td></tr>
<tr><th scope="row">Working directory</th><td><code>{{.Cwd | value}}</code></td></tr>
<tr><th scope="row">UIDs, GIDs (real, effective, saved, fs)</th><td><code>{{ints .UIDs}}</code>, <code>{{ints .GIDs}}</code></td></tr>
<tr><th scope="row">Effective capabilities</th><td><code>{{join .Capabilities.Names | line}}</code> (<code>{{.Capabilities.Effective | line}}</code>)</td></tr>
<tr><th scope="row">No new privileges, seccomp, tracer</th><td>{{.NoNewPrivs}}, {{.Seccomp}}, {{.TracerPID}}</td></tr>
<tr><th scope="row">Cgroup</th><td><code>{{join .Cgroup | value}}</code></td></tr>
<tr><th scope="row">Namespaces</th><td>{{range .Namespaces}}<code>{{.Type | line}}:[{{.Inode}}]</code>{{if and .Host (not (deref .Host))}} (not the host's){{end}} {{end}}</td></tr>
</table>
{{- if .FDs}}
<p>Open file descriptors ({{len .FDs}}):</p>
<ul>{{range .FDs}}<li>{{.Num}}: <code>{{.Target | value}}</code></li>{{end}}</ul>
{{- end}}
{{- if .Sockets}}
<table>
<tr><th>Socket fd</th><th>Protocol</th><th>Local</th><th>Remote</th><th>State</th></tr>
{{- range .Sockets}}
<tr><td>{{.FD}}</td><td>{{.Proto | line}}</td><td><code>{{.Local | line}}</code></td><td><code>{{.Remote | line}}</code></td><td>{{.State | line}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- end}}
{{- if .Ancestry}}
<p>Ancestry, up to PID 1:</p>
<ul>{{range .Ancestry}}<li>{{.PID}}{{if .Exe}} <code>{{.Exe | value}}</code>{{end}}{{if .Cmdline}}: <code>{{argv .Cmdline | value}}</code>{{end}}{{if .Note}} ({{.Note | value}}){{end}}</li>{{end}}</ul>
{{- end}}
{{- if .Files}}
<table>
<tr><th>Path (lstat, no link followed)</th><th>Type</th><th>Mode</th><th>Inode</th><th>Links</th><th>Owner</th><th>Size</th><th>Modified</th><th></th></tr>
{{- range .Files}}
{{- if .Error}}
<tr><td><code>{{.Path | value}}</code></td><td colspan="8">{{.Error | value}}</td></tr>
{{- else}}
<tr><td><code>{{.Path | value}}</code></td><td>{{.Type | line}}</td><td><code>{{.Mode | line}}</code></td><td>{{.Inode}} on {{.Device | line}}</td><td>{{.Links}}</td><td>{{.UID}}:{{.GID}}</td><td>{{.Size}}</td><td>{{with .MTime}}<code>{{.String}}</code>{{end}}</td><td>{{if .Target}}link to <code>{{.Target | value}}</code> (not followed){{end}}{{range .SameAs}} same file as <code>{{. | value}}</code>{{end}}</td></tr>
{{- end}}
{{- end}}
</table>
{{- end}}
{{- if .Sysctls}}
<table>
<tr><th>sysctl</th><th>Value</th></tr>
{{- range .Sysctls}}
<tr><td><code>{{.Name | line}}</code></td><td>{{if .Error}}{{.Error | value}}{{else}}<code>{{.Value | value}}</code>{{end}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- if .Notes}}
<p>Not complete:</p>
<ul>{{range .Notes}}<li>{{. | value}}</li>{{end}}</ul>
{{- end}}
{{- end}}`

var _ = template.Must(reportPage.Funcs(template.FuncMap{
	"argv":  argv,
	"ints":  ints,
	"join":  func(s []string) string { return strings.Join(s, " ") },
	"deref": func(b *bool) bool { return *b },
	"evstatus": func(ev *report.Evidence) string {
		s, ok := evidenceStatus[ev.Status]
		switch {
		case !ok:
			return "status " + ev.Status
		case ev.Reason != "":
			short, _, _ := strings.Cut(s, ":")
			return fmt.Sprintf("%s: %s", short, strings.TrimSuffix(ev.Reason, "."))
		}
		return s
	},
}).New("evidence").Parse(evidenceHTML))
