package query

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/vltest"
)

// testCert makes a certificate signed by ca (self-signed when ca is nil)
// for 127.0.0.1, and writes it and its key as PEM files in dir.
func testCert(t *testing.T, dir, name string, ca *tls.Certificate) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, any(key)
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		parent, signer = ca.Leaf, ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c.Leaf, _ = x509.ParseCertificate(der)
	return c, certFile, keyFile
}

// TestFleetTLSAndBasicAuth queries a real VictoriaLogs that serves https
// with a private CA and asks for a password.
func TestFleetTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	ca, caFile, _ := testCert(t, dir, "ca", nil)
	_, srvCert, srvKey := testCert(t, dir, "server", &ca)
	vl := vltest.Start(t, "-tls", "-tlsCertFile="+srvCert, "-tlsKeyFile="+srvKey, "-httpAuth.username=oncall", "-httpAuth.password=hunter2")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	vl.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	vl.User, vl.Password = "oncall", "hunter2"
	rs, err := querytest.Reports(3, end)
	if err != nil {
		t.Fatal(err)
	}
	var entries []vltest.Entry
	for i := range rs {
		e, err := querytest.JournalEntry(&rs[i], "/r.md", end)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	vl.Ingest(t, entries)
	vl.Flush(t)

	tests := []struct {
		name string
		o    FleetOptions
		want string // in the error; "": works
	}{
		{"CA and password", FleetOptions{CA: caFile, User: "oncall", Password: "hunter2"}, ""},
		{"wrong password", FleetOptions{CA: caFile, User: "oncall", Password: "nope"}, "authentication refused"},
		{"no password", FleetOptions{CA: caFile}, "authentication refused"},
		{"CA not trusted", FleetOptions{User: "oncall", Password: "hunter2"}, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.URL = vl.URL
			f, err := NewFleet(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			es, err := f.List(context.Background(), Filter{})
			switch {
			case tt.want == "" && (err != nil || len(es) != 3):
				t.Errorf("%d reports, %v", len(es), err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Error("the password is in the error")
			}
		})
	}
}

// TestFleetClientCertificate: with --fleet-cert and --fleet-key, a server
// that requires a client certificate (a proxy in front of VictoriaLogs)
// gets it.
func TestFleetClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, caFile, _ := testCert(t, dir, "ca", nil)
	srv, _, _ := testCert(t, dir, "server", &ca)
	_, cert, key := testCert(t, dir, "client", &ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	var peer string
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer = r.TLS.PeerCertificates[0].Subject.CommonName
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{srv}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	ts.StartTLS()
	defer ts.Close()
	for _, withCert := range []bool{true, false} {
		o := FleetOptions{URL: ts.URL, CA: caFile}
		if withCert {
			o.Cert, o.Key = cert, key
		}
		f, err := NewFleet(o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.List(context.Background(), Filter{})
		if withCert && (err != nil || peer != "client") {
			t.Errorf("with a client certificate: %v, peer %q", err, peer)
		}
		if !withCert && err == nil {
			t.Error("without a client certificate, the server let us in")
		}
	}
}
