package stream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

// openssl runs a shell script of openssl commands in dir.
func openssl(t *testing.T, dir, script string) {
	t.Helper()
	needTool(t, "openssl")
	cmd := exec.Command("bash", "-euc", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// readmeRecipe returns the openssl commands of the README's section on
// Falco's server certificate.
func readmeRecipe(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "#### Falco's server certificate")
	if i < 0 {
		t.Fatal("README has no section \"Falco's server certificate\"")
	}
	start := strings.Index(s[i:], "```sh\n")
	end := strings.Index(s[i+start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no sh block in the README's certificate section")
	}
	return s[i+start+6 : i+start+6+end]
}

// certFalco serves a fake Falco with the server certificate in dir and
// client certificates checked against dir/ca.crt, as Falco's grpc block
// does, and returns options for a client using dir/client.*.
func certFalco(t *testing.T, dir, host string) (*falcotest.Server, GRPCOptions) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	falco := falcotest.New()
	addr, err := falco.ListenTLS("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(falco.Stop)
	_, port, _ := net.SplitHostPort(addr)
	opts := fastGRPCOptions(net.JoinHostPort(host, port))
	opts.Cert, opts.Key, opts.CA = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.crt")
	return falco, opts
}

// TestGRPCReadmeCertificates runs the README's openssl commands, with the
// test's host names, and connects with the certificates they make.
func TestGRPCReadmeCertificates(t *testing.T) {
	dir := t.TempDir()
	recipe := strings.NewReplacer("falco.example.com", "localhost", "192.0.2.10", "127.0.0.1").Replace(readmeRecipe(t))
	openssl(t, dir, recipe)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		falco, opts := certFalco(t, dir, host)
		falco.Enqueue(falcoAlerts("san", 1)...)
		r := startGRPC(t, opts, nil)
		r.sink.waitFor(t, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		v, err := CheckGRPC(ctx, opts)
		cancel()
		if err != nil || v != falcotest.Version {
			t.Errorf("%s: CheckGRPC = %q, %v", host, v, err)
		}
	}
}

// TestGRPCCommonNameOnlyCertificate makes Falco's server certificate the
// way Falco's documentation does (CN=localhost, no subjectAltName) and
// checks that the refusal is explained, with the fix, and never silent.
func TestGRPCCommonNameOnlyCertificate(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, `
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=Root CA" -keyout ca.key -out ca.crt
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 01 -days 365 -out server.crt
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout client.key -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 02 -days 365 -out client.crt
`)
	falco, opts := certFalco(t, dir, "localhost")
	falco.Enqueue(falcoAlerts("cn", 1)...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err := CheckGRPC(ctx, opts)
	cancel()
	if err == nil || !IsCertificateError(err) {
		t.Fatalf("CheckGRPC = %v, want a certificate error", err)
	}
	for _, want := range []string{"legacy Common Name", "subjectAltName=DNS:", "README"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}

	r := startGRPC(t, opts, nil)
	grpcWait(t, "refused attempts", func() bool { return falco.Conns() >= 3 })
	if r.g.State() != StateDisconnected || len(r.sink.got()) != 0 {
		t.Fatalf("state %v, %d alerts", r.g.State(), len(r.sink.got()))
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"level":"error"`) || !strings.Contains(logs, "subjectAltName") {
		t.Errorf("the log does not explain the refusal at error level:\n%s", logs)
	}
}
