package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/vltest"
)

// journalUpload is Debian's systemd-journal-upload (package
// systemd-journal-remote).
const journalUpload = "/lib/systemd/systemd-journal-upload"

// requireChain skips the chain test when a part of the chain is missing,
// or fails it with FALCO_REPORTER_REQUIRE_FLEET=1 (.ci/run sets it).
func requireChain(t *testing.T) {
	t.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "not root: systemd-journal-upload must read the system journal"
	case !journalAlive():
		missing = "no journald: run .ci/journald.sh"
	}
	if missing == "" {
		if _, err := os.Stat(journalUpload); err != nil {
			missing = journalUpload + " missing: apt-get install systemd-journal-remote"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("FALCO_REPORTER_REQUIRE_FLEET") == "1" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}

// uploader runs systemd-journal-upload as its unit does (--save-state),
// and starts it again a second after it exits, as the drop-in in
// docs/fleet.md makes systemd do (it exits when the store is down).
type uploader struct {
	mu     sync.Mutex
	starts int
	log    bytes.Buffer
	cmd    *exec.Cmd
	stop   chan struct{}
	done   chan struct{}
}

func startUploader(t *testing.T, target, state string) *uploader {
	t.Helper()
	u := &uploader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for {
			cmd := exec.Command(journalUpload, "--url="+target, "--save-state="+state)
			u.mu.Lock()
			cmd.Stdout, cmd.Stderr = (*uploaderLog)(u), (*uploaderLog)(u)
			err := cmd.Start()
			if err == nil {
				u.starts++
				u.cmd = cmd
			}
			u.mu.Unlock()
			if err != nil {
				t.Errorf("start %s: %v", journalUpload, err)
				return
			}
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			select {
			case <-u.stop:
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-exited
				return
			case <-exited:
			}
			select {
			case <-u.stop:
				return
			case <-time.After(time.Second): // RestartSec
			}
		}
	}()
	t.Cleanup(u.close)
	return u
}

// uploaderLog writes journal-upload's output to u.log under u.mu: exec
// copies it from another goroutine while the test reads it.
type uploaderLog uploader

func (l *uploaderLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.Write(p)
}

func (u *uploader) close() {
	select {
	case <-u.stop:
	default:
		close(u.stop)
	}
	<-u.done
}

func (u *uploader) report() (int, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.starts, u.log.String()
}

// chainAlert is a Falco JSON alert of rule on host, about file.
func chainAlert(host, rule, priority, file string, at time.Time) []byte {
	a := map[string]any{
		"hostname": host, "output": "read " + file, "priority": priority, "rule": rule, "source": "syscall",
		"tags": []string{"T1555", "mitre_credential_access"}, "time": at.UTC().Format(time.RFC3339Nano),
		"output_fields": map[string]any{"fd.name": file, "proc.name": "cat", "proc.exepath": "/usr/bin/cat",
			"proc.cmdline": "cat " + file, "container.id": "host", "user.name": "root"},
	}
	b, _ := json.Marshal(a)
	return b
}

// incident is what the test expects to find listed.
type incident struct {
	host, rule, priority string
	occurrences          int
}

