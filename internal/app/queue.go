package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// item is one alert in the queue, with its sequence number in the spool.
type item struct {
	seq uint64
	a   event.Alert
}

// queue is the bounded hand-over between the inputs and the writer. It
// implements stream.Sink. Every alert it accepts is first appended to the
// spool, so that it survives a crash; the mutex keeps spool order and
// queue order the same, which the writer's trim watermark relies on.
type queue struct {
	mu      sync.Mutex
	ch      chan item
	spool   *spool.Spool // nil: no crash safety
	metrics *Metrics
	closed  bool
	log     zerolog.Logger
	lastLog time.Time // of the last "pipeline full" line, at most one a minute
}

// close ends the queue; later offers fail. The writer drains what is left.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// errClosed means the daemon is stopping.
var errClosed = errors.New("stopping")

func newQueue(size int, sp *spool.Spool, m *Metrics, log zerolog.Logger) *queue {
	return &queue{ch: make(chan item, size), spool: sp, metrics: m, log: log}
}

// full counts one refusal for lack of room and logs it at most once a
// minute.
func (q *queue) full(how string) {
	q.metrics.QueueFull.Inc()
	q.warn(nil, "pipeline full ("+how+"): inputs are held back until reports are written")
}

// warn logs at most one line a minute about the queue.
func (q *queue) warn(err error, msg string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if time.Since(q.lastLog) >= time.Minute {
		q.lastLog = time.Now()
		q.log.Warn().Err(err).Int("queue_size", cap(q.ch)).Msg(msg)
	}
}

// maxKeptValue caps each value of an alert too large for the spool.
const maxKeptValue = 256 << 10

// errFull means there is no room: in the queue or in the spool.
var errFull = errors.New("pipeline full")

// offer appends a to the spool and queues it, if there is room.
func (q *queue) offer(a event.Alert) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errClosed
	}
	if len(q.ch) == cap(q.ch) {
		return errFull
	}
	var seq uint64
	if q.spool != nil {
		var err error
		payload := spool.EncodeAlert(a)
		// Megabytes of command line: keep what any report can show.
		for keep := maxKeptValue; len(payload) > spool.MaxPayload/2 && keep >= 1<<10; keep /= 4 {
			a = a.Capped(keep)
			payload = spool.EncodeAlert(a)
		}
		if seq, err = q.spool.Append(payload); err != nil {
			if errors.Is(err, spool.ErrFull) {
				return errFull
			}
			return fmt.Errorf("spool: %w", err)
		}
	}
	q.ch <- item{seq: seq, a: a} // never blocks: only the writer takes, and there was room
	q.metrics.received(a.Source)
	return nil
}

// Put waits for room; the wait is the backpressure felt by the inputs: the
// gRPC input stops asking Falco for more while it waits.
func (q *queue) Put(ctx context.Context, a event.Alert) error {
	wait := time.Millisecond
	for {
		err := q.offer(a)
		if err == nil {
			return nil
		}
		if errors.Is(err, errClosed) {
			return err
		}
		if !errors.Is(err, errFull) {
			q.metrics.SpoolErrors.Inc()
			q.warn(err, "cannot append to the spool; the input waits and retries")
		} else {
			q.full("waiting")
		}
		select {
		case <-time.After(wait):
			wait = min(2*wait, 100*time.Millisecond)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Offer queues a if there is room now, for the HTTP input's 503.
func (q *queue) Offer(a event.Alert) bool {
	err := q.offer(a)
	switch {
	case errors.Is(err, errFull):
		q.full("refused")
	case err != nil && !errors.Is(err, errClosed):
		q.metrics.SpoolErrors.Inc()
		q.warn(err, "cannot append to the spool; alert refused")
	}
	return err == nil
}

// replay queues an alert read back from the spool at start.
func (q *queue) replay(ctx context.Context, seq uint64, a event.Alert) error {
	select {
	case q.ch <- item{seq: seq, a: a}:
		q.metrics.received(a.Source)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
