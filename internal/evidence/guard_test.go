package evidence

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// TestGuardAbandonsABlockedCall: a call that blocks (a file system that
// does not answer) is abandoned when the budget ends, noted, and cleaned
// up when it returns; once maxStuck are blocked, further calls are
// skipped at once; when they return, calls run again.
func TestGuardAbandonsABlockedCall(t *testing.T) {
	release := make(chan struct{})
	var cleaned atomic.Int32
	blocked := func() int { <-release; return 1 }
	cleanup := func(int) { cleaned.Add(1) }
	newSnap := func(budget time.Duration) (*snap, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		return &snap{ctx: ctx, lim: Limits{Budget: budget}, ev: &report.Evidence{}}, cancel
	}
	for i := range maxStuck {
		s, cancel := newSnap(10 * time.Millisecond)
		if _, ok := guard(s, "the call", blocked, cleanup); ok {
			t.Fatalf("call %d: a blocked call returned ok", i)
		}
		cancel()
		if len(s.ev.Notes) != 1 || !strings.Contains(s.ev.Notes[0], "did not answer") {
			t.Errorf("call %d: notes %q", i, s.ev.Notes)
		}
	}
	s, cancel := newSnap(time.Minute)
	start := time.Now()
	if _, ok := guard(s, "the call", func() int { return 2 }, nil); ok {
		t.Error("a call ran with maxStuck calls blocked")
	}
	cancel()
	if time.Since(start) > 10*time.Second || len(s.ev.Notes) != 1 || !strings.Contains(s.ev.Notes[0], "never returned") {
		t.Errorf("skipped call: notes %q", s.ev.Notes)
	}
	close(release)
	deadline := time.Now().Add(time.Minute)
	for cleaned.Load() != maxStuck || stuck.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d abandoned calls cleaned up, %d still counted", cleaned.Load(), maxStuck, stuck.Load())
		}
		time.Sleep(time.Millisecond)
	}
	s, cancel = newSnap(time.Minute)
	defer cancel()
	if v, ok := guard(s, "the call", func() int { return 3 }, nil); !ok || v != 3 {
		t.Errorf("after the blocked calls returned: %d, %v", v, ok)
	}
}
