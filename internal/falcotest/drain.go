package falcotest

import (
	"context"
	"fmt"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Drain is the bare reference client of the benchmark: it subscribes to
// the Falco gRPC server at addr (unix:///path), sends a request every poll,
// and receives and decodes n alerts, doing nothing else with them. Its rate
// is the transport limit that the daemon is compared with. connected, if
// set, is called once the stream is open; Drain returns the time from then
// until the n-th alert arrived.
func Drain(ctx context.Context, addr string, n int, poll time.Duration, connected func()) (time.Duration, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, fmt.Errorf("drain: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := outputs.NewServiceClient(conn).Sub(ctx, grpc.MaxCallRecvMsgSize(64<<20))
	if err != nil {
		return 0, fmt.Errorf("drain: subscribe: %w", err)
	}
	if err := sub.Send(&outputs.Request{}); err != nil {
		return 0, fmt.Errorf("drain: request: %w", err)
	}
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if sub.Send(&outputs.Request{}) != nil {
					return
				}
			}
		}
	}()
	if connected != nil {
		connected()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := sub.Recv(); err != nil {
			return 0, fmt.Errorf("drain: after %d alerts: %w", i, err)
		}
	}
	return time.Since(start), nil
}
