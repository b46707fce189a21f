package stream

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"google.golang.org/grpc"
)

// maxAlertBytes is the largest alert accepted. gRPC's default, 4 MiB, is
// less than an alert with a few megabyte-long attacker-made values; one
// that large would end the stream and be lost.
const maxAlertBytes = 64 << 20

// subscribe runs one sub stream until it fails or ctx ends. It reports
// whether the stream became healthy (delivered an alert, or lived past the
// settle time), and why it ended.
//
// Falco writes its queued alerts only in answer to a request, so a request
// goes out at once and then every PollInterval, except while an alert is
// being handed to the sink: a full pipeline thus leaves alerts in Falco's
// queue instead of in ours.
func (g *GRPC) subscribe(ctx context.Context, client outputs.ServiceClient, sink Sink) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := client.Sub(ctx, grpc.ForceCodecV2(lenientCodec{}), grpc.MaxCallRecvMsgSize(maxAlertBytes))
	if err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		return false, fmt.Errorf("first request: %w", subStatus(sub, err))
	}

	var busy atomic.Bool
	received := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- grpcReceive(ctx, sub, sink, &busy, received) }()

	healthy := false
	up := func() {
		if !healthy {
			healthy = true
			g.setState(StateConnected, nil)
		}
	}
	settle := time.NewTimer(g.settle)
	defer settle.Stop()
	poll := time.NewTicker(g.opts.PollInterval)
	defer poll.Stop()
	sending := true
	for {
		select {
		case err := <-done:
			return healthy, err
		case <-received:
			up()
		case <-settle.C:
			up()
		case <-poll.C:
			if !sending || busy.Load() {
				continue
			}
			if sub.Send(&outputs.Request{}) != nil {
				// The stream is broken; grpcReceive reports why.
				sending = false
			}
		}
	}
}

// grpcReceive hands every alert of the stream to sink until the stream ends.
// busy is set while an alert is being handed over; received is signalled
// after each alert.
func grpcReceive(ctx context.Context, sub outputs.Service_SubClient, sink Sink, busy *atomic.Bool, received chan<- struct{}) error {
	for {
		resp, err := sub.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		busy.Store(true)
		err = sink.Put(ctx, responseAlert(resp))
		busy.Store(false)
		if err != nil {
			return fmt.Errorf("hand over alert: %w", err)
		}
		select {
		case received <- struct{}{}:
		default:
		}
	}
}

// subStatus returns the reason a stream broke: after a failed Send, the
// status is only available from Recv.
func subStatus(sub outputs.Service_SubClient, sendErr error) error {
	if _, err := sub.Recv(); err != nil {
		return err
	}
	return sendErr
}
