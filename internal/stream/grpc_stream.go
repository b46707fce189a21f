package stream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/api/version"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// subscribe runs one sub stream until it fails or ctx ends. It reports
// whether the stream became healthy (delivered an alert, or lived past the
// settle time), and why it ended.
//
// Falco writes its queued alerts only in answer to a request, so a request
// goes out at once and then every PollInterval, except while an alert is
// being handed to the sink: a full pipeline thus leaves alerts in Falco's
// queue instead of in ours.
func (g *GRPC) subscribe(ctx context.Context, conn grpc.ClientConnInterface, sink Sink) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Alerts up to event.MaxAlertBytes, as every input: gRPC's default,
	// 4 MiB, is less than an alert with megabyte-long attacker-made values,
	// and one too large would end the stream and be lost.
	sub, err := outputs.NewServiceClient(conn).Sub(ctx, grpc.ForceCodecV2(lenientCodec{}), grpc.MaxCallRecvMsgSize(event.MaxAlertBytes))
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
	silent := make(chan error, 1)
	go func() { silent <- g.heartbeat(ctx, conn) }()

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
		case err := <-silent:
			if ctx.Err() == nil {
				return healthy, err
			}
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

// heartbeat calls Falco's version service every g.beat until ctx ends, and
// returns an error when Falco leaves a call unanswered for g.beatWait. Any
// answer, even an error status, shows that Falco is there.
func (g *GRPC) heartbeat(ctx context.Context, conn grpc.ClientConnInterface) error {
	client := version.NewServiceClient(conn)
	tick := time.NewTicker(g.beat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		bctx, cancel := context.WithTimeout(ctx, g.beatWait)
		_, err := client.Version(bctx, &version.Request{}, grpc.ForceCodecV2(lenientCodec{}))
		cancel()
		switch status.Code(err) {
		case codes.DeadlineExceeded:
			if ctx.Err() == nil {
				return fmt.Errorf("falco did not answer a heartbeat within %s: %w", g.beatWait, errSilent)
			}
		case codes.Unavailable:
			// The stream sees the broken connection too, and says why.
		}
	}
}

// errSilent marks a Falco that stopped answering on an open connection.
var errSilent = errors.New("falco is silent (hung, or its host unreachable)")

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
