package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/spool"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// maxQueueBytes bounds the spool bytes of the alerts held in memory by the
// queue; beyond it (or beyond queue.size alerts) they wait in the spool only.
const maxQueueBytes = 8 << 20

// item is one alert in the queue: a copy of a spool record the writer can
// take without reading it back.
type item struct {
	record
	size int64
}

// queue is the hand-over between the inputs and the writer. Every alert it
// accepts is appended to the spool, which is the buffer: an alert is
// refused (HTTP 503) or waited for (gRPC) only when the spool is full. A
// copy also goes into a bounded in-memory channel while the writer keeps
// up; when the channel is full, alerts go to the spool only, and the writer
// reads them back from it until it has caught up. The mutex keeps spool
// order and channel order the same.
type queue struct {
	mu        sync.Mutex
	ch        chan item
	chBytes   atomic.Int64
	spool     *spool.Spool
	diskOnly  bool      // alerts go to the spool only, from gap on
	gap       spool.Pos // the first record not put into ch
	last      atomic.Uint64
	lastRecv  int64 // receive times are kept increasing
	run       int64
	buf       []byte
	wake      chan struct{} // told of every append
	done      chan struct{} // closed by close
	closed    bool
	metrics   *Metrics
	asker     *evidenceAsker // nil: evidence is off; guarded by mu
	log       zerolog.Logger
	lastLog   time.Time // of the last "spool full" line, at most one a minute
	lastLogMu sync.Mutex
}

// errClosed means the daemon is stopping.
var errClosed = errors.New("stopping")

// errFull means the spool has no room.
var errFull = errors.New("spool full")

func newQueue(size int, sp *spool.Spool, run int64, m *Metrics, log zerolog.Logger) *queue {
	st := sp.Stats()
	q := &queue{ch: make(chan item, size), spool: sp, run: run, metrics: m, log: log,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		// Until the writer has read what the spool holds, new alerts wait
		// behind it.
		diskOnly: true}
	q.last.Store(st.LastSeq)
	return q
}

// close ends the queue; later offers fail. The writer takes what is left.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}

// input returns the sink for one input: its alerts are recorded with its
// name.
func (q *queue) input(name string) stream.Sink { return inputSink{q: q, name: name} }

// inputSink implements stream.Sink for one input.
type inputSink struct {
	q    *queue
	name string
}

