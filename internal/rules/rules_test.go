package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// falcoRules reads the testdata copies of Falco's rules files.
func falcoRules(t *testing.T) map[string][]FalcoRule {
	t.Helper()
	return readRules(t, "testdata/falco-rules/*.yaml", 3)
}

// pluginRules reads the testdata copies of the rules files of Falco's
// plugins (k8s_audit, aws_cloudtrail, gcp_auditlog, github, okta).
func pluginRules(t *testing.T) map[string][]FalcoRule {
	t.Helper()
	return readRules(t, "testdata/falco-rules/plugins/*.yaml", 5)
}

// readRules parses the want rules files that glob matches, by base name.
func readRules(t *testing.T, glob string, want int) map[string][]FalcoRule {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) != want {
		t.Fatalf("testdata rules files %s: %v %v", glob, files, err)
	}
	out := map[string][]FalcoRule{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := ParseFalcoRules(data)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = rs
	}
	return out
}

func TestEveryFalcoRuleHasADedicatedPlaybook(t *testing.T) {
	table := Default()
	want := map[string]int{"falco_rules.yaml": 25, "falco-incubating_rules.yaml": 31, "falco-sandbox_rules.yaml": 37}
	for file, rs := range falcoRules(t) {
		if len(rs) != want[file] {
			t.Errorf("%s: %d rules, want %d", file, len(rs), want[file])
		}
		for _, r := range rs {
			if _, ok := table.Lookup(r.Source, r.Rule); !ok {
				t.Errorf("%s: no playbook for %q", file, r.Rule)
			}
		}
	}
}

func TestPlaybooksMatchTheirRules(t *testing.T) {
	byName := map[Key]FalcoRule{}
	for _, rs := range falcoRules(t) {
		for _, r := range rs {
			byName[Key{r.Source, r.Rule}] = r
		}
	}
	for _, rs := range pluginRules(t) {
		for _, r := range rs {
			byName[Key{r.Source, r.Rule}] = r
		}
	}
	for _, pb := range builtinPlaybookList(t) {
		t.Run(pb.Spec.Rule, func(t *testing.T) {
			r, ok := byName[Key{pb.Spec.Source, pb.Spec.Rule}]
			if !ok {
				t.Fatalf("playbook for a rule that is not in Falco's rules files")
			}
			for _, err := range Lint(pb, r) {
				t.Error(err)
			}
			lintSteps(t, pb)
		})
	}
}

// lintSteps checks what the loader does not: that every section has
// content and that commands quote alert values.
func lintSteps(t *testing.T, pb *Playbook) {
	s := pb.Spec
	for name, steps := range map[string][]StepSpec{"investigation": s.Investigation, "false_positives": s.FalsePositives, "remediation": s.Remediation} {
		if len(steps) == 0 {
			t.Errorf("%s is empty", name)
		}
		for i, st := range steps {
			if strings.TrimSpace(st.Text.S) == "" {
				t.Errorf("%s step %d has no text", name, i+1)
			}
			if strings.Contains(st.Cmd.S, `{{.V`) {
				t.Errorf("%s step %d: a command must quote values with .Q, not show them with .V", name, i+1)
			}
		}
	}
	for i, st := range s.Investigation {
		if st.Cmd.S != "" && !ReadOnly(st.Cmd.S) {
			t.Errorf("investigation step %d is not read-only: %s", i+1, st.Cmd.S)
		}
	}
	if len(s.MITRE) == 0 {
		t.Errorf("no curated mitre list: name the ATT&CK techniques this activity maps to")
	}
	if len(s.Exception) == 0 {
		t.Errorf("no exception fields")
	}
	if len(s.Investigation) < 2 {
		t.Errorf("only %d investigation steps", len(s.Investigation))
	}
}

func builtinPlaybookList(t *testing.T) []*Playbook {
	t.Helper()
	names, err := builtinFiles()
	if err != nil {
		t.Fatal(err)
	}
	var out []*Playbook
	for _, name := range names {
		data, err := builtin.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		pbs, err := LoadPlaybooks(name, data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pbs...)
	}
	return out
}

func TestReadOnly(t *testing.T) {
	tests := []struct {
		cmd  string
		want bool
	}{
		{"ls -li -- /etc/shadow", true},
		{"find / -xdev -samefile /etc/shadow 2>/dev/null", true},
		{"journalctl -u falco | grep -F -- x", true},
		{"sysctl fs.protected_hardlinks", true},
		{"kubectl -n ns describe pod p", true},
		{"rm -- /tmp/x", false},
		{"chmod 600 /etc/shadow", false},
		{"chown nobody /etc/shadow", false},
		{"kill -9 123", false},
		{"mv a b", false},
		{"cat x > y", false},
		{"echo 1 | tee /proc/sys/x", false},
		{"sed -i s/a/b/ f", false},
		{"sysctl -w fs.protected_hardlinks=1", false},
		{"kubectl -n ns delete pod p", false},
		{"crictl exec abc ls", false},
		{"ls; rm -rf /", false},
		{"find / -name x | xargs rm", false},
		{"sudo chmod 777 /", false},
		{"journalctl -t useradd -t passwd", true},
		{"grep -F -- kill /var/log/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			if got := ReadOnly(tt.cmd); got != tt.want {
				t.Errorf("ReadOnly(%q) = %v, want %v", tt.cmd, got, tt.want)
			}
		})
	}
}