// TestFleetChain is the whole path to a fleet's store, with the real
// programs: the daemon writes reports and journal entries to a real
// journald; Debian's systemd-journal-upload uploads them to a real
// VictoriaLogs; `list --fleet` and `show --fleet` read them back and must
// print what `list` and `show` print from the reports directory. Then
// VictoriaLogs stops, more reports are written, and it starts again: the
// journal holds them, journal-upload resumes from its cursor, and every
// report arrives with its final count, once.
func TestFleetChain(t *testing.T) {
	requireChain(t)
	began := time.Now()
	vl := vltest.Start(t)
	dir := t.TempDir()
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	run := "chain-" + hex.EncodeToString(rnd)
	hosts := []string{run + "-a", run + "-b"}

	// journal-upload starts at the journal's end, as if it had uploaded
	// everything before.
	out, err := exec.Command("journalctl", "-n", "0", "--show-cursor", "--no-pager").Output()
	_, cursor, _ := strings.Cut(string(out), "-- cursor: ")
	cursor = strings.TrimSpace(cursor)
	if err != nil || !strings.HasPrefix(cursor, "s=") {
		t.Fatalf("journalctl --show-cursor: %v %q", err, out)
	}
	state := filepath.Join(dir, "upload-state")
	if err := os.WriteFile(state, []byte("LAST_CURSOR="+cursor+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := startUploader(t, vl.URL+"/insert/journald", state)

	addr := freePort(t)
	cfg := filepath.Join(dir, "falco-reporter.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`falco:
  http:
    listen: %s
state_dir: %s/state
reports:
  dir: %s/reports
incidents:
  window: 2s
  update_interval: 300ms
journal:
  reports: true
  report_json: true
log:
  output: console
`, addr, dir, dir)), 0o600)
	daemonCmd := daemon(t, cfg, addr)
	exe, err := filepath.EvalSymlinks(binary)
	if err != nil {
		t.Fatal(err)
	}
	// The daemon runs in no systemd unit here: its entries are told from
	// others' by the executable journald saw, a field no sender chooses.
	fleet := []string{"--fleet", vl.URL, "--fleet-filter", `_EXE:=` + quoteLogsQL(exe), "--host", run + "-*"}
	local := []string{"--dir", filepath.Join(dir, "reports")}

	var want []incident
	n := 0
	post := func(host, rule, priority string, repeats int) {
		n++
		file := fmt.Sprintf("/etc/%s-%02d", run, n)
		if strings.HasPrefix(rule, "Custom") {
			rule = fmt.Sprintf("%s %d", rule, n) // a rule without a playbook folds by rule, not by file
		}
		for i := range repeats {
			resp, err := http.Post("http://"+addr+"/", "application/json",
				bytes.NewReader(chainAlert(host, rule, priority, file, time.Now().Add(time.Duration(i)*time.Millisecond))))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("post: %s", resp.Status)
			}
		}
		want = append(want, incident{host, rule, priority, repeats})
	}
	rules := []struct{ rule, priority string }{
		{"Read sensitive file untrusted", "Warning"}, {"Write below binary dir", "Error"},
		{"Custom chain rule", "Critical"}, {"Read sensitive file trusted after startup", "Notice"},
	}
	for i := range 8 {
		post(hosts[i%2], rules[i%4].rule, rules[i%4].priority, 1+(i%3)*3)
	}
	checkListed(t, local, want, "the reports directory")
	waitSame(t, local, fleet, 45*time.Second)
	showSame(t, local, fleet)
	phase1 := time.Since(began)

	// The store goes away; the daemon goes on writing, the journal holds.
	vl.Stop(t)
	for i := range 5 {
		post(hosts[i%2], rules[(i+1)%4].rule, rules[(i+1)%4].priority, 1+(i%2)*4)
	}
	checkListed(t, local, want, "the reports directory, with the store down")
	// journal-upload tries, fails, exits and is started again; wait for
	// that rather than for a fixed time.
	startsDown, _ := up.report()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if starts, _ := up.report(); starts > startsDown {
			break
		}
		if time.Now().After(deadline) {
			_, log := up.report()
			t.Fatalf("journal-upload never failed within 30 s of the store going down (%d starts)\n%s", startsDown, log)
		}
	}
	vl.Begin(t)
	waitSame(t, local, fleet, 60*time.Second)
	showSame(t, local, fleet)
	checkListed(t, append(fleet[:len(fleet):len(fleet)], "--fleet-timeout", "30s"), want, "the fleet")

	// Every entry of the journal is in the store; an entry is there twice
	// only where journal-upload, started again, sent the entry at its
	// saved cursor once more (systemd 252 does).
	journalKeys := journalEntryKeys(t, hosts)
	storeKeys := storeEntryKeys(t, vl.URL, run)
	dups := 0
	for k, c := range storeKeys {
		if journalKeys[k] == 0 {
			t.Errorf("entry %s is in the store, not in the journal", k)
		}
		dups += c - 1
	}
	for k := range journalKeys {
		if storeKeys[k] == 0 {
			t.Errorf("entry %s never reached the store", k)
		}
	}
	starts, _ := up.report()
	if dups > starts-1 {
		t.Errorf("%d entries arrived twice, with %d restarts of journal-upload", dups, starts-1)
	}
	daemonCmd.Process.Signal(syscall.SIGTERM)
	_ = daemonCmd.Wait()
	t.Logf("%d reports, %d journal entries; journal-upload started %d times, %d entries sent twice; first pass %v, whole chain %v",
		len(want), len(journalKeys), starts, dups, phase1.Round(100*time.Millisecond), time.Since(began).Round(100*time.Millisecond))
}

// checkListed waits until list (with args) shows each expected incident
// once, on its host, with its rule, priority and final count.
func checkListed(t *testing.T, args []string, want []incident, where string) {
	t.Helper()
	var w []string
	for _, i := range want {
		w = append(w, fmt.Sprintf("%s | %s | %s | %d", i.host, i.rule, i.priority, i.occurrences))
	}
	sort.Strings(w)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := runBin(t, "", append([]string{"list", "--json"}, args...)...)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e struct {
				Rule, Priority, Hostname string
				Occurrences              int
			}
			if json.Unmarshal([]byte(line), &e) == nil {
				got = append(got, fmt.Sprintf("%s | %s | %s | %d", e.Hostname, e.Rule, e.Priority, e.Occurrences))
			}
		}
		sort.Strings(got)
		if strings.Join(got, "\n") == strings.Join(w, "\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: exit %d %s\nlisted:\n%s\nwant:\n%s", where, code, errOut, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitSame waits until list prints the same table from the fleet as from
// the directory.
func waitSame(t *testing.T, local, fleet []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l, _, _ := runBin(t, "", append([]string{"list"}, local...)...)
		f, errOut, _ := runBin(t, "", append([]string{"list"}, fleet...)...)
		if l == f && l != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("list --fleet differs from list --dir after %v\nfleet:\n%s%s\nlocal:\n%s", within, f, errOut, l)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// showSame checks that show prints every report the same from both.
func showSame(t *testing.T, local, fleet []string) {
	t.Helper()
	out, _, _ := runBin(t, "", append([]string{"list", "--json"}, local...)...)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"markdown", "json"} {
			l, _, _ := runBin(t, "", append(append([]string{"show", "--format", format}, local...), e.ID)...)
			f, errOut, code := runBin(t, "", append(append([]string{"show", "--format", format}, fleet...), e.ID)...)
			if code != 0 || f != l || l == "" {
				t.Errorf("show --fleet --format %s %s differs (exit %d) %s", format, e.ID, code, errOut)
			}
		}
	}
}

// journalEntryKeys returns the report entries of hosts in the journal, as
// REPORT_ID/OCCURRENCES/time keys.
func journalEntryKeys(t *testing.T, hosts []string) map[string]int {
	t.Helper()
	args := []string{"-o", "json", "--no-pager", "-q", "SYSLOG_IDENTIFIER=falco-reporter"}
	for _, h := range hosts {
		args = append(args, "FALCO_HOSTNAME="+h)
	}
	out, err := exec.Command("journalctl", args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["REPORT_ID"] != nil {
			keys[fmt.Sprintf("%v/%v/%v", e["REPORT_ID"], e["OCCURRENCES"], e["__REALTIME_TIMESTAMP"])]++
		}
	}
	return keys
}

// storeEntryKeys returns the report entries of the run in VictoriaLogs,
// keyed as journalEntryKeys, with how many times each is there.
func storeEntryKeys(t *testing.T, base, run string) map[string]int {
	t.Helper()
	q := `SYSLOG_IDENTIFIER:="falco-reporter" AND FALCO_HOSTNAME:=` + quoteLogsQL(run) + `* | fields REPORT_ID, OCCURRENCES, _time`
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	keys := map[string]int{}
	dec := json.NewDecoder(resp.Body)
	for {
		var e map[string]string
		if err := dec.Decode(&e); err != nil {
			break
		}
		ts, err := time.Parse(time.RFC3339Nano, e["_time"])
		if err != nil {
			t.Fatalf("_time %q", e["_time"])
		}
		keys[fmt.Sprintf("%s/%s/%d", e["REPORT_ID"], e["OCCURRENCES"], ts.UnixMicro())]++
	}
	return keys
}

func quoteLogsQL(s string) string { b, _ := json.Marshal(s); return string(b) }

// journalAlive reports whether a journald listens on its socket.
func journalAlive() bool {
	_, err := os.Stat(journal.SocketPath)
	return err == nil && exec.Command("systemd-cat", "true").Run() == nil
}
