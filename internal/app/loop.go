package app

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// tickEvery is how often the writer looks for updates that are due: an
// update interval shorter than this is in effect this.
const tickEvery = 250 * time.Millisecond

// run is the writer's loop: take records, apply them, write what is due,
// checkpoint, tick. It returns when the queue is closed and every record
// is applied, or the drain deadline has passed, after a last write and
// checkpoint.
func (w *writer) run(stopBy *atomic.Int64) {
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	defer w.reader.Close()
	backoff := time.Duration(0)
	var retryAt time.Time
	stopping := false
	var stopStart time.Time
	for {
		w.onLoop()
		// Updates are due by the clock even while alerts keep coming.
		select {
		case <-tick.C:
			w.tick()
			w.metrics.QueueDepth.Set(float64(w.backlog()))
			w.metrics.SpoolBytes.Set(float64(w.spool.Bytes()))
		default:
		}
		if len(w.pending) > 0 && !w.now().Before(retryAt) {
			if err := w.flush(); err != nil {
				backoff = min(max(2*backoff, 250*time.Millisecond), 30*time.Second)
				retryAt = w.now().Add(backoff)
				if w.now().Sub(w.lastErr) >= time.Minute {
					w.lastErr = w.now()
					w.log.Error().Err(err).Dur("retry_in", backoff).Msg("cannot write reports; alerts wait in the spool and are retried")
				}
			} else if backoff > 0 {
				backoff = 0
				w.log.Info().Msg("writing reports again")
			}
		}
		if len(w.pending) == 0 {
			w.ckpt.maybe(w, stopping)
		}
		if stopping {
			deadline := stopBy.Load()
			if w.idle() && len(w.awaiting) > 0 && backoff == 0 {
				if w.awaitingAnswers(stopStart, deadline) {
					continue
				}
				if !w.settledAll {
					// Settle what is still awaited, through the spool.
					w.settledAll = true
					if w.settleStale(true, evidenceStopped) {
						continue
					}
				}
			}
			if w.idle() || deadline != 0 && w.now().UnixNano() >= deadline || backoff > 0 {
				w.finish()
				return
			}
		}
		// While writes fail, take no more alerts: they wait in the spool,
		// and the inputs are held back once it is full.
		took := 0
		if backoff == 0 {
			took = w.take()
		}
		if took > 0 || len(w.pending) > 0 && backoff == 0 {
			continue
		}
		select {
		case <-w.queue.done:
			if !stopping {
				stopping, stopStart = true, w.now()
			}
		case <-w.queue.wake:
		case <-tick.C:
			w.tick()
			w.metrics.QueueDepth.Set(float64(w.backlog()))
			w.metrics.SpoolBytes.Set(float64(w.spool.Bytes()))
		}
	}
}

// finish writes every report with unwritten alerts and checkpoints, at
// shutdown. Records not applied stay in the spool for the next start.
func (w *writer) finish() {
	w.queueDirty()
	if err := w.flush(); err != nil {
		w.log.Error().Err(err).Int("reports", len(w.pending)).Msg("reports not written at shutdown; their alerts stay in the spool for the next start")
		return
	}
	w.ckpt.maybe(w, true)
	if n := w.backlog(); n > 0 {
		w.log.Warn().Uint64("alerts", n).Msg("shutdown deadline passed before every alert was applied; they stay in the spool for the next start")
	}
}

// backlog returns how many records wait in the spool to be applied.
func (w *writer) backlog() uint64 {
	last := w.queue.last.Load()
	if last < w.next {
		return 0
	}
	return last - w.next + 1
}

// idle reports whether every record appended so far is applied.
func (w *writer) idle() bool { return w.queue.last.Load() < w.next && len(w.queue.ch) == 0 }

// take applies up to maxTake records, from the queue's channel while the
// writer keeps up and from the spool when the queue has spilled to it, and
// returns how many it took. A turn ends early once maxNew reports are
// pending, so that writes keep pace.
func (w *writer) take() int {
	n := 0
	for n < maxTake && len(w.pending) < maxNew {
		r, ok := w.nextRecord()
		if !ok {
			break
		}
		w.apply(r)
		n++
	}
	if n > 0 && !w.caughtUp && w.backlog() == 0 {
		w.caughtUp = true
		if w.replayed > 0 {
			w.log.Info().Int("alerts", w.replayed).Msg("replayed alerts received before the last stop")
		}
	}
	if !w.settledStale && w.backlog() == 0 {
		// Snapshots asked for by earlier runs that are not in the spool
		// now will never come.
		w.settledStale = true
		w.settleStale(false, evidenceStopped)
	}
	return n
}

// nextRecord returns the record at w.next (or the first after it: the
// spool may skip a position), or false when there is none yet.
func (w *writer) nextRecord() (*record, bool) {
	retried := false
	for {
		if !w.fromDisk {
			select {
			case it := <-w.queue.ch:
				w.queue.chBytes.Add(-it.size)
				if it.seq < w.next {
					continue
				}
				return &it.record, true
			default:
			}
			disk, gap := w.queue.fromDisk()
			if !disk {
				return nil, false
			}
			// The channel is full or was: what follows the channel's last
			// alert is in the spool only. Whatever the channel still holds
			// comes first.
			select {
			case it := <-w.queue.ch:
				w.queue.chBytes.Add(-it.size)
				if it.seq >= w.next {
					return &it.record, true
				}
				continue
			default:
			}
			w.fromDisk = true
			w.reader.Seek(gap)
		}
		seq, payload, err := w.reader.Next()
		if errors.Is(err, io.EOF) {
			if w.queue.toMemory(w.next) {
				w.fromDisk = false
				continue
			}
			if w.queue.last.Load() >= w.next && !retried {
				retried = true
				continue // appended since: read on
			}
			return nil, false
		}
		if err != nil {
			w.log.Error().Err(err).Msg("cannot read the spool; retrying")
			return nil, false
		}
		if seq < w.next {
			continue
		}
		if spool.IsEvidence(payload) {
			r, err := evidenceRecord(seq, payload)
			if err != nil {
				w.metrics.Drop("spool_undecodable")
				w.next = seq + 1
				continue
			}
			return r, true
		}
		e, at, derr := spool.DecodeEntry(payload)
		if derr != nil {
			w.metrics.Drop("spool_undecodable")
			w.next = seq + 1
			continue
		}
		recv := e.Received.UnixNano()
		if e.Received.IsZero() {
			recv = w.clock // a record of an older version
		}
		return &record{seq: seq, sum: xxhash.Sum64(payload[at:]), recv: recv, input: e.Input, run: e.Run, a: e.Alert, evi: e.Evidence}, true
	}
}
