package app

import (
	"context"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// queue is the bounded hand-over between the inputs and the writer. It
// implements stream.Sink.
type queue struct {
	ch      chan event.Alert
	metrics *Metrics
}

func newQueue(size int, m *Metrics) *queue {
	return &queue{ch: make(chan event.Alert, size), metrics: m}
}

// Put waits for room; the wait is the backpressure felt by the inputs.
func (q *queue) Put(ctx context.Context, a event.Alert) error {
	select {
	case q.ch <- a:
		q.metrics.received(a.Source)
		return nil
	default:
	}
	q.metrics.QueueFull.Inc()
	select {
	case q.ch <- a:
		q.metrics.received(a.Source)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Offer hands over an alert if there is room, and reports whether it did.
func (q *queue) Offer(a event.Alert) bool {
	select {
	case q.ch <- a:
		q.metrics.received(a.Source)
		return true
	default:
		q.metrics.QueueFull.Inc()
		return false
	}
}
