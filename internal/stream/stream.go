// Package stream holds every input that receives alerts from Falco: its
// gRPC outputs API (Falco 0.43 and older), its http_output, and files of
// JSON alerts. Each input turns what it receives into event.Alert values and
// hands them to a Sink. This is the only package that imports client-go.
package stream

import (
	"context"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// Sink is where inputs deliver alerts: the rest of the pipeline.
type Sink interface {
	// Put hands over one alert, waiting while the pipeline is full; this
	// wait is the backpressure that makes the gRPC input stop asking Falco
	// for more. When Put returns nil the alert is the pipeline's
	// responsibility. It returns an error only when ctx ends first.
	Put(ctx context.Context, a event.Alert) error

	// Offer hands over one alert without waiting. It returns false when the
	// pipeline is full, so that the HTTP input can answer 503.
	Offer(a event.Alert) bool
}

// Source is one input. Run delivers alerts to sink until ctx ends, then
// returns nil. It returns an error only for a problem no retry can fix,
// such as a listen address already in use. A Falco that is absent,
// restarting or misbehaving is never such an error.
type Source interface {
	Name() string
	Run(ctx context.Context, sink Sink) error
}

// State is the connection state of an input, for logs, metrics and health.
type State int

// Input states.
const (
	StateConnecting   State = iota // trying to reach Falco
	StateConnected                 // receiving, or ready to receive
	StateDisconnected              // Falco is unreachable; retrying with backoff
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// StateFunc is told of every change of an input's state.
type StateFunc func(source string, s State)
