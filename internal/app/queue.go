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
//
// The spool, not the channel, is the buffer for the HTTP input, whose
// sender (Falco) drops an alert it gets a 503 for: when the channel is
// full, Offer appends to the spool only, and feed reads those alerts
// back into the channel, in order, as the writer takes. Until feed has
// caught up every alert goes that way, and Put (gRPC, file: inputs that
// can wait) waits. Offer refuses only when the spool is full.
type queue struct {
	mu      sync.Mutex
	ch      chan item
	spool   *spool.Spool // nil: no crash safety, and no buffer beyond ch
	metrics *Metrics
	closed  bool
	log     zerolog.Logger
	lastLog time.Time // of the last "pipeline full" line, at most one a minute

	behind  bool          // alerts are in the spool and not in ch yet
	lastSeq uint64        // seq of the last alert spooled
	queued  uint64        // seq of the last alert put in ch
	wake    chan struct{} // tells feed that alerts were spooled only
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
	return &queue{ch: make(chan item, size), spool: sp, metrics: m, log: log, wake: make(chan struct{}, 1)}
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

// offer appends a to the spool and queues it, if there is room. With
// spill set (Offer), an alert that finds the channel full, or feed still
// behind, is appended to the spool only, for feed to queue later.
func (q *queue) offer(a event.Alert, spill bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errClosed
	}
	direct := !q.behind && len(q.ch) < cap(q.ch)
	if q.spool == nil || (!direct && !spill) {
		if !direct {
			return errFull
		}
		q.ch <- item{a: a} // never blocks: only the writer takes, and there was room
		q.metrics.received(a.Source)
		return nil
	}
	payload := spool.EncodeAlert(a)
	// Megabytes of command line: keep what any report can show.
	for keep := maxKeptValue; len(payload) > spool.MaxPayload/2 && keep >= 1<<10; keep /= 4 {
		a = a.Capped(keep)
		payload = spool.EncodeAlert(a)
	}
	seq, err := q.spool.Append(payload)
	if err != nil {
		if errors.Is(err, spool.ErrFull) {
			return errFull
		}
		return fmt.Errorf("spool: %w", err)
	}
	q.lastSeq = seq
	q.metrics.received(a.Source)
	if direct {
		q.ch <- item{seq: seq, a: a} // never blocks, as above
		q.queued = seq
		return nil
	}
	q.behind = true
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// feed queues the alerts Offer appended to the spool only, in spool order,
// until ctx ends. The writer's taking paces it.
func (q *queue) feed(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		for q.catchUp(ctx) {
		}
	}
}

// catchUp queues the alerts spooled only so far. It reports whether more
// were spooled meanwhile.
func (q *queue) catchUp(ctx context.Context) bool {
	q.mu.Lock()
	from, to := q.queued, q.lastSeq
	q.mu.Unlock()
	errStop := errors.New("stop")
	err := q.spool.ReplayAfter(from, func(seq uint64, payload []byte) error {
		if seq > to {
			return errStop
		}
		a, err := spool.DecodeAlert(payload)
		if err != nil {
			q.metrics.Drop("spool_undecodable")
		} else {
			select {
			case q.ch <- item{seq: seq, a: a}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		q.mu.Lock()
		q.queued = seq
		q.mu.Unlock()
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		if ctx.Err() != nil {
			return false
		}
		q.metrics.SpoolErrors.Inc()
		q.warn(err, "cannot read spooled alerts back; retrying")
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return false
		}
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued < q.lastSeq {
		// A failed write skips a number: nothing after to was read.
		if err == nil && q.lastSeq == to {
			q.queued = to
		} else {
			return true
		}
	}
	q.behind = false
	return false
}

// spilled returns how many alerts are in the spool and not queued yet.
func (q *queue) spilled() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.behind {
		return 0
	}
	return q.lastSeq - q.queued
}

// Put waits for room; the wait is the backpressure felt by the inputs: the
// gRPC input stops asking Falco for more while it waits.
func (q *queue) Put(ctx context.Context, a event.Alert) error {
	wait := time.Millisecond
	for {
		err := q.offer(a, false)
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

// Offer queues a, or appends it to the spool to be queued later, if
// there is room now; false means the HTTP input answers 503.
func (q *queue) Offer(a event.Alert) bool {
	err := q.offer(a, true)
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
		q.mu.Lock()
		q.queued, q.lastSeq = seq, seq
		q.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
