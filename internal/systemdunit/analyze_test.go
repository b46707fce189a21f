package systemdunit

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest `systemd-analyze security` score the unit may
// have: what it rates today (systemd-hostnamed.service, a well-sandboxed
// service, rates 1.5). packaging/test-sandbox.sh checks the same online.
// AF_NETLINK, for the socket diagnostics that tell who opened a loopback
// connection to the HTTP input, costs 0.1 over the 0.9 it rated before.
const maxExposure = 1.0

// maxEvidenceExposure is the evidence collector's: it needs CAP_SYS_PTRACE
// and CAP_DAC_READ_SEARCH and the whole of /proc, and cannot use a user
// namespace of its own (see the unit's comments).
const maxEvidenceExposure = 1.1

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`)

// exposure runs `systemd-analyze security --offline=true` on a unit file and
// returns its overall exposure level (0 safest, 10 worst).
func exposure(t *testing.T, analyze, path string) float64 {
	t.Helper()
	out, err := run(t, "", analyze, "security", "--offline=true", "--no-pager", path)
	m := exposureRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze output (err %v):\n%s", err, out)
	}
	v, perr := strconv.ParseFloat(m[1], 64)
	if perr != nil {
		t.Fatalf("parse exposure %q: %v", m[1], perr)
	}
	return v
}

func TestSecurityExposure(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	bare := filepath.Join(t.TempDir(), "bare.service")
	writeFile(t, bare, "[Service]\nExecStart=/bin/true\n", 0o644)

	tests := []struct {
		name    string
		path    string
		wantMax float64 // the score must be at most this
		wantMin float64 // and at least this
	}{
		{name: "shipped unit", path: unitPath, wantMax: maxExposure},
		{name: "evidence collector unit", path: filepath.Join(repoRoot, "systemd", "falco-reporter-evidence.service"), wantMax: maxEvidenceExposure},
		// The bare unit proves the parse and the bound can fail.
		{name: "bare unit is rated unsafe", path: bare, wantMin: 5, wantMax: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := exposure(t, analyze, tc.path)
			t.Logf("exposure level: %.1f", got)
			if got > tc.wantMax || got < tc.wantMin {
				t.Errorf("exposure level %.1f, want between %.1f and %.1f", got, tc.wantMin, tc.wantMax)
			}
		})
	}
}

// fakeBinary writes an executable stand-in for /usr/bin/falco-reporter, which
// `systemd-analyze verify` insists exists.
func fakeBinary(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "falco-reporter")
	writeFile(t, path, "#!/bin/sh\nexit 0\n", 0o755)
	return path
}

// TestVerify runs `systemd-analyze verify` on a copy of the unit whose
// ExecStart points at a stand-in binary (verify reports a missing
// /usr/bin/falco-reporter otherwise); everything else is the shipped text.
// verify must print nothing.
func TestVerify(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	unit := readFile(t, unitPath)
	const exec = "ExecStart=/usr/bin/falco-reporter "
	if strings.Count(unit, exec) != 1 {
		t.Fatalf("unit must have exactly one line starting %q", exec)
	}

	tests := []struct {
		name       string
		mutate     func(string) string
		wantOutput string // "" means verify must print nothing
	}{
		{name: "shipped unit", mutate: func(s string) string { return s }},
		{
			name: "unknown key is reported",
			mutate: func(s string) string {
				return strings.Replace(s, "[Service]\n", "[Service]\nProtectEverything=yes\n", 1)
			},
			wantOutput: "ProtectEverything",
		},
		{
			name:       "missing binary is reported",
			mutate:     func(s string) string { return strings.Replace(s, exec, "ExecStart=/nonexistent/falco-reporter ", 1) },
			wantOutput: "/nonexistent/falco-reporter",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := fakeBinary(t, dir)
			text := strings.Replace(tc.mutate(unit), exec, "ExecStart="+bin+" ", 1)
			path := filepath.Join(dir, "falco-reporter.service")
			writeFile(t, path, text, 0o644)

			out, err := run(t, dir, analyze, "verify", path)
			if tc.wantOutput == "" {
				if out != "" || err != nil {
					t.Errorf("systemd-analyze verify: err %v, output:\n%s", err, out)
				}
				return
			}
			if !strings.Contains(out, tc.wantOutput) {
				t.Errorf("verify output lacks %q:\n%s", tc.wantOutput, out)
			}
		})
	}
}

// TestVerifyFalcoDropIn loads the falco.service drop-in on top of a stand-in
// falco.service; systemd-analyze verify reads drop-in directories next to the
// unit, so syntax errors in the drop-in show up.
func TestVerifyFalcoDropIn(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	dropIn := readFile(t, filepath.Join(repoRoot, "systemd", "falco-socket-access.conf"))

	tests := []struct {
		name       string
		extra      string
		wantOutput string
	}{
		{name: "shipped drop-in"},
		{name: "bad key is reported", extra: "ExecStartPostt=/bin/true\n", wantOutput: "ExecStartPostt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Like Falco's packaged units: UMask=0077, 30 s timeout.
			falco := filepath.Join(dir, "falco.service")
			writeFile(t, falco, "[Unit]\nDescription=stand-in Falco\n[Service]\nExecStart=/bin/sleep 60\nUMask=0077\nTimeoutSec=30\n", 0o644)
			writeFile(t, filepath.Join(dir, "falco.service.d", "falco-reporter.conf"), dropIn+tc.extra, 0o644)

			out, err := run(t, dir, analyze, "verify", falco)
			if tc.wantOutput == "" {
				if out != "" || err != nil {
					t.Errorf("systemd-analyze verify: err %v, output:\n%s", err, out)
				}
				return
			}
			if !strings.Contains(out, tc.wantOutput) {
				t.Errorf("verify output lacks %q:\n%s", tc.wantOutput, out)
			}
		})
	}
}
