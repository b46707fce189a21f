package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// keys is how many incidents the alerts of the exactly-once test fold
// into: every alert folds into an incident that lives across the kills.
const keys = 5

// onceAlert is alert n of the exactly-once test: its number is in the
// command line, its incident is one of keys files.
func onceAlert(n int) event.Alert {
	return event.Alert{
		Time: time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Microsecond), Priority: event.PriorityWarning,
		Rule: "Read sensitive file untrusted", Source: "syscall", Hostname: "node-1", Output: "o",
		Tags: []string{"T1555"},
		Fields: event.Fields{
			"fd.name": event.Str(fmt.Sprintf("/etc/secret-%d", n%keys)), "proc.name": event.Str("cat"), "proc.exepath": event.Str("/usr/bin/cat"),
			"proc.cmdline": event.Str("cat #" + strconv.Itoa(n)), "container.id": event.Str("host"),
		},
	}
}

func onceJSON(n int) []byte {
	a := onceAlert(n)
	return []byte(fmt.Sprintf(`{"hostname":"node-1","output":"o","output_fields":{"fd.name":%q,"proc.name":"cat","proc.exepath":"/usr/bin/cat","proc.cmdline":%q,"container.id":"host"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555"],"time":%q}`,
		a.Fields["fd.name"].Text, a.Fields["proc.cmdline"].Text, a.Time.Format(time.RFC3339Nano)))
}

// alertNumber returns the number of an alert made by onceAlert.
func alertNumber(a *event.Alert) int {
	_, n, _ := strings.Cut(a.Fields["proc.cmdline"].Text, "#")
	i, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return i
}

// onceDaemon is the daemon under test, restarted and killed.
type onceDaemon struct {
	t       *testing.T
	cfg     string
	metrics string
	cmd     *exec.Cmd
	stderr  io.Writer // the daemon's log; os.Stderr with -v when nil
}

func (d *onceDaemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(binary, "run", "--config", d.cfg)
	d.cmd.Stderr = d.stderr
	if d.stderr == nil && testing.Verbose() {
		d.cmd.Stderr = os.Stderr
	}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	cmd := d.cmd
	d.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if resp, err := http.Get(d.metrics); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatal("the daemon did not start")
		}
	}
}

func (d *onceDaemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = d.cmd.Process.Wait()
}

// metric returns the value of a metric without labels, or -1.
func (d *onceDaemon) metric(name string) float64 {
	resp, err := http.Get(d.metrics)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	sum, found := 0.0, false
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+"{") {
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if err == nil {
				sum, found = sum+v, true
			}
		}
	}
	if !found {
		return -1
	}
	return sum
}

// waitMetric polls until the metric name (summed over its labels) is at
// least want.
func (d *onceDaemon) waitMetric(name string, want float64) {
	d.t.Helper()
	for deadline := time.Now().Add(time.Minute); d.metric(name) < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			d.t.Fatalf("%s stayed at %v, want %v", name, d.metric(name), want)
		}
	}
}

// settle waits until the daemon has taken everything (received stable for
// two seconds, nothing waiting in the spool), then stops it with SIGTERM.
func (d *onceDaemon) settle() {
	d.t.Helper()
	last, stable := -2.0, 0
	for deadline := time.Now().Add(3 * time.Minute); stable < 20; time.Sleep(100 * time.Millisecond) {
		got := d.metric("falco_reporter_alerts_received_total")
		if got == last && d.metric("falco_reporter_queue_depth") == 0 {
			stable++
		} else {
			stable = 0
		}
		last = got
		if time.Now().After(deadline) {
			d.t.Fatal("the daemon did not settle")
		}
	}
	d.stop()
}

// stop stops the daemon with SIGTERM and waits for its exit.
func (d *onceDaemon) stop() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		d.t.Fatalf("SIGTERM: %v", err)
	}
}

// onceReport is what the test reads of a JSON report.
type onceReport struct {
	ID          string             `json:"id"`
	Occurrences int                `json:"occurrences"`
	Fields      map[string]*string `json:"fields"`
	Spool       struct{ First, Last uint64 }
}

// readReports returns every JSON report under dir, failing on a report
// that does not parse (a truncated file) or an id seen twice.
func readReports(t *testing.T, dir string) map[string]onceReport {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	byKey := map[string]onceReport{}
	ids := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r onceReport
		if err := json.Unmarshal(data, &r); err != nil || r.Fields["fd.name"] == nil {
			t.Fatalf("%s: unreadable or truncated report: %v", f, err)
		}
		if other, ok := ids[r.ID]; ok {
			t.Errorf("report id %s in %s and %s", r.ID, other, f)
		}
		ids[r.ID] = f
		key := *r.Fields["fd.name"]
		if prev, ok := byKey[key]; ok {
			t.Errorf("incident %s has two reports, %s (%d occurrences) and %s (%d)", key, prev.ID, prev.Occurrences, r.ID, r.Occurrences)
			r.Occurrences += prev.Occurrences
		}
		byKey[key] = r
	}
	return byKey
}

