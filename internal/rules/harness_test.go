package rules_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// The harness renders every playbook's report from variants of its sample
// alert (testdata/alerts): as received, as if on the host, with hostile
// values in every field, and with each field missing. The tests in
// shell_test.go, realrun_test.go and exception_test.go check what those
// reports contain.

// variant is one alert built for the harness, and the report for it.
type variant struct {
	name   string // sample/kind
	alert  event.Alert
	report report.Report
	// values are the hostile values placed in the alert, by field.
	values map[string]string
}

// command is one shell command of a report, with where it came from.
type command struct {
	where       string // variant, section and step
	cmd         string
	readOnly    bool // an investigation command: must not change anything
	investigate bool
}

// samples returns every sample alert with a dedicated playbook. Set
// HARNESS_ALERTS to a glob (falco_rules, falco-sandbox*) to check only the
// samples of some playbook files.
func samples(t *testing.T) []event.Alert {
	t.Helper()
	glob := "*"
	if g := os.Getenv("HARNESS_ALERTS"); g != "" {
		glob = g
	}
	files, _ := filepath.Glob("testdata/alerts/" + glob + ".jsonl")
	table := rules.Default()
	var out []event.Alert
	for _, f := range files {
		for n, line := range readLines(t, f) {
			a, err := event.ParseJSON(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", f, n+1, err)
			}
			if _, ok := table.Lookup(a.Source, a.Rule); ok && a.Source != event.SourceInternal {
				out = append(out, a)
			}
		}
	}
	if len(out) < 90 && os.Getenv("HARNESS_ALERTS") == "" {
		t.Fatalf("only %d sample alerts with a playbook", len(out))
	}
	return out
}

// clone returns a deep copy of a.
func clone(a event.Alert) event.Alert {
	a.Fields = maps.Clone(a.Fields)
	a.Tags = slices.Clone(a.Tags)
	return a
}

// onHost returns a as if it came from a process on the host.
func onHost(a event.Alert) event.Alert {
	a = clone(a)
	for _, f := range rules.ContainerFields {
		delete(a.Fields, f)
	}
	a.Fields["container.id"] = event.Str("host")
	return a
}

// inContainer returns a as if it came from a Kubernetes pod.
func inContainer(a event.Alert) event.Alert {
	a = clone(a)
	if !a.IsHost() {
		return a
	}
	a.Fields["container.id"] = event.Str("3ad7b26ded6d")
	a.Fields["container.name"] = event.Str("web")
	a.Fields["container.image.repository"] = event.Str("registry.example.com/shop/web")
	a.Fields["container.image.tag"] = event.Str("1.4.2")
	a.Fields["k8s.ns.name"] = event.Str("shop")
	a.Fields["k8s.pod.name"] = event.Str("web-6d8b9c7f4-kq2xz")
	return a
}

