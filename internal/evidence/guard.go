package evidence

import (
	"sync"
	"sync/atomic"
	"time"
)

// A file system call can block for as long as its server wishes: a hung
// NFS server, or a FUSE daemon run by an intruder who wants to hold the
// collector. Every call that reaches a file system other than /proc (open
// and read the executable, walk to and lstat the alert's paths) runs
// through guard, which stops waiting when the snapshot's budget ends. The
// goroutine it leaves behind stays blocked until the call returns; at most
// maxStuck of them may be, across snapshots, and further guarded calls are
// then skipped and noted, so the collector keeps answering.
const maxStuck = 8

// guardGrace is how long guard waits, once the budget has ended, for a
// call that notices the budget itself.
const guardGrace = 20 * time.Millisecond

// stuck counts guarded calls under way, finished or abandoned.
var stuck atomic.Int32

// guard runs fn in a goroutine and returns its result, or false when the
// budget ended first (or too many calls are stuck); then cleanup, if not
// nil, gets fn's result once fn returns. fn must use only what it is
// given: descriptors it shares with the snapshot must be its own dups.
func guard[T any](s *snap, what string, fn func() T, cleanup func(T)) (T, bool) {
	var zero T
	if s.over(what) {
		return zero, false
	}
	if stuck.Add(1) > maxStuck {
		stuck.Add(-1)
		s.note("%s: not read, %d earlier file system calls never returned (a file system that does not answer?)", what, maxStuck)
		return zero, false
	}
	var mu sync.Mutex
	abandoned := false
	done := make(chan T, 1)
	go func() {
		v := fn()
		stuck.Add(-1)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if cleanup != nil {
				cleanup(v)
			}
			return
		}
		done <- v
	}()
	select {
	case v := <-done:
		return v, true
	case <-s.ctx.Done():
	}
	// A call that watches the budget itself (the hash) returns at once.
	select {
	case v := <-done:
		return v, true
	case <-time.After(guardGrace):
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case v := <-done: // finished meanwhile
		return v, true
	default:
	}
	abandoned = true
	s.note("%s: the file system did not answer within the time budget", what)
	return zero, false
}
