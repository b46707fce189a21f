package store

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWriteBatch writes batches of 256 distinct reports, each a 3 KB
// Markdown and a 3 KB JSON file, durably, and reports reports per second.
// STORE_BENCH_DIR, if set, names a directory on the file system to measure
// instead of the one holding b.TempDir().
func BenchmarkWriteBatch(b *testing.B) {
	dir := b.TempDir()
	if d := os.Getenv("STORE_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "bench"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	const batchSize = 256
	md := bytes.Repeat([]byte("# report\n"), 3<<10/9)
	js := bytes.Repeat([]byte(`{"k":"v"},`), 3<<10/10)
	s, err := Open(Options{Dir: dir, Retention: Retention{MaxReports: 10000}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	day := time.Now().UTC()
	batch := make([]Entry, batchSize)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i] = Entry{Day: day, Name: "report-" + strconv.Itoa(n), Files: []File{{Ext: "md", Data: md}, {Ext: "json", Data: js}}}
			n++
		}
		if _, err := s.WriteBatch(batch); err != nil {
			b.Fatal(err)
		}
		if err := s.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "reports/s")
}