func TestLoadPlaybooksErrors(t *testing.T) {
	base := `playbooks:
  - rule: My rule
    fields: [proc.name, fd.name]
    title: 'x {{.V "proc.name"}}'
    summary: s
    why: w
    facts: [{label: File, field: fd.name}]
    investigation: [{text: look, cmd: 'ls -l -- {{.Q "fd.name"}}'}]
    false_positives: [{text: none}]
    remediation: [{text: fix}]
`
	tests := []struct {
		name, yaml, want string
	}{
		{"valid", base, ""},
		{"unknown key names line", strings.Replace(base, "    why: w\n", "    why: w\n    whyy: w\n", 1), `line 7: field whyy not found`},
		{"unknown field reference names line", strings.Replace(base, `ls -l -- {{.Q "fd.name"}}`, `ls -l -- {{.Q "fd.nmae"}}`, 1), `custom.yaml:8: playbook "My rule": investigation step 1 cmd refers to field "fd.nmae"`},
		{"fact with unknown field", strings.Replace(base, "field: fd.name}", "field: fd.path}", 1), `fact File refers to field "fd.path"`},
		{"template syntax error", strings.Replace(base, `'x {{.V "proc.name"}}'`, `'x {{.V "proc.name"'`, 1), `custom.yaml:4:`},
		{"unknown method", strings.Replace(base, "summary: s", "summary: '{{.Nope}}'", 1), `can't evaluate field Nope`},
		{"writing investigation", strings.Replace(base, `ls -l -- {{.Q "fd.name"}}`, `rm -- {{.Q "fd.name"}}`, 1), "not read-only"},
		{"change without changes", strings.Replace(base, "remediation: [{text: fix}]", `remediation: [{text: fix, cmd: 'rm -- {{.Q "fd.name"}}'}]`, 1), "does not say what"},
		{"empty section", strings.Replace(base, "false_positives: [{text: none}]", "false_positives: []", 1), "false_positives has no steps"},
		{"bad field name", strings.Replace(base, "fields: [proc.name, fd.name]", "fields: [proc.name, 'fd name']", 1), "not a Falco field name"},
		{"empty file", "", "empty playbook file"},
		{"Is takes a field then a value", strings.Replace(base, "summary: s", `summary: '{{if .Is "fd.name" "/etc/shadow"}}shadow{{end}}{{if .HasPrefix "fd.name" "/etc"}}etc{{end}}'`, 1), ""},
		{"Is checks its field", strings.Replace(base, "summary: s", `summary: '{{if .Is "fd.nmae" "/etc/shadow"}}shadow{{end}}'`, 1), `refers to field "fd.nmae"`},
		{"bad when", strings.Replace(base, "{text: none}", "{text: none, when: pod}", 1), "when must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPlaybooks("custom.yaml", []byte(tt.yaml))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBuildRecoversFromPanickingHandler(t *testing.T) {
	table := NewTable(Generic)
	table.Add("syscall", "boom", func(*event.Alert) report.Report { panic("bad value") })
	r, err := table.Build(&event.Alert{Rule: "boom", Source: "syscall"})
	if err == nil || !strings.Contains(err.Error(), `"boom" panicked`) {
		t.Fatalf("err = %v", err)
	}
	if r.Handler != "generic" || r.Rule != "boom" {
		t.Errorf("fallback report = %+v", r)
	}
}

func TestMITRE(t *testing.T) {
	tests := []struct {
		tags []string
		want []report.Technique
	}{
		// A technique takes the tactic of the rule's mitre_* tag it
		// belongs to; a tactic-only tag makes no row.
		{[]string{"maturity_stable", "host", "mitre_credential_access", "T1555", "mitre_persistence"},
			[]report.Technique{{ID: "T1555", Name: "Credentials from Password Stores", Tactic: "Credential Access"}}},
		{[]string{"mitre_persistence", "T1053.003"},
			[]report.Technique{{ID: "T1053.003", Name: "Scheduled Task/Job: Cron", Tactic: "Persistence"}}},
		// Without a matching tactic tag, the technique's first tactic.
		{[]string{"T1053.003"},
			[]report.Technique{{ID: "T1053.003", Name: "Scheduled Task/Job: Cron", Tactic: "Execution"}}},
		// Ids ATT&CK does not know make no row.
		{[]string{"T9999", "TA0003", "mitre_discovery"}, []report.Technique{}},
	}
	for _, tt := range tests {
		if got := MITRE(tt.tags); !slices.Equal(got, tt.want) {
			t.Errorf("MITRE(%v) = %+v, want %+v", tt.tags, got, tt.want)
		}
	}
}

func TestPlaybookMITRE(t *testing.T) {
	load := func(mitre string) error {
		_, err := LoadPlaybooks("t.yaml", []byte(`playbooks:
  - rule: R
    fields: [proc.name, proc.pname]
    mitre: `+mitre+`
    title: t
    summary: s
    why: 'Scheduled tasks (T1053.003) persist.'
    facts: [{label: P, field: proc.name}]
    investigation: [{text: i}]
    false_positives: [{text: f}]
    remediation: [{text: r}]
`))
		return err
	}
	for mitre, want := range map[string]string{
		`[{id: T1053.003, tactic: persistence}]`: "",
		`[T1053.003]`:                            "serves several tactics",
		`[{id: T1053.003, tactic: Discovery}]`:   "does not belong to tactic",
		`[T1053.999]`:                            "is not an ATT&CK Enterprise",
		`[T1003.008]`:                            "names ATT&CK T1053.003, which is not in the playbook's mitre list",
	} {
		err := load(mitre)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("mitre: %s: got %v, want %q", mitre, err, want)
		}
	}
}

func TestOptAndVOr(t *testing.T) {
	a := &event.Alert{Fields: event.Fields{"proc.pname": event.Str("bash"), "proc.pcmdline": event.Value{Kind: event.Null}}}
	c := &Ctx{a: a}
	for _, tt := range []struct{ got, want string }{
		{plain(c.Opt(", started by %s", "proc.pname")), ", started by bash"},
		{plain(c.Opt(", started by %s (%s)", "proc.pname", "proc.pcmdline")), ""},
		{plain(c.VOr("proc.pcmdline", "not recorded")), "not recorded"},
		{plain(c.VOr("proc.pname", "x")), "bash"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	_, err := LoadPlaybooks("t.yaml", []byte(`playbooks:
  - rule: R
    fields: [proc.name]
    title: '{{.Opt "by %s" "proc.pname"}}'
    summary: s
    why: w
    facts: [{label: P, field: proc.name}]
    investigation: [{text: i}]
    false_positives: [{text: f}]
    remediation: [{text: r}]
`))
	if err == nil || !strings.Contains(err.Error(), `"proc.pname"`) {
		t.Errorf("a field in .Opt that is not among the rule's fields: %v", err)
	}
}

func TestUsrTwinAndPkgOwner(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/bash": "/bin/bash", "/bin/bash": "/usr/bin/bash", "/usr/sbin/sshd": "/sbin/sshd",
		"/lib/x86_64-linux-gnu/libc.so.6": "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/shadow": "", "/usr/local/bin/x": "",
	} {
		if got := usrTwin(in); got != want {
			t.Errorf("usrTwin(%q) = %q, want %q", in, got, want)
		}
	}
	c := &Ctx{a: &event.Alert{Fields: event.Fields{"fd.name": event.Str("/usr/bin/it's")}}}
	want := `if command -v dpkg >/dev/null 2>&1; then dpkg -S -- '/usr/bin/it'\''s' '/bin/it'\''s'; elif command -v rpm >/dev/null 2>&1; then rpm -qf -- '/usr/bin/it'\''s' '/bin/it'\''s'; else echo 'Neither dpkg nor rpm is installed: compare the file with the image or configuration management instead.' >&2; fi`
	if got := c.PkgOwner("fd.name"); got != want {
		t.Errorf("PkgOwner:\n got %s\nwant %s", got, want)
	}
}

// TestCommandTemplateChecks: in a command only the quoting methods place
// values; anything else is refused at load, naming the file and line.
func TestCommandTemplateChecks(t *testing.T) {
	for cmd, want := range map[string]string{
		`ls -l {{.Q "fd.name"}}`: "",
		`ls -l -- {{.QDir "fd.name"}}{{if .Has "proc.pid"}} x{{end}}`: "",
		`crictl inspect --template '{{"{{.info.pid}}"}}' x`:           "",
		`ls -l {{.V "fd.name"}}`:                                      `t.yaml:9: playbook "R": investigation step 1 cmd: {{.V "fd.name"}} places a value in a command without quoting it`,
		`ls {{.First "fd.name" "proc.name"}}`:                         "places a value in a command without quoting it",
		`ls {{printf "%s" .}}`:                                        "investigation step 1 cmd",
		`ls {{if .V "fd.name"}}x{{end}}`:                              "a condition must use",
		`ls {{.Q "fd.name" | printf "%s"}}`:                           "investigation step 1 cmd",
	} {
		_, err := LoadPlaybooks("t.yaml", []byte(`playbooks:
  - rule: R
    fields: [fd.name, proc.name, proc.pid, proc.pname]
    title: t
    summary: s
    why: w
    facts: [{label: F, field: fd.name}]
    investigation:
      - {text: i, cmd: '`+strings.ReplaceAll(cmd, "'", "''")+`'}
    false_positives: [{text: f}]
    remediation: [{text: r}]
`))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("cmd %s: got %v, want %q", cmd, err, want)
		}
	}
}
