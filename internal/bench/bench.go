// Package bench is the benchmark behind `falco-reporter bench` (and `make
// bench`): it runs the daemon as a child process against a Falco-like gRPC
// server and over HTTP, side by side with the references it must be
// compared with in the same run on the same machine, and prints one table
// with each result as a ratio to its reference.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// Options configure Run. Zero counts take their defaults.
type Options struct {
	Binary    string   // the falco-reporter binary run as the daemon
	DaemonEnv []string // extra environment for the daemon (e.g. GODEBUG)
	Dir       string   // scratch directory; its filesystem is the one measured
	Legacy    bool     // Binary predates the reported-alerts counter and storm keys

	Storm    int // alerts of one rule folding into one report (200,000)
	Distinct int // alerts that are each a distinct incident (20,000)
	HTTP     int // alerts posted over HTTP per run (50,000)
	Conns    int // HTTP connections (32)
	Backlog  int // alerts waiting in the spool at start (1,000,000)
	Trickle  int // alerts of the latency run, 50 a second (200)
	Repeat   int // times each pair of reference and daemon runs (3)
	Only     []string

	Out io.Writer // the table
	Log io.Writer // progress
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Storm, 200_000)
	def(&o.Distinct, 20_000)
	def(&o.HTTP, 50_000)
	def(&o.Conns, 32)
	def(&o.Backlog, 1_000_000)
	def(&o.Trickle, 200)
	def(&o.Repeat, 3)
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// row is one line of the table.
type row struct {
	name, result, reference, ratio, target, rss string
}

