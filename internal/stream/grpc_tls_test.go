package stream

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

// tlsFalco serves a fake Falco with mutual TLS on 127.0.0.1 and returns its
// port, its set-up, and a CA that Falco does not trust.
func tlsFalco(t *testing.T) (*falcotest.Server, string, *falcotest.MTLS, *falcotest.CA) {
	t.Helper()
	m, err := falcotest.NewMTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := falcotest.NewCA("stranger CA")
	if err != nil {
		t.Fatal(err)
	}
	falco := falcotest.New()
	addr, err := falco.ListenTLS("127.0.0.1:0", m.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(falco.Stop)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return falco, port, m, other
}

func TestGRPCMutualTLS(t *testing.T) {
	tests := []struct {
		name string
		host string
		// edit changes the client's files; nil keeps the good ones.
		edit func(t *testing.T, opts *GRPCOptions, other *falcotest.CA)
		ok   bool
	}{
		{"valid certificates", "127.0.0.1", nil, true},
		{"server name localhost", "localhost", nil, true},
		{"client certificate from another CA", "127.0.0.1", func(t *testing.T, o *GRPCOptions, other *falcotest.CA) {
			kp, err := other.ClientCert("stranger")
			if err != nil {
				t.Fatal(err)
			}
			o.Cert, o.Key, err = kp.WriteFiles(t.TempDir(), "stranger")
			if err != nil {
				t.Fatal(err)
			}
		}, false},
		{"server certificate not signed by ca", "127.0.0.1", func(t *testing.T, o *GRPCOptions, other *falcotest.CA) {
			o.CA = filepath.Join(t.TempDir(), "other-ca.crt")
			if err := other.WriteFile(o.CA); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			falco, port, m, other := tlsFalco(t)
			falco.Enqueue(falcoAlerts("tls", 2)...)
			opts := fastGRPCOptions(net.JoinHostPort(tt.host, port))
			opts.Cert, opts.Key, opts.CA = m.CertFile, m.KeyFile, m.CAFile
			if tt.edit != nil {
				tt.edit(t, &opts, other)
			}
			r := startGRPC(t, opts, nil)
			if tt.ok {
				r.sink.waitFor(t, 2)
				return
			}
			grpcWait(t, "several refused attempts", func() bool { return falco.Conns() >= 4 })
			if r.returned() {
				t.Fatal("Run returned")
			}
			if n := len(r.sink.got()); n != 0 || falco.Queued() != 2 {
				t.Fatalf("%d alerts delivered through a refused connection", n)
			}
			if r.g.State() != StateDisconnected {
				t.Fatalf("state %v", r.g.State())
			}
			if n := r.logs.count(`"level":"warn"`) + r.logs.count(`"level":"error"`); n != 1 {
				t.Fatalf("%d warnings or errors over several attempts, want 1:\n%s", n, r.logs)
			}
		})
	}
}

func TestGRPCReloadsRotatedCertificates(t *testing.T) {
	falco, port, m, other := tlsFalco(t)
	falco.Enqueue(falcoAlerts("rotated", 1)...)

	// The client starts with a certificate Falco does not trust...
	dir := t.TempDir()
	stranger, err := other.ClientCert("stranger")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := stranger.WriteFiles(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	opts := fastGRPCOptions(net.JoinHostPort("127.0.0.1", port))
	opts.Cert, opts.Key, opts.CA = certFile, keyFile, m.CAFile
	r := startGRPC(t, opts, nil)
	grpcWait(t, "a refused attempt", func() bool { return falco.Conns() >= 2 })

	// ...and the files are replaced by good ones without a restart.
	good, err := m.CA.ClientCert("falco-reporter")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, good.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, good.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	r.sink.waitFor(t, 1)
}

func TestGRPCKeyMissingAtReconnect(t *testing.T) {
	falco, port, m, _ := tlsFalco(t)
	keyPEM, err := os.ReadFile(m.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	falco.Enqueue(falcoAlerts("first", 1)...)
	opts := fastGRPCOptions(net.JoinHostPort("127.0.0.1", port))
	opts.Cert, opts.Key, opts.CA = m.CertFile, m.KeyFile, m.CAFile
	r := startGRPC(t, opts, nil)
	r.sink.waitFor(t, 1)

	// A key missing mid-rotation while Falco restarts is a retry, not the
	// end of the input.
	if err := os.Remove(m.KeyFile); err != nil {
		t.Fatal(err)
	}
	falco.Stop()
	grpcWait(t, "disconnected", func() bool { return r.g.State() == StateDisconnected })
	if err := falco.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if r.returned() || falco.Subscribers() != 0 {
		t.Fatalf("returned %v, subscribers %d", r.returned(), falco.Subscribers())
	}
	if err := os.WriteFile(m.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	falco.Enqueue(falcoAlerts("back", 1)...)
	r.sink.waitFor(t, 2)
}