// payloads are hostile values, as an intruder would choose them for a file
// name or command line: command substitution, backticks, quotes that end
// the quoting, a newline that ends the command, arithmetic evaluation,
// option-looking words, terminal escapes and invisible characters. %s is
// the marker that tells which field the value was placed in.
var payloads = []string{
	// An option-looking word with command substitution, backticks,
	// quotes that end the quoting, and arithmetic evaluation.
	"--kubeconfig=/tmp/evil$(touch /tmp/%s) `touch /tmp/%s` ';touch /tmp/%s;' a[$(touch /tmp/%s)]",
	// A newline that ends the command, terminal escapes, a tag character,
	// a glob, a tilde, braces, a variable and a double quote.
	"/tmp/x\n';touch /tmp/%s;#\x1b]0;title\x07\U000E0041 /y\"*~{a,b} $HOME",
	// What breaks Falco's exception loader without any shell meaning:
	// double quotes and a backslash, inside a value with spaces.
	`/srv/app run "%s" shell_binaries end\`,
}

// hostile returns copies of a in which every free-text field holds a
// payload with a marker naming the field. Fields whose values are checked
// before they reach a command (container ids, PIDs, pod names) keep their
// real values, so that the commands using them are still produced; a
// second pass gives them hostile values too, and then no command may use
// them.
func hostile(a event.Alert, checked bool) []variant {
	var out []variant
	entry, _ := defaultTable().Lookup(a.Source, a.Rule)
	for i, p := range payloads {
		h := clone(a)
		// Fields the rule outputs but the sample lacks get a value too,
		// so that no command hides behind a field that happened to be
		// null in the sample.
		for _, f := range entry.Fields {
			if _, ok := h.Fields.Get(f); !ok {
				h.Fields[f] = event.Str("x")
			}
		}
		values := map[string]string{}
		n := 0
		for f, v := range h.Fields {
			if v.Missing() || f == "container.id" && h.IsHost() {
				continue
			}
			if rules.HasValueCheck(f) && !checked {
				continue
			}
			n++
			marker := fmt.Sprintf("pwn%dx%dz", i, n)
			val := strings.ReplaceAll(p, "%s", marker)
			h.Fields[f] = event.Str(val)
			values[f] = val
		}
		h.Rule = a.Rule // a dedicated playbook matches by rule name
		out = append(out, variant{name: fmt.Sprintf("hostile%d", i), alert: h, values: values})
	}
	return out
}

// defaultTable is the built-in table, loaded once for the harness.
var defaultTable = sync.OnceValue(rules.Default)

// build renders a variant's report.
func build(t *testing.T, table *rules.Table, v *variant) {
	t.Helper()
	r, err := table.Build(&v.alert)
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	if r.Handler != report.HandlerDedicated {
		t.Fatalf("%s: %s handler", v.name, r.Handler)
	}
	v.report = r
}

// commands lists the shell commands of a report.
func commands(v variant) []command {
	var out []command
	for _, sec := range []struct {
		name  string
		steps []report.Step
		ro    bool
	}{{"investigation", v.report.Investigation, true}, {"false_positives", v.report.FalsePositives, true}, {"remediation", v.report.Remediation, false}} {
		for i, s := range sec.steps {
			if s.Command != "" {
				out = append(out, command{where: fmt.Sprintf("%s: %s: %s step %d", v.alert.Rule, v.name, sec.name, i+1), cmd: s.Command, readOnly: sec.ro, investigate: sec.name == "investigation"})
			}
		}
	}
	return out
}

// allVariants builds, for every sample, the realistic, host, container and
// hostile variants with their reports.
func allVariants(t *testing.T) []variant {
	t.Helper()
	table := defaultTable()
	var out []variant
	for _, a := range samples(t) {
		base := []variant{{name: "sample", alert: a}, {name: "host", alert: onHost(a)}, {name: "container", alert: inContainer(a)}}
		if a.Source != event.SourceSyscall {
			// A Kubernetes audit event or a CloudTrail call has no
			// host or container of its own: only the sample, hostile.
			base = []variant{{name: "sample", alert: a}, {name: "source", alert: clone(a)}}
		}
		for _, b := range base[1:] {
			for _, h := range hostile(b.alert, false) {
				h.name = b.name + "-" + h.name
				base = append(base, h)
			}
			// Checked fields with hostile values: one payload is enough
			// to show that no command uses them.
			h := hostile(b.alert, true)[0]
			h.name = b.name + "-" + h.name + "-typed"
			base = append(base, h)
		}
		for i := range base {
			build(t, table, &base[i])
		}
		out = append(out, base...)
	}
	return out
}

// need returns the path of a program the harness needs. Under CI
// (FALCO_REPORTER_REQUIRE_SHELLS set) a missing program fails the test;
// elsewhere the test is skipped.
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FALCO_REPORTER_REQUIRE_SHELLS") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// alwaysPresent are the fields Falco fills for every syscall event: the
// thread's name, executable and user, and the event's type.
var alwaysPresent = map[string]bool{"proc.name": true, "proc.exepath": true, "evt.type": true, "user.name": true, "user.uid": true}

// TestMissingFields renders every playbook with each of its sample's fields
// missing in turn, as Falco sends them when a value is unknown (null,
// "<NA>" or ""): the report must read as written for that alert, never
// "Process (unknown)" or an empty value.
func TestMissingFields(t *testing.T) {
	table := rules.Default()
	for _, a := range samples(t) {
		for f := range a.Fields {
			if f == "container.id" || alwaysPresent[f] {
				continue // container.id's absence means "on the host", tested by the host variant
			}
			v := variant{name: "without " + f, alert: clone(a)}
			v.alert.Fields[f] = event.Value{Kind: event.Null}
			build(t, table, &v)
			for _, part := range []struct {
				what string
				text report.Text
			}{{"title", v.report.Title}, {"summary", v.report.Summary}} {
				for _, s := range part.text {
					if strings.Contains(s.S, "(unknown)") || s.Value && strings.TrimSpace(s.S) == "" {
						t.Errorf("%s, %s: the %s reads %q", a.Rule, v.name, part.what, part.text.String())
						break
					}
				}
			}
		}
	}
}
