package app

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

// TestPeakHeapProfile runs a flood of distinct incidents and writes a heap
// profile at the peak of the heap to $HEAP_PROFILE: where the memory goes.
//
//	HEAP_PROFILE=/tmp/heap.out go test -run PeakHeap -v ./internal/app
//	go tool pprof -sample_index=inuse_space -top /tmp/heap.out
func TestPeakHeapProfile(t *testing.T) {
	out := os.Getenv("HEAP_PROFILE")
	if out == "" {
		t.Skip("set HEAP_PROFILE to a file name")
	}
	c := config.Defaults()
	dir := t.TempDir()
	c.StateDir, c.Reports.Dir = dir+"/state", dir+"/reports"
	c.Journal.Reports = false
	c.Reports.Retention = config.Retention{}
	c.Incidents.Storm.Incidents = 0
	falco := falcotest.New()
	addr, err := falco.ListenUnix(filepath.Join(t.TempDir(), "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer falco.Stop()
	g := config.DefaultGRPC()
	g.Address, g.PollInterval = addr, 10*time.Millisecond
	c.Falco.GRPC = g
	for i := range 20000 {
		falco.Enqueue(falcotest.AlertToResponse(alert("Read sensitive file untrusted", i)))
	}
	metrics := make(chan *Metrics, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
				f, err := os.Create(out)
				if err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, &c, Options{Logger: zerolog.New(io.Discard), metricsOut: metrics}) }()
	m := <-metrics
	for testutil.ToFloat64(m.Reported) < 20000 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("peak heap %d MiB, heap sys %d MiB, GC cycles %d", peak.Load()>>20, ms.HeapSys>>20, ms.NumGC)
}
