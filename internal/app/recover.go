package app

import (
	"context"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/ruleoutput"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// recovering is the sink the inputs deliver to: it reads an alert's field
// values back from its output text when Falco sent no output_fields, before
// the alert is spooled and queued.
type recovering struct{ q stream.Sink }

func (r recovering) Put(ctx context.Context, a event.Alert) error {
	ruleoutput.Recover(&a)
	return r.q.Put(ctx, a)
}

func (r recovering) Offer(a event.Alert) bool {
	ruleoutput.Recover(&a)
	return r.q.Offer(a)
}