// Put appends a to the spool, waiting while the spool is full: that wait
// is the backpressure felt by the gRPC input, which then stops asking
// Falco for more.
func (s inputSink) Put(ctx context.Context, a event.Alert) error {
	q := s.q
	wait := time.Millisecond
	for {
		err := q.offer(s.name, a)
		if err == nil {
			return nil
		}
		if errors.Is(err, errClosed) {
			return err
		}
		if errors.Is(err, errFull) {
			q.full("waiting")
		} else {
			q.metrics.SpoolErrors.Inc()
			q.warn(err, "cannot append to the spool; the input waits and retries")
		}
		select {
		case <-time.After(wait):
			wait = min(2*wait, 100*time.Millisecond)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Offer appends a to the spool if it has room, for the HTTP input's 503.
func (s inputSink) Offer(a event.Alert) bool {
	q := s.q
	err := q.offer(s.name, a)
	switch {
	case errors.Is(err, errFull):
		q.full("refused")
	case err != nil && !errors.Is(err, errClosed):
		q.metrics.SpoolErrors.Inc()
		q.warn(err, "cannot append to the spool; alert refused")
	}
	return err == nil
}

// full counts one refusal for lack of room and logs it at most once a
// minute.
func (q *queue) full(how string) {
	q.metrics.QueueFull.Inc()
	q.warn(nil, "spool full ("+how+"): inputs are held back until reports are written")
}

// warn logs at most one line a minute about the queue.
func (q *queue) warn(err error, msg string) {
	q.lastLogMu.Lock()
	defer q.lastLogMu.Unlock()
	if time.Since(q.lastLog) >= time.Minute {
		q.lastLog = time.Now()
		q.log.Warn().Err(err).Int64("spool_bytes", q.spool.Bytes()).Msg(msg)
	}
}

// maxSpoolValue caps each value of an alert too large for the spool.
const maxSpoolValue = 256 << 10

// offer appends a to the spool, and queues a copy if there is room.
func (q *queue) offer(input string, a event.Alert) error {
	key, storm, pid := q.evidenceKey(&a)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errClosed
	}
	recv := max(time.Now().UnixNano(), q.lastRecv)
	e := spool.Entry{Alert: a, Received: time.Unix(0, recv), Input: input, Run: q.run}
	if pid {
		e.Evidence = q.decideEvidence(key, storm, time.Unix(0, recv))
	}
	var at int
	q.buf, at = spool.AppendEntry(q.buf[:0], &e)
	// Megabytes of command line: keep what any report can show.
	for keep := maxSpoolValue; len(q.buf) > spool.MaxPayload/2 && keep >= 1<<10; keep /= 4 {
		e.Alert = e.Alert.Capped(keep)
		q.buf, at = spool.AppendEntry(q.buf[:0], &e)
	}
	seq, err := q.push(q.buf, at, record{recv: recv, input: input, run: q.run, a: e.Alert, evi: e.Evidence})
	if err != nil {
		q.undecideEvidence(e.Evidence, key, storm)
		return err
	}
	if e.Evidence == evAsked {
		// Room was checked by decideEvidence, under the same lock.
		q.asker.jobs <- evidenceJob{target: seq, a: e.Alert, table: q.asker.table.Load()}
	}
	q.metrics.received(a.Source)
	return nil
}

// offerEvidence appends an evidence record for the incident that opened at
// spool position target. Unlike alerts, it is taken while the daemon
// stops: the writer settles what it still awaits then.
func (q *queue) offerEvidence(target uint64, ev *report.Evidence) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if len(body) > spool.MaxPayload/2 {
		// The collector's own bounds keep a snapshot to a few hundred KiB.
		body, _ = json.Marshal(report.Evidence{Status: report.EvidenceFailed, PID: ev.PID,
			Reason: fmt.Sprintf("the snapshot was too large to keep (%d bytes)", len(body))})
	}
	clone := cloneEvidence(body)
	q.mu.Lock()
	defer q.mu.Unlock()
	recv := max(time.Now().UnixNano(), q.lastRecv)
	q.buf = spool.AppendEvidence(q.buf[:0], &spool.Evidence{Target: target, Received: time.Unix(0, recv), Run: q.run, Body: body})
	_, err = q.push(q.buf, 0, record{recv: recv, input: "evidence", run: q.run, ev: &evidenceRec{target: target, ev: clone}})
	return err
}

// push appends payload to the spool and, while the writer keeps up, a copy
// of its record r to the channel; alertAt is where the alert's own bytes
// start, for the record's checksum. It returns the record's position.
// q.mu is held.
func (q *queue) push(payload []byte, alertAt int, r record) (uint64, error) {
	pos, err := q.spool.AppendPos(payload)
	if cap(q.buf) > 1<<20 {
		defer func() { q.buf = nil }()
	}
	if errors.Is(err, spool.ErrFull) {
		return 0, errFull
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	q.lastRecv = r.recv
	q.last.Store(pos.Seq)
	size := int64(len(payload))
	if !q.diskOnly {
		if len(q.ch) < cap(q.ch) && q.chBytes.Load()+size <= maxQueueBytes {
			q.chBytes.Add(size)
			r.seq, r.sum = pos.Seq, xxhash.Sum64(payload[alertAt:])
			q.ch <- item{record: r, size: size}
		} else {
			q.diskOnly, q.gap = true, pos
		}
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return pos.Seq, nil
}

// toMemory switches the queue back to the channel once the writer has read
// every record up to next-1 from the spool. It reports whether it did.
func (q *queue) toMemory(next uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last.Load() >= next {
		return false
	}
	q.diskOnly = false
	return true
}

// fromDisk reports whether alerts go to the spool only, and where the
// first of them is.
func (q *queue) fromDisk() (bool, spool.Pos) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.diskOnly, q.gap
}
