package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// daemon is one falco-reporter run as a child process.
type daemon struct {
	cmd     *exec.Cmd
	metrics string // http://host:port/metrics
	dir     string
	legacy  bool
	stderr  *os.File
	exited  chan struct{} // closed when the process has exited
	waitErr error
	hwm     atomic.Int64 // the peak RSS last read from /proc
}

// daemonConfig is what a run varies.
type daemonConfig struct {
	grpc     string // Falco's address, or ""
	http     string // listen address, or ""
	noStorm  bool   // turn storm folding off (distinct-incident runs)
	queueLen int    // queue.size; 0: default
}

// freeAddr returns a loopback address that is free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startDaemon writes a configuration under dir and starts binary on it,
// waiting until its metrics answer.
func startDaemon(ctx context.Context, o *Options, dir string, c daemonConfig) (*daemon, error) {
	maddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("falco:\n")
	if c.grpc != "" {
		fmt.Fprintf(&b, "  grpc:\n    address: %s\n    poll_interval: 10ms\n", c.grpc)
	}
	if c.http != "" {
		fmt.Fprintf(&b, "  http:\n    listen: %s\n", c.http)
	}
	fmt.Fprintf(&b, "state_dir: %s\nreports:\n  dir: %s\n  retention: {max_age: 0s, max_files: 0, max_bytes: 0}\n",
		filepath.Join(dir, "state"), filepath.Join(dir, "reports"))
	b.WriteString("incidents:\n  update_interval: 250ms\n")
	if c.noStorm && !o.Legacy {
		b.WriteString("  storm: {incidents: 0}\n")
	}
	if c.queueLen > 0 {
		fmt.Fprintf(&b, "queue:\n  size: %d\n", c.queueLen)
	}
	fmt.Fprintf(&b, "journal:\n  reports: false\nlog:\n  level: warn\n  output: console\nmetrics:\n  listen: %s\n", maddr)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	errf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Binary, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = errf, errf
	cmd.Env = append(os.Environ(), o.DaemonEnv...)
	if err := cmd.Start(); err != nil {
		errf.Close()
		return nil, err
	}
	d := &daemon{cmd: cmd, metrics: "http://" + maddr + "/metrics", dir: dir, legacy: o.Legacy, stderr: errf, exited: make(chan struct{})}
	go func() { d.waitErr = cmd.Wait(); close(d.exited) }()
	go d.watchRSS()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := d.scrape(); err == nil {
			return d, nil
		}
		select {
		case <-d.exited:
			log, _ := os.ReadFile(errf.Name())
			errf.Close()
			return nil, fmt.Errorf("daemon exited at start: %s", log)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.kill()
			return nil, fmt.Errorf("daemon did not start; see %s", errf.Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scrape returns every sample of the daemon's metrics, summed over labels.
func (d *daemon) scrape() (map[string]float64, error) {
	resp, err := http.Get(d.metrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err == nil {
			out[name] += v
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, sc.Err()
}

// done reports whether the daemon has durably reported n alerts. A legacy
// daemon has no such counter: every alert received and taken from the
// queue, and at least reports reports written, stands in for it.
func (d *daemon) done(n, reports int) (bool, error) {
	m, err := d.scrape()
	if err != nil {
		return false, err
	}
	if !d.legacy {
		return m["falco_reporter_alerts_reported_total"] >= float64(n), nil
	}
	// The queue depth gauge is refreshed every 250 ms only: needed only
	// when alerts fold (fewer reports than alerts).
	return m["falco_reporter_alerts_received_total"] >= float64(n) && (reports >= n || m["falco_reporter_queue_depth"] == 0) &&
		m["falco_reporter_reports_written_total"] >= float64(reports), nil
}

// waitDone polls until done or the timeout.
func (d *daemon) waitDone(ctx context.Context, n, reports int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := d.done(n, reports)
		if ok {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m, _ := d.scrape()
			return fmt.Errorf("daemon did not finish %d alerts in %v (err %v, metrics: received %v reported %v written %v)", n, timeout, err,
				m["falco_reporter_alerts_received_total"], m["falco_reporter_alerts_reported_total"], m["falco_reporter_reports_written_total"])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watchRSS reads the daemon's peak resident set size (VmHWM, which execve
// resets, unlike the rusage of a forked child) every 50 ms until it exits.
func (d *daemon) watchRSS() {
	path := fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
						d.hwm.Store(kb << 10)
					}
				}
			}
		}
		select {
		case <-d.exited:
			return
		case <-t.C:
		}
	}
}

// stop sends SIGTERM, waits, and returns the peak resident set size in
// bytes, as last read before the exit.
func (d *daemon) stop() (int64, error) {
	defer d.stderr.Close()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-d.exited:
		err = d.waitErr
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		err = errors.Join(errors.New("daemon did not stop within 30 s of SIGTERM"), d.waitErr)
	}
	return d.hwm.Load(), err
}

func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
	d.stderr.Close()
}
