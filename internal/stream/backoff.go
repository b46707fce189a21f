package stream

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: exponential growth from base, capped
// at max, with full jitter so that many clients restarted together do not
// knock on Falco's door at the same instant.
type backoff struct {
	base, max time.Duration
	attempt   int
	rand      func(n int64) int64 // rand returns a number in [0, n).
}

// newBackoff returns a backoff starting at base and never above max.
func newBackoff(base, max time.Duration) *backoff {
	if base > max {
		base = max
	}
	return &backoff{base: base, max: max, rand: rand.Int64N}
}

// next returns the delay before the next attempt and counts the attempt.
func (b *backoff) next() time.Duration {
	ceiling := b.base
	for i := 0; i < b.attempt && ceiling < b.max; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, b.max)
	b.attempt++
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(b.rand(int64(ceiling) + 1))
}

// reset starts over from base, after a connection that was healthy.
func (b *backoff) reset() { b.attempt = 0 }

// waitBackoff waits for d or until ctx ends, and reports whether d passed.
func waitBackoff(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
