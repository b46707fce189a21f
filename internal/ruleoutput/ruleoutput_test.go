package ruleoutput

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/ruleoutput/gen"
)

// TestTemplatesUpToDate regenerates the table from the rules files in the
// repository and compares it with templates_gen.go.
func TestTemplatesUpToDate(t *testing.T) {
	files, _ := filepath.Glob("../rules/testdata/falco-rules/*.yaml")
	plugins, _ := filepath.Glob("testdata/plugins/*.yaml")
	if len(files) != 3 || len(plugins) != 5 {
		t.Fatalf("rules files: %v %v", files, plugins)
	}
	want, err := gen.Generate(append(files, plugins...))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("templates_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("templates_gen.go is stale: run go generate ./internal/ruleoutput")
	}
	if len(templates) < 230 {
		t.Errorf("%d templates, want every rule of Falco's 8 rules files", len(templates))
	}
}

// sensitiveOutput is what Falco 0.41+ prints for "Read sensitive file
// trusted after startup" with the container plugin loaded.
const sensitiveOutput = "2026-04-06T19:32:21.794850717+0000: Warning Sensitive file opened for reading by trusted program after startup | " +
	"file=/etc/shadow pcmdline=event-generator run syscall gparent=containerd-shim ggparent=<NA> gggparent=<NA> evt_type=openat " +
	"user=root user_uid=0 user_loginuid=-1 process=httpd proc_exepath=/bin/event-generator parent=event-generator " +
	"command=httpd --loglevel info run ^syscall.ReadSensitiveFileUntrusted$ --sleep 6s terminal=0 " +
	"container_id=920b85e0cae2 container_name=eventgen container_image_repository=falcosecurity/event-generator " +
	"container_image_tag=latest k8s_pod_name=<NA> k8s_ns_name=<NA>"

func TestRecover(t *testing.T) {
	a := event.Alert{Priority: event.PriorityWarning, Rule: "Read sensitive file trusted after startup", Source: "syscall", Output: sensitiveOutput}
	if n := Recover(&a); n != 20 {
		t.Errorf("recovered %d values, want 20", n)
	}
	for name, want := range map[string]string{
		"fd.name": "/etc/shadow", "proc.pcmdline": "event-generator run syscall", "proc.aname[2]": "containerd-shim",
		"proc.cmdline": "httpd --loglevel info run ^syscall.ReadSensitiveFileUntrusted$ --sleep 6s", "proc.tty": "0",
		"container.id": "920b85e0cae2", "container.image.repository": "falcosecurity/event-generator", "k8s.ns.name": "<NA>",
	} {
		if v := a.Fields[name]; v.Text != want || !v.Recovered {
			t.Errorf("%s = %+v, want %q recovered", name, v, want)
		}
	}
	// The report said "the host (not a container)" for this alert.
	if a.IsHost() || a.ContainerID() != "920b85e0cae2" {
		t.Errorf("IsHost %v, container %q", a.IsHost(), a.ContainerID())
	}
	if _, ok := a.Fields.Get("k8s.pod.name"); ok {
		t.Error("<NA> reads as a value")
	}

	t.Run("fields sent: nothing to do", func(t *testing.T) {
		b := a
		b.Fields = event.Fields{"fd.name": event.Str("/etc/passwd")}
		if Recover(&b) != 0 || len(b.Fields) != 1 {
			t.Errorf("changed %v", b.Fields)
		}
	})
	t.Run("message", func(t *testing.T) {
		msg := sensitiveOutput[strings.Index(sensitiveOutput, "Sensitive"):]
		b := event.Alert{Priority: event.PriorityWarning, Rule: a.Rule, Source: "syscall", Message: msg}
		if n := Recover(&b); n != 20 {
			t.Errorf("from message: %d values", n)
		}
	})
	t.Run("unknown rule: the appended container fields", func(t *testing.T) {
		b := event.Alert{Priority: event.PriorityWarning, Rule: "My rule", Source: "syscall",
			Output: "10:00:01.000000000: Warning my rule fired (user=root file=/x y) container_id=3ad7b26ded6d container_name=web container_image_repository=nginx container_image_tag=1.27 k8s_pod_name=web-0 k8s_ns_name=prod"}
		if n := Recover(&b); n != 6 || b.ContainerID() != "3ad7b26ded6d" || b.Fields["k8s.pod.name"].Text != "web-0" {
			t.Errorf("%d values: %v", n, b.Fields)
		}
	})
	t.Run("other template", func(t *testing.T) {
		b := event.Alert{Priority: event.PriorityWarning, Rule: a.Rule, Source: "syscall", Output: "10:00:01: Warning Sensitive file opened (user=root)"}
		if n := Recover(&b); n != 0 || b.Fields != nil {
			t.Errorf("recovered %v from text of another shape", b.Fields)
		}
	})
}

// TestRecoverHostile gives command lines and file names that repeat the
// template's own pieces ("terminal=", "container_id=") and checks that no
// value is ever recovered wrong: an ambiguous value is left out.
func TestRecoverHostile(t *testing.T) {
	tmpl, _ := Template("syscall", "Read sensitive file trusted after startup")
	full := parse(tmpl + suggested)
	pieces := []string{" terminal=", " container_id=", " user=", "=", " ", "| ", "<NA>", " k8s_ns_name=x", " command=", "\n", "x"}
	rng := rand.New(rand.NewPCG(1, 2))
	var exact, left int
	for round := range 3000 {
		values := make([]string, len(full.fields))
		var b strings.Builder
		b.WriteString(full.lits[0])
		for i := range full.fields {
			v := fmt.Sprintf("v%d", i)
			if rng.IntN(3) == 0 {
				for range rng.IntN(4) + 1 {
					v += pieces[rng.IntN(len(pieces))]
				}
			}
			values[i] = v
			b.WriteString(v)
			b.WriteString(full.lits[i+1])
		}
		a := event.Alert{Priority: event.PriorityWarning, Rule: "Read sensitive file trusted after startup", Source: "syscall",
			Output: "10:00:01.000000000: Warning " + b.String()}
		Recover(&a)
		for i, f := range full.fields {
			got, ok := a.Fields[f]
			if !ok {
				left++
				continue
			}
			if got.Text != values[i] {
				t.Fatalf("round %d: %s = %q, but Falco printed %q\noutput: %q", round, f, got.Text, values[i], a.Output)
			}
			exact++
		}
	}
	t.Logf("%d values recovered exactly, %d left out as ambiguous, none wrong", exact, left)
	if exact == 0 || left == 0 {
		t.Error("the test did not exercise both cases")
	}
}

// TestRecoverRealAlerts strips output_fields from the real published
// alerts in the rules package's test data and recovers them from the
// output text: every value recovered must be what Falco sent.
func TestRecoverRealAlerts(t *testing.T) {
	f, err := os.Open("../rules/testdata/real/samples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	total := 0
	for n := 1; sc.Scan(); n++ {
		a, err := event.ParseJSON(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		sent := a.Fields
		a.Fields = nil
		total += Recover(&a)
		for k, v := range a.Fields {
			want := sent[k].Text
			if sent[k].Kind == event.Null {
				want = "<NA>"
			}
			if v.Text != want {
				t.Errorf("line %d (%s): %s = %q, Falco sent %q", n, a.Rule, k, v.Text, want)
			}
		}
	}
	if total < 30 {
		t.Errorf("recovered %d values from the k8s audit alerts and others, want at least 30", total)
	}
}
