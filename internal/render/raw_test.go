package render_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// rawSection returns the body of the Markdown report's raw-alert block.
func rawSection(t *testing.T, md string) string {
	t.Helper()
	i := strings.Index(md, "## Raw alert\n\n")
	if i < 0 {
		t.Fatal("no raw alert section")
	}
	return md[i:]
}

func TestRawAlertAsReceived(t *testing.T) {
	// Falco with json_include_output_fields_property and tags switched
	// off; the keys in falcosidekick's order, with its uuid.
	body := `{"uuid":"9b2c","output":"10:00:01.000000000: Warning Sensitive file opened for reading by non-trusted program | file=/etc/shadow","priority":"Warning","rule":"Read sensitive file untrusted","time":"2026-04-02T10:00:01.5Z","source":"syscalls","hostname":"web-1"}` + "\n"
	a, err := event.ParseJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	r, err := rules.Default().Build(&a)
	if err != nil {
		t.Fatal(err)
	}
	rules.Received(&r, &a)
	raw := rawSection(t, string(render.Markdown(&r)))
	want := "{\n  \"uuid\": \"9b2c\",\n  \"output\": \"10:00:01.000000000: Warning Sensitive"
	if !strings.Contains(raw, want) || !strings.Contains(raw, `"source": "syscalls"`) || !strings.Contains(raw, `"time": "2026-04-02T10:00:01.5Z"`) {
		t.Errorf("raw alert is not the alert as received:\n%s", raw)
	}
	for _, invented := range []string{`"output_fields"`, `"tags"`} {
		if strings.Contains(raw, invented) {
			t.Errorf("raw alert shows %s, which the alert did not have:\n%s", invented, raw)
		}
	}
	js, err := render.JSON(&r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ Raw string }
	if err := json.Unmarshal(js, &back); err != nil || back.Raw != body {
		t.Errorf("JSON report raw = %q, %v; want the body as received", back.Raw, err)
	}
}

func TestRawAlertHostile(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			doc, _ := json.Marshal(map[string]any{"rule": "Terminal shell in container", "priority": "Warning", "time": "2026-04-02T10:00:01Z",
				"output": h.value, "output_fields": map[string]string{"proc.cmdline": h.value}})
			a, err := event.ParseJSON(doc)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := rules.Default().Build(&a)
			rules.Received(&r, &a)
			md := string(render.Markdown(&r))
			checkClean(t, md)
			checkMarkdown(t, md)
			// A raw alert cut at event.MaxRaw is no longer JSON: shown as is.
			r.Raw = event.RawText([]byte(`{"output":"` + strings.Repeat(h.value, event.MaxRaw/len(h.value)+1)))
			md = string(render.Markdown(&r))
			checkClean(t, md)
			checkMarkdown(t, md)
			if !strings.Contains(md, "bytes shown]") {
				t.Error("a cut raw alert does not say so")
			}
		})
	}
}
