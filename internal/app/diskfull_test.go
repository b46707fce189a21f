package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/stream"
	"github.com/falco-reporter/falco-reporter/internal/testfs"
)

// TestFullDisk puts the reports directory on a tiny tmpfs, fills it, and
// checks that the daemon keeps running, writes no truncated report, holds
// the alerts, and writes them once space returns.
func TestFullDisk(t *testing.T) {
	cfg := testConfig(t)
	cfg.Reports.Dir = testfs.Tmpfs(t, "512k")

	src := &chanSource{ch: make(chan event.Alert)}
	col := newCollector()
	ready := make(chan struct{})
	metrics := make(chan *Metrics, 1)
	start(t, cfg, Options{Sources: []stream.Source{src}, Written: col.written, Ready: ready, metricsOut: metrics})
	<-ready
	m := <-metrics

	// Fill the filesystem (the store's lock file is already there).
	filler := filepath.Join(cfg.Reports.Dir, "filler")
	testfs.Fill(t, filler)

	for i := range 20 {
		src.ch <- alert("Read sensitive file untrusted", i)
	}
	waitFor(t, "a failed write", func() bool { return testutil.ToFloat64(m.WriteErrors) > 0 })
	if n, _ := col.occurrences(); n != 0 {
		t.Fatalf("%d reports written on a full disk", n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 20 reports once space returned", func() bool { n, _ := col.occurrences(); return n == 20 })
	files, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "*", "*.json"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if !json.Valid(data) {
			t.Errorf("%s is truncated", f)
		}
	}
	if len(files) != 20 {
		t.Errorf("%d JSON reports on disk, want 20", len(files))
	}
}