// Run runs every workload and prints the table to o.Out.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	var rows []row
	add := func(r row) {
		rows = append(rows, r)
		if r.reference == "" {
			fmt.Fprintf(o.Log, "  %s: %s\n", r.name, r.result)
		} else {
			fmt.Fprintf(o.Log, "  %s: %s (reference %s, ratio %s)\n", r.name, r.result, r.reference, r.ratio)
		}
	}
	want := func(name string) bool { return len(o.Only) == 0 || slices.Contains(o.Only, name) }
	scratch := func(name string) (string, error) {
		d := filepath.Join(o.Dir, name)
		_ = os.RemoveAll(d)
		return d, os.MkdirAll(d, 0o750)
	}
	fmt.Fprintf(o.Log, "bench in %s\n", o.Dir)

	// Each pair of reference and daemon runs is repeated, alternating, and
	// the medians compared: on a shared machine the load changes from one
	// minute to the next.
	if want("grpc") {
		fmt.Fprintf(o.Log, "gRPC: bare client and one-rule storm of %d alerts, %d times\n", o.Storm, o.Repeat)
		var bare, rates []float64
		var rss int64
		for range o.Repeat {
			dir, err := scratch("grpc-bare")
			if err != nil {
				return err
			}
			b, err := grpcBare(ctx, dir, o.Storm)
			if err != nil {
				return err
			}
			if dir, err = scratch("grpc-storm"); err != nil {
				return err
			}
			rate, r, err := grpcDaemon(ctx, &o, dir, o.Storm, stormAlert, 1, false)
			if err != nil {
				return err
			}
			bare, rates, rss = append(bare, b), append(rates, rate), max(rss, r)
		}
		add(row{fmt.Sprintf("gRPC, one-rule storm (%s alerts, 1 report)", count(o.Storm)), spread(rates, "alerts"),
			"bare gRPC client: " + spread(bare, "alerts"), ratio(median(rates), median(bare)), "≥ 0.8", mib(rss)})
	}
	var naive []float64
	if want("distinct") || want("http") {
		fmt.Fprintf(o.Log, "naive report writes, %d times\n", o.Repeat)
		var synced []float64
		for range o.Repeat {
			dir, err := scratch("naive-fsync")
			if err != nil {
				return err
			}
			s, err := naiveWrite(dir, min(500, o.Distinct), true)
			if err != nil {
				return err
			}
			if dir, err = scratch("naive-nofsync"); err != nil {
				return err
			}
			n, err := naiveWrite(dir, o.Distinct, false)
			if err != nil {
				return err
			}
			synced, naive = append(synced, s), append(naive, n)
		}
		add(row{"naive temp+fsync+rename of both files, one report at a time", spread(synced, "reports"), "naive without fsync: " + spread(naive, "reports"),
			ratio(median(synced), median(naive)), "", ""})
		_ = os.RemoveAll(filepath.Join(o.Dir, "naive-fsync"))
		_ = os.RemoveAll(filepath.Join(o.Dir, "naive-nofsync"))
	}
	if want("distinct") {
		fmt.Fprintf(o.Log, "gRPC: %d distinct incidents, %d times\n", o.Distinct, o.Repeat)
		var rates []float64
		var rss int64
		for range o.Repeat {
			dir, err := scratch("grpc-distinct")
			if err != nil {
				return err
			}
			rate, r, err := grpcDaemon(ctx, &o, dir, o.Distinct, distinctAlert, o.Distinct, true)
			if err != nil {
				return err
			}
			rates, rss = append(rates, rate), max(rss, r)
		}
		add(row{fmt.Sprintf("gRPC, %s distinct incidents, durable, storm folding off", count(o.Distinct)), spread(rates, "reports"),
			"naive without fsync: " + spread(naive, "reports"), ratio(median(rates), median(naive)), "≥ 0.8", mib(rss)})
		if !o.Legacy {
			dir, err := scratch("grpc-distinct-storm")
			if err != nil {
				return err
			}
			rate, rss, err := grpcDaemon(ctx, &o, dir, o.Distinct, distinctAlert, 1, false)
			if err != nil {
				return err
			}
			add(row{fmt.Sprintf("gRPC, the same %s distinct alerts, storm folding on (default)", count(o.Distinct)), perSec(rate, "alerts"),
				"", "", "RSS ≤ 100 MiB", mib(rss)})
		}
	}
	if want("http") {
		fmt.Fprintf(o.Log, "HTTP: %d alerts over %d connections, %d times\n", o.HTTP, o.Conns, o.Repeat)
		var ref, storm, distinct []float64
		var stormRSS, distinctRSS int64
		for range o.Repeat {
			url, stop, err := trivialServer()
			if err != nil {
				return err
			}
			ok, took := post(ctx, url, o.HTTP, o.Conns, func(i int) []byte { return falcoJSON(stormAlert(i)) })
			stop()
			ref = append(ref, float64(ok)/took.Seconds())
			dir, err := scratch("http")
			if err != nil {
				return err
			}
			rate, rss, _, err := httpDaemon(ctx, &o, dir, o.HTTP, stormAlert, false)
			if err != nil {
				return err
			}
			storm, stormRSS = append(storm, rate), max(stormRSS, rss)
			if dir, err = scratch("http"); err != nil {
				return err
			}
			rate, rss, _, err = httpDaemon(ctx, &o, dir, o.Distinct, distinctAlert, true)
			if err != nil {
				return err
			}
			distinct, distinctRSS = append(distinct, rate), max(distinctRSS, rss)
		}
		add(row{fmt.Sprintf("HTTP, %d connections, one-rule storm (%s alerts)", o.Conns, count(o.HTTP)),
			spread(storm, "alerts"), "net/http handler, empty 200: " + spread(ref, "alerts"), ratio(median(storm), median(ref)), "≥ 1.0", mib(stormRSS)})
		add(row{fmt.Sprintf("HTTP, %d connections, %s distinct incidents, durable, storm folding off", o.Conns, count(o.Distinct)),
			spread(distinct, "reports"), "naive without fsync: " + spread(naive, "reports"), ratio(median(distinct), median(naive)), "≥ 0.8", mib(distinctRSS)})
	}
	if want("backlog") {
		fmt.Fprintf(o.Log, "backlog of %d alerts in the spool\n", o.Backlog)
		dir, err := scratch("backlog")
		if err != nil {
			return err
		}
		rate, rss, err := backlog(ctx, &o, dir)
		if err != nil {
			return err
		}
		add(row{fmt.Sprintf("backlog: %s alerts in the spool at start (1,000 incidents)", count(o.Backlog)), perSec(rate, "alerts"), "", "", "RSS ≤ 150 MiB", mib(rss)})
	}
	if want("trickle") {
		fmt.Fprintf(o.Log, "trickle: %d alerts, 50 a second\n", o.Trickle)
		dir, err := scratch("trickle")
		if err != nil {
			return err
		}
		p50, p99, max, err := trickle(ctx, &o, dir)
		if err != nil {
			return err
		}
		add(row{fmt.Sprintf("trickle over HTTP, alert to durable report (%d alerts)", o.Trickle),
			fmt.Sprintf("p50 %s, p99 %s, max %s", ms(p50), ms(p99), ms(max)), "", "", "p99 ≤ 250 ms", ""})
	}
	_ = os.RemoveAll(o.Dir)
	printTable(o.Out, rows, o)
	return nil
}

// grpcBare measures the bare client draining n alerts.
func grpcBare(ctx context.Context, dir string, n int) (float64, error) {
	falco := falcotest.New()
	addr, err := falco.ListenUnix(filepath.Join(dir, "falco.sock"))
	if err != nil {
		return 0, err
	}
	defer falco.Stop()
	msgs := responses(n, stormAlert)
	took, err := falcotest.Drain(ctx, addr, n, 10*time.Millisecond, func() { falco.Enqueue(msgs...) })
	if err != nil {
		return 0, err
	}
	return float64(n) / took.Seconds(), nil
}

func responses(n int, alert func(int) event.Alert) []*outputs.Response {
	out := make([]*outputs.Response, n)
	for i := range out {
		out[i] = falcotest.AlertToResponse(alert(i))
	}
	return out
}

