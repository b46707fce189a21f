package spool

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend appends 1 KiB records (about a Falco alert) from parallel
// goroutines, with the default group commit, while a trimmer keeps the
// spool small as the app would. "wait" also waits for each record's fsync,
// with 16 appenders per CPU sharing each group commit.
func BenchmarkAppend(b *testing.B) {
	payload := bytes.Repeat([]byte("a"), 1024)
	for _, bc := range []struct {
		name        string
		wait        bool
		parallelism int
	}{
		{"nowait", false, 1},
		{"wait", true, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := open(b, Options{Dir: b.TempDir()})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				t := time.NewTicker(20 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						_ = s.Trim(s.Stats().LastSeq)
					}
				}
			})
			b.SetBytes(int64(len(payload)))
			b.SetParallelism(bc.parallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					seq, err := s.Append(payload)
					if err == nil && bc.wait {
						err = s.WaitSynced(context.Background(), seq)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			st := s.Stats()
			if st.Syncs > 0 {
				b.ReportMetric(float64(st.Appends)/float64(st.Syncs), "appends/fsync")
			}
			cancel()
			wg.Wait()
		})
	}
}