// spooled returns the numbers of the alerts the spool in dir holds.
func spooled(t *testing.T, dir string) map[int]bool {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	out := map[int]bool{}
	err = sp.Replay(func(_ uint64, p []byte) error {
		if e, _, err := spool.DecodeEntry(p); err == nil {
			out[alertNumber(&e.Alert)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExactlyOnceAcrossKill9 kills the daemon with SIGKILL at random
// points, 20 times, while each input delivers alerts, and checks after
// the last restart that every alert the daemon took is counted exactly
// once: no report id twice, one report per incident, occurrences equal to
// the alerts acknowledged, none lost.
func TestExactlyOnceAcrossKill9(t *testing.T) {
	const kills = 20
	for _, input := range []string{"http", "grpc", "file"} {
		t.Run(input, func(t *testing.T) {
			t.Parallel() // each waits on its daemon most of the time
			dir := t.TempDir()
			maddr := freePort(t)
			d := &onceDaemon{t: t, cfg: filepath.Join(dir, "c.yaml"), metrics: "http://" + maddr + "/metrics"}
			var block string
			var httpAddr string
			var falco *falcotest.Server
			events := filepath.Join(dir, "events.json")
			switch input {
			case "http":
				httpAddr = freePort(t)
				block = "  http:\n    listen: " + httpAddr + "\n"
			case "grpc":
				falco = falcotest.New()
				addr, err := falco.ListenUnix(filepath.Join(dir, "falco.sock"))
				if err != nil {
					t.Fatal(err)
				}
				defer falco.Stop()
				block = "  grpc:\n    address: " + addr + "\n    poll_interval: 10ms\n"
			case "file":
				block = "  file:\n    path: " + events + "\n"
			}
			cfg := "falco:\n" + block + fmt.Sprintf("state_dir: %s/state\nreports:\n  dir: %s/reports\njournal:\n  reports: false\nlog:\n  output: console\n  level: warn\nmetrics:\n  listen: %s\n", dir, dir, maddr)
			if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}

			var next atomic.Int64 // the number of the next alert
			var mu sync.Mutex
			acked := map[int]bool{}     // answered 200 (HTTP) or written to the file
			ambiguous := map[int]bool{} // posted, no answer: maybe taken
			var fileMu sync.Mutex
			appendLines := func(n int) {
				fileMu.Lock()
				defer fileMu.Unlock()
				f, err := os.OpenFile(events, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				var b bytes.Buffer
				for range n {
					i := int(next.Add(1) - 1)
					b.Write(onceJSON(i))
					b.WriteByte('\n')
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
				if _, err := f.Write(b.Bytes()); err != nil {
					t.Error(err)
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			load := func() {
				switch input {
				case "http":
					for range 8 {
						wg.Go(func() {
							client := &http.Client{Timeout: 2 * time.Second}
							for {
								select {
								case <-stop:
									return
								default:
								}
								i := int(next.Add(1) - 1)
								resp, err := client.Post("http://"+httpAddr+"/", "application/json", bytes.NewReader(onceJSON(i)))
								mu.Lock()
								if err != nil {
									ambiguous[i] = true
								} else if resp.StatusCode == http.StatusOK {
									acked[i] = true
								}
								mu.Unlock()
								if err != nil {
									time.Sleep(20 * time.Millisecond) // the daemon is down
								} else {
									resp.Body.Close()
								}
							}
						})
					}
				case "grpc":
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							case <-time.After(10 * time.Millisecond): // 2,000 (gRPC) or 1,000 (file) a second
							}
							for range 20 {
								falco.Enqueue(falcotest.AlertToResponse(onceAlert(int(next.Add(1) - 1))))
							}
						}
					})
				case "file":
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							case <-time.After(10 * time.Millisecond): // 2,000 (gRPC) or 1,000 (file) a second
							}
							appendLines(10)
						}
					})
				}
			}

			seen := map[int]bool{} // alerts found in the spool after a kill
			load()
			for k := range kills {
				d.start()
				time.Sleep(time.Duration(100+rand.IntN(500)) * time.Millisecond)
				d.kill()
				for n := range spooled(t, filepath.Join(dir, "state", "spool")) {
					seen[n] = true
				}
				if k == kills/2 {
					time.Sleep(300 * time.Millisecond) // alerts pile up while it is down
				}
			}
			close(stop)
			wg.Wait()
			d.start()
			if input == "grpc" {
				for deadline := time.Now().Add(30 * time.Second); falco.Queued() > 0; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("Falco's queue was not drained")
					}
				}
			}
			d.settle()

			sent := int(next.Load())
			got := readReports(t, filepath.Join(dir, "reports"))
			if len(got) != keys {
				t.Errorf("%d reports, want one per incident: %d", len(got), keys)
			}
			total := 0
			for _, r := range got {
				total += r.Occurrences
			}
			mu.Lock()
			defer mu.Unlock()
			switch input {
			case "file":
				// Every line Falco wrote is reported once.
				if total != len(acked) {
					t.Errorf("%d occurrences for %d lines written", total, len(acked))
				}
			case "http":
				// Every post answered 200 is counted once; a post cut by the
				// kill counts if it reached the spool.
				lo := len(acked)
				for n := range ambiguous {
					if seen[n] && !acked[n] {
						lo++
					}
				}
				if total < lo || total > lo+len(ambiguous) {
					t.Errorf("%d occurrences; %d acknowledged, %d of %d unanswered posts in the spool", total, len(acked), lo-len(acked), len(ambiguous))
				}
			case "grpc":
				// Falco's gRPC output has no acknowledgement: it pops an alert
				// when it writes it, so the alerts in the transport's buffers
				// when the daemon is killed are lost, as they would be if Falco
				// itself died. Every alert that reached the spool counts, and
				// none twice.
				if total < len(seen) || total > sent {
					t.Errorf("%d occurrences; %d alerts sent, %d seen in the spool", total, sent, len(seen))
				}
				if lost := sent - total; lost > kills*1000 {
					t.Errorf("%d of %d alerts lost across %d kills: more than the transport holds", lost, sent, kills)
				}
			}
			t.Logf("%s: %d alerts sent, %d acknowledged, %d unanswered, %d occurrences in %d reports", input, sent, len(acked), len(ambiguous), total, len(got))
		})
	}
}
