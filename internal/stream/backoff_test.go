package stream

import (
	"context"
	"testing"
	"time"
)

func TestBackoffGrowsToCapWithFullJitter(t *testing.T) {
	tests := []struct {
		name      string
		base, max time.Duration
		want      []time.Duration // ceilings of successive attempts
	}{
		{"doubles then caps", 100 * time.Millisecond, time.Second,
			[]time.Duration{100, 200, 400, 800, 1000, 1000, 1000}},
		{"base above max", 5 * time.Second, time.Second,
			[]time.Duration{1000, 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackoff(tt.base, tt.max)
			var asked []int64
			b.rand = func(n int64) int64 { asked = append(asked, n); return n - 1 }
			for i, w := range tt.want {
				got := b.next()
				if want := w * time.Millisecond; got != want {
					t.Fatalf("attempt %d: %v, want %v", i, got, want)
				}
			}
			b.reset()
			if got := b.next(); got != min(tt.base, tt.max) {
				t.Fatalf("after reset: %v", got)
			}
			for _, n := range asked {
				if n <= 0 || time.Duration(n-1) > tt.max {
					t.Fatalf("jitter range [0,%d) beyond max %v", n, tt.max)
				}
			}
		})
	}
}

func TestBackoffManyAttemptsStayBounded(t *testing.T) {
	b := newBackoff(100*time.Millisecond, 30*time.Second)
	for range 10000 {
		if d := b.next(); d < 0 || d > 30*time.Second {
			t.Fatalf("delay %v out of [0, 30s]", d)
		}
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if waitBackoff(ctx, time.Minute) {
		t.Fatal("sleep reported the full wait")
	}
	if time.Since(start) > time.Second {
		t.Fatal("sleep ignored the cancel")
	}
	if !waitBackoff(context.Background(), time.Millisecond) {
		t.Fatal("short sleep reported cancel")
	}
}