// grpcDaemon runs the daemon against a Falco-like server that queues n
// alerts once the daemon has subscribed, and returns alerts (or reports,
// when reports == n) per second until all are durably reported.
func grpcDaemon(ctx context.Context, o *Options, dir string, n int, alert func(int) event.Alert, reports int, noStorm bool) (float64, int64, error) {
	falco := falcotest.New()
	addr, err := falco.ListenUnix(filepath.Join(dir, "falco.sock"))
	if err != nil {
		return 0, 0, err
	}
	defer falco.Stop()
	msgs := responses(n, alert)
	d, err := startDaemon(ctx, o, dir, daemonConfig{grpc: addr, noStorm: noStorm})
	if err != nil {
		return 0, 0, err
	}
	for deadline := time.Now().Add(10 * time.Second); falco.Subscribers() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			d.kill()
			return 0, 0, fmt.Errorf("the daemon did not subscribe")
		}
	}
	start := time.Now()
	falco.Enqueue(msgs...)
	msgs = nil
	err = d.waitDone(ctx, n, reports, 10*time.Minute)
	took := time.Since(start)
	rss, serr := d.stop()
	if err != nil {
		return 0, 0, err
	}
	return float64(n) / took.Seconds(), rss, serr
}

// httpDaemon posts n alerts to the daemon's HTTP input.
func httpDaemon(ctx context.Context, o *Options, dir string, n int, alert func(int) event.Alert, distinct bool) (float64, int64, int, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, 0, err
	}
	d, err := startDaemon(ctx, o, dir, daemonConfig{http: addr, noStorm: distinct})
	if err != nil {
		return 0, 0, 0, err
	}
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = falcoJSON(alert(i))
	}
	start := time.Now()
	accepted, _ := post(ctx, "http://"+addr+"/", n, o.Conns, func(i int) []byte { return bodies[i] })
	reports := 1
	if distinct {
		reports = accepted
	}
	err = d.waitDone(ctx, accepted, reports, 10*time.Minute)
	took := time.Since(start)
	rss, serr := d.stop()
	if err != nil {
		return 0, 0, 0, err
	}
	return float64(accepted) / took.Seconds(), rss, accepted, serr
}

// backlog fills the spool with o.Backlog alerts, as after an outage of the
// reports disk, then starts the daemon and times the catch-up.
func backlog(ctx context.Context, o *Options, dir string) (float64, int64, error) {
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(dir, "state", "spool"), MaxBytes: 8 << 30})
	if err != nil {
		return 0, 0, err
	}
	for i := range o.Backlog {
		if _, err := sp.Append(spool.EncodeAlert(backlogAlert(i))); err != nil {
			sp.Close()
			return 0, 0, err
		}
	}
	if err := sp.Close(); err != nil {
		return 0, 0, err
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	d, err := startDaemon(ctx, o, dir, daemonConfig{http: addr})
	if err != nil {
		return 0, 0, err
	}
	err = d.waitDone(ctx, o.Backlog, 1000, 30*time.Minute)
	took := time.Since(start)
	rss, serr := d.stop()
	if err != nil {
		return 0, 0, err
	}
	return float64(o.Backlog) / took.Seconds(), rss, serr
}

// trickle posts one distinct alert every 20 ms and measures, for each, the
// time from the 200 answer until the daemon counts it in a durable report.
func trickle(ctx context.Context, o *Options, dir string) (p50, p99, max time.Duration, err error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, 0, err
	}
	d, err := startDaemon(ctx, o, dir, daemonConfig{http: addr, noStorm: true})
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() { _, _ = d.stop() }()
	var lat []time.Duration
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range o.Trickle {
		<-tick.C
		ok, _ := post(ctx, "http://"+addr+"/", 1, 1, func(int) []byte { return falcoJSON(distinctAlert(i)) })
		if ok != 1 {
			return 0, 0, 0, fmt.Errorf("alert %d refused", i)
		}
		sent := time.Now()
		if err := d.waitDone(ctx, i+1, i+1, 30*time.Second); err != nil {
			return 0, 0, 0, err
		}
		lat = append(lat, time.Since(sent))
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return q(0.5), q(0.99), lat[len(lat)-1], nil
}

func printTable(w io.Writer, rows []row, o Options) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\nfalco-reporter bench: %s, %d CPUs (GOMAXPROCS %d), %s, scratch %s\n\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), host, o.Dir)
	fmt.Fprintf(w, "Rates are medians of %d runs (range in brackets), each daemon run alternating with its reference; ratios compare the medians.\n\n", o.Repeat)
	fmt.Fprintln(w, "| workload | falco-reporter | reference (same run) | ratio | target | peak RSS |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.result, r.reference, r.ratio, r.target, r.rss)
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// median returns the median of v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// spread formats the median of v and, for several runs, their range.
func spread(v []float64, unit string) string {
	if len(v) < 2 {
		return perSec(median(v), unit)
	}
	return fmt.Sprintf("%s (%s–%s)", perSec(median(v), unit), count(int(slices.Min(v)+0.5)), count(int(slices.Max(v)+0.5)))
}

func perSec(v float64, unit string) string { return fmt.Sprintf("%s %s/s", count(int(v+0.5)), unit) }

func ratio(v, ref float64) string {
	if ref == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", v/ref)
}

func mib(b int64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// count formats n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
