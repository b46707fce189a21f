package falcotest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

func TestServerCertSANs(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		hosts []string
		ok    []string
		bad   []string
	}{
		{"default", nil, []string{"127.0.0.1", "localhost"}, []string{"example.com", "10.0.0.1"}},
		{"explicit", []string{"falco.example", "10.0.0.1"}, []string{"falco.example", "10.0.0.1"}, []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := ca.ServerCert(tt.hosts...)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(kp.CertPEM)
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.ok {
				opts := x509.VerifyOptions{DNSName: h, Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
				if _, err := cert.Verify(opts); err != nil {
					t.Errorf("%s: %v", h, err)
				}
			}
			for _, h := range tt.bad {
				if err := cert.VerifyHostname(h); err == nil {
					t.Errorf("%s accepted", h)
				}
			}
		})
	}
}

func TestNewMTLSWritesLoadableFiles(t *testing.T) {
	m, err := NewMTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(m.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", info.Mode().Perm())
	}
	caPEM, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(caPEM) {
		t.Fatal("ca file holds no certificate")
	}
	if m.Server.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatal("server does not require client certificates")
	}
}
