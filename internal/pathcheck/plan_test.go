package pathcheck

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/config"
)

// mkTree creates the directories and (with a trailing content) files under
// root: "a/" is a directory, "a/f" a file.
func mkTree(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if p[len(p)-1] == '/' {
			if err := os.MkdirAll(full, 0o750); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// brief is an Item without its Role, with paths under a base directory
// relative to it.
type brief struct {
	Path     string
	Access   Access
	Optional bool
	Root     string
}

func briefs(base string, items []Item) []brief {
	rel := func(p string) string {
		if p == "" || !within(p, base) {
			return p
		}
		r, _ := filepath.Rel(base, p)
		return r
	}
	out := make([]brief, 0, len(items))
	for _, it := range items {
		out = append(out, brief{rel(it.Path), it.Access, it.Optional, rel(it.Root)})
	}
	return out
}

func TestState(t *testing.T) {
	base := t.TempDir()
	mkTree(t, base,
		"state/spool/00000000000000000001.seg", "state/spool/watermark", "state/file-input.json",
		"state/reports/.lock", "state/reports/2026-04-02/r.md", "state/reports/stray-file",
		"elsewhere/2026-04-03/",
	)
	if err := os.Symlink("/etc", filepath.Join(base, "state/link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		state   string
		reports string
		want    []brief
	}{
		{
			name: "reports inside the state directory", state: "state", reports: "state/reports",
			want: []brief{
				{"state", WriteDir, true, "state"},
				{"state/file-input.json", Write, false, "state"},
				{"state/spool", WriteDir, false, "state"},
				{"state/spool/00000000000000000001.seg", Write, false, "state"},
				{"state/spool/watermark", Write, false, "state"},
				{"state/reports", WriteDir, true, "state"},
				{"state/reports/.lock", Write, false, "state"},
				{"state/reports/2026-04-02", WriteDir, false, "state"},
			},
		},
		{
			name: "reports elsewhere", state: "state/spool", reports: "elsewhere",
			want: []brief{
				{"state/spool", WriteDir, true, "state/spool"},
				{"state/spool/00000000000000000001.seg", Write, false, "state/spool"},
				{"state/spool/watermark", Write, false, "state/spool"},
				{"elsewhere", WriteDir, true, "elsewhere"},
				{"elsewhere/2026-04-03", WriteDir, false, "elsewhere"},
			},
		},
		{
			name: "nothing there yet", state: "new", reports: "new/reports",
			want: []brief{
				{"new", WriteDir, true, "new"},
				{"new/reports", WriteDir, true, "new"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.StateDir, cfg.Reports.Dir = filepath.Join(base, tt.state), filepath.Join(base, tt.reports)
			if got := briefs(base, State(&cfg)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("State:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestServiceUnixSocket(t *testing.T) {
	// The shipped config names TLS files, which a unix socket never uses.
	cfg, err := config.Load("../../configs/falco-reporter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := briefs("", Service(cfg, "/etc/falco-reporter/falco-reporter.yaml"))
	want := []brief{
		{"/etc/falco-reporter/falco-reporter.yaml", Read, false, ""},
		{"/var/lib/falco-reporter", WriteDir, true, "/var/lib/falco-reporter"},
		{"/run/falco/falco.sock", Connect, true, ""},
	}
	if len(got) < len(want) || got[0] != want[0] || got[1] != want[1] || got[len(got)-1] != want[2] {
		t.Errorf("Service of the shipped config:\n got %v\nwant %v, with the state tree between", got, want)
	}
}

func TestService(t *testing.T) {
	base := t.TempDir()
	mkTree(t, base, "playbooks/a.yaml", "playbooks/b.yaml", "playbooks/notes.txt", "state/")
	cfg, err := config.Parse([]byte(`
falco:
  grpc:
    address: falco.example:5060
    cert: /tls/c.crt
    key: /tls/c.key
    ca: /tls/ca.crt
  http:
    listen: 127.0.0.1:2801
    tls: {cert: /tls/h.crt, key: /tls/h.key}
  file:
    path: /var/log/falco/events.json
state_dir: ` + base + `/state
reports:
  dir: ` + base + `/state/reports
  playbooks_dir: ` + base + `/playbooks
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{"c.yaml", Read, false, ""},
		{"state", WriteDir, true, "state"},
		{"state/reports", WriteDir, true, "state"},
		{"playbooks", List, false, ""},
		{"playbooks/a.yaml", Read, false, ""},
		{"playbooks/b.yaml", Read, false, ""},
		{"/var/log/falco/events.json", Read, true, ""},
		{"/tls/c.crt", Read, false, ""},
		{"/tls/c.key", Read, false, ""},
		{"/tls/ca.crt", Read, false, ""},
		{"/tls/h.crt", Read, false, ""},
		{"/tls/h.key", Read, false, ""},
	}
	if got := briefs(base, Service(cfg, filepath.Join(base, "c.yaml"))); !reflect.DeepEqual(got, want) {
		t.Errorf("Service:\n got %v\nwant %v", got, want)
	}
}
