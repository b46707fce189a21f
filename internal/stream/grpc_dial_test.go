package stream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

func TestNewGRPCValidates(t *testing.T) {
	m, err := falcotest.NewMTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.key")
	notPEM := filepath.Join(dir, "not-pem.crt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		addr          string
		cert, key, ca string
		wantErr       string // "" for success
	}{
		{"unix socket", "unix:///run/falco/falco.sock", "", "", "", ""},
		{"unix socket ignores TLS files", "unix:///run/falco/falco.sock", missing, missing, missing, ""},
		{"tcp with files", "falco.example:5060", m.CertFile, m.KeyFile, m.CAFile, ""},
		{"ipv6 with files", "[::1]:5060", m.CertFile, m.KeyFile, m.CAFile, ""},
		{"empty", "", "", "", "", "empty"},
		{"relative unix path", "unix://falco.sock", "", "", "", "absolute"},
		{"no port", "falco.example", "", "", "", "host:port"},
		{"no host", ":5060", m.CertFile, m.KeyFile, m.CAFile, "host and port"},
		{"tcp without cert", "127.0.0.1:5060", "", m.KeyFile, m.CAFile, "cert file not set"},
		{"tcp without ca", "127.0.0.1:5060", m.CertFile, m.KeyFile, "", "ca file not set"},
		{"missing key", "127.0.0.1:5060", m.CertFile, missing, m.CAFile, missing},
		{"missing ca", "127.0.0.1:5060", m.CertFile, m.KeyFile, missing, missing},
		{"ca not PEM", "127.0.0.1:5060", m.CertFile, m.KeyFile, notPEM, notPEM},
		{"key does not match", "127.0.0.1:5060", m.CAFile, m.KeyFile, m.CAFile, m.CAFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewGRPC(GRPCOptions{Address: tt.addr, Cert: tt.cert, Key: tt.key, CA: tt.ca})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatal("no error")
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewGRPCDefaults(t *testing.T) {
	tests := []struct {
		name        string
		in          GRPCOptions
		poll, maxBo time.Duration
	}{
		{"zero", GRPCOptions{}, DefaultPollInterval, DefaultMaxBackoff},
		{"set", GRPCOptions{PollInterval: time.Second, MaxBackoff: 5 * time.Second}, time.Second, 5 * time.Second},
		{"backoff above 30 s", GRPCOptions{MaxBackoff: time.Hour}, DefaultPollInterval, DefaultMaxBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Address = "unix:///run/falco/falco.sock"
			g, err := NewGRPC(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if g.opts.PollInterval != tt.poll || g.opts.MaxBackoff != tt.maxBo {
				t.Fatalf("poll %v, max backoff %v", g.opts.PollInterval, g.opts.MaxBackoff)
			}
			if g.Name() != "grpc" || g.State() != StateConnecting {
				t.Fatalf("name %q, state %v", g.Name(), g.State())
			}
		})
	}
}
