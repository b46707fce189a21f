package stream

import (
	"context"
	"fmt"

	"github.com/falcosecurity/client-go/pkg/api/version"
	"google.golang.org/grpc"
)

// CheckGRPC connects to Falco as the gRPC input does and asks its version.
// It returns Falco's version, or why it could not: a certificate problem
// (IsCertificateError), which only a change of certificates or
// configuration fixes, or Falco being unreachable now. The error explains
// the problem and its fix.
func CheckGRPC(ctx context.Context, opts GRPCOptions) (string, error) {
	target, err := parseGRPCAddress(opts.Address)
	if err != nil {
		return "", err
	}
	creds, err := target.credentials(opts.Cert, opts.Key, opts.CA)
	if err != nil {
		return "", err
	}
	conn, err := target.dial(creds)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	resp, err := version.NewServiceClient(conn).Version(ctx, &version.Request{}, grpc.ForceCodecV2(lenientCodec{}))
	if err != nil {
		return "", &reasonError{err}
	}
	return resp.GetVersion(), nil
}

// reasonError is an error from Falco, explained by grpcReason.
type reasonError struct{ err error }

func (e *reasonError) Error() string {
	return fmt.Sprintf("falco at the gRPC address: %s", grpcReason(e.err))
}
func (e *reasonError) Unwrap() error { return e.err }
