package stream

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// startHTTP runs an HTTP input on a free port until the test ends and
// returns its base URL.
func startHTTP(t *testing.T, opts HTTPOptions, sink Sink) (*HTTP, string) {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.AllowedUIDs == nil {
		// The tests run as root in CI; let them run as anyone.
		opts.AllowedUIDs = []uint32{uint32(os.Getuid())}
	}
	opts.Logger = zerolog.Nop()
	h, err := NewHTTP(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, sink) }()
	select {
	case <-h.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("http input not ready after 5s")
	}
	if h.Addr() == nil {
		t.Fatalf("not listening: %v", <-done)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return 5s after cancel")
		}
	})
	scheme := "http"
	if opts.TLSCert != "" {
		scheme = "https"
	}
	if h.network == "unix" {
		return h, "http://unix"
	}
	return h, scheme + "://" + h.Addr().String()
}

// httpDo sends one request and returns the status and body.
func httpDo(t *testing.T, c *http.Client, method, url, ctype, encoding string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTPPost(t *testing.T) {
	falco := readTestdata(t, "falco_http.json")
	lines := bytes.Split(bytes.TrimSpace(readTestdata(t, "alerts.jsonl")), []byte("\n"))
	const maxBody = 8 << 10
	tests := []struct {
		name     string
		ctype    string
		encoding string
		body     []byte
		code     int
		contains string
	}{
		{"falco http_output", "application/json", "", falco, 200, ""},
		{"falcosidekick webhook", "application/json; charset=utf-8", "", readTestdata(t, "sidekick_webhook.json"), 200, ""},
		{"no content type", "", "", falco, 200, ""},
		{"nested json in output_fields", "application/json", "", lines[1], 200, ""},
		{"no output, tags or output_fields", "application/json", "", lines[3], 200, ""},
		{"gzip body", "application/json", "gzip", gzipped(t, falco), 200, ""},
		{"bad json", "application/json", "", []byte(`{"rule":`), 400, "invalid JSON"},
		{"missing rule", "application/json", "", []byte(`{"priority":"Warning","time":"2026-04-02T10:00:01Z"}`), 400, `"rule"`},
		{"missing priority", "application/json", "", []byte(`{"rule":"r","time":"2026-04-02T10:00:01Z"}`), 400, `"priority"`},
		{"missing time", "application/json", "", []byte(`{"rule":"r","priority":"Warning"}`), 400, `"time"`},
		{"empty body", "application/json", "", nil, 400, "invalid JSON"},
		{"too large", "application/json", "", append(falco[:len(falco)-2], []byte(`,"pad":"`+strings.Repeat("a", maxBody)+`"}`)...), 413, "larger than"},
		{"gzip bomb", "application/json", "gzip", gzipped(t, []byte(`{"pad":"`+strings.Repeat("a", 10*maxBody)+`"}`)), 413, "larger than"},
		{"broken gzip", "application/json", "gzip", []byte("not gzip at all"), 400, "gzip"},
		{"text plain from json_output false", "text/plain", "", []byte("10:00:01.123456789: Warning Sensitive file opened"), 415, "json_output: true"},
		{"form", "application/x-www-form-urlencoded", "", falco, 415, "application/json"},
		{"unknown encoding", "application/json", "br", falco, 415, "Content-Encoding"},
	}
	sink := &tapSink{}
	drops := &tapDrops{}
	_, base := startHTTP(t, HTTPOptions{MaxBody: maxBody, OnDrop: drops.add}, sink)
	accepted, rejected := 0, 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := httpDo(t, http.DefaultClient, http.MethodPost, base+"/", tt.ctype, tt.encoding, tt.body)
			if code != tt.code || !strings.Contains(body, tt.contains) || (code == 200 && body != "") {
				t.Errorf("got %d %q, want %d containing %q (200: empty)", code, body, tt.code, tt.contains)
			}
		})
		if tt.code == 200 {
			accepted++
		} else {
			rejected++
		}
	}
	if n := len(sink.got()); n != accepted {
		t.Errorf("sink got %d alerts, want %d", n, accepted)
	}
	if n := drops.get(DropHTTPRejected); n != rejected {
		t.Errorf("drops = %d, want %d", n, rejected)
	}
}

func TestHTTPAlertContent(t *testing.T) {
	sink := &tapSink{}
	_, base := startHTTP(t, HTTPOptions{}, sink)
	code, body := httpDo(t, http.DefaultClient, http.MethodPost, base, "application/json", "", readTestdata(t, "falco_http.json"))
	if code != 200 {
		t.Fatalf("got %d %q", code, body)
	}
	a := sink.waitN(t, 1)[0]
	if v := a.Fields["evt.time"]; v.Text != "1775124001123456789" || v.Kind != event.Number {
		t.Errorf("evt.time = %+v, want exactly 1775124001123456789", v)
	}
	if a.Rule != "Read sensitive file untrusted" || a.Priority != event.PriorityWarning || a.Hostname != "web-1" {
		t.Errorf("alert = %+v", a)
	}
	if want := time.Date(2026, 4, 2, 10, 0, 1, 123456789, time.UTC); !a.Time.Equal(want) {
		t.Errorf("time = %v, want %v", a.Time, want)
	}
	for _, k := range []string{"proc.aname[3]", "proc.aname[4]"} {
		if _, ok := a.Fields.Get(k); ok {
			t.Errorf("%s should be missing", k)
		}
	}
	if v := a.Fields["user.loginuid"]; v.Text != "-1" {
		t.Errorf("user.loginuid = %+v", v)
	}
}

func TestHTTPRoutes(t *testing.T) {
	_, base := startHTTP(t, HTTPOptions{Path: "/falco"}, &tapSink{})
	falco := readTestdata(t, "falco_http.json")
	tests := []struct {
		method, path string
		code         int
		contains     string
	}{
		{http.MethodGet, "/falco", 405, "POST"},
		{http.MethodDelete, "/falco", 405, "PUT"},
		{http.MethodPut, "/falco", 200, ""},
		{http.MethodPost, "/falco", 200, ""},
		{http.MethodPost, "/", 404, ""},
		{http.MethodGet, "/healthz", 200, ""},
		{http.MethodPost, "/healthz", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body := httpDo(t, http.DefaultClient, tt.method, base+tt.path, "application/json", "", falco)
			if code != tt.code || !strings.Contains(body, tt.contains) {
				t.Errorf("got %d %q, want %d containing %q", code, body, tt.code, tt.contains)
			}
		})
	}
}

func TestHTTPOverload(t *testing.T) {
	sink := &tapSink{full: true}
	drops := &tapDrops{}
	_, base := startHTTP(t, HTTPOptions{OnDrop: drops.add}, sink)
	for range 3 {
		code, _ := httpDo(t, http.DefaultClient, http.MethodPost, base, "application/json", "", readTestdata(t, "falco_http.json"))
		if code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", code)
		}
	}
	if n := drops.get(DropHTTPOverload); n != 3 {
		t.Errorf("overload drops = %d, want 3", n)
	}
}

// panicSink panics on Offer, like a bug further down the pipeline.
type panicSink struct{ tapSink }

func (p *panicSink) Offer(event.Alert) bool { panic("boom") }

func TestHTTPRecoversPanic(t *testing.T) {
	_, base := startHTTP(t, HTTPOptions{}, &panicSink{})
	falco := readTestdata(t, "falco_http.json")
	for range 2 {
		if code, _ := httpDo(t, http.DefaultClient, http.MethodPost, base, "application/json", "", falco); code != 500 {
			t.Fatalf("status = %d, want 500", code)
		}
	}
	if code, _ := httpDo(t, http.DefaultClient, http.MethodGet, base+"/healthz", "", "", nil); code != 200 {
		t.Errorf("healthz after a panic = %d", code)
	}
}

func TestHTTPConcurrentPosts(t *testing.T) {
	const workers, each = 8, 50
	sink := &tapSink{}
	_, base := startHTTP(t, HTTPOptions{}, sink)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				resp, err := client.Post(base, "application/json", strings.NewReader(tapLine(n)))
				if err != nil {
					errs <- err
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("alert %d: status %d", n, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := tapNums(sink.got()); !slices.Equal(got, tapRange(0, workers*each-1)) {
		t.Errorf("delivered %d alerts, want each of 0..%d exactly once", len(got), workers*each-1)
	}
}

func TestHTTPListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h, err := NewHTTP(HTTPOptions{Listen: ln.Addr().String(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Run(ctx, &tapSink{}); err == nil {
		t.Fatal("Run on an address in use returned nil")
	}
	select {
	case <-h.Ready():
	default:
		t.Error("Ready not closed after a failed listen")
	}
	if h.Addr() != nil {
		t.Errorf("Addr = %v after a failed listen", h.Addr())
	}
}

func TestNewHTTPErrors(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name string
		opts HTTPOptions
	}{
		{"client CA without TLS", HTTPOptions{ClientCA: pki.caFile}},
		{"cert without key", HTTPOptions{TLSCert: pki.serverCert}},
		{"missing cert file", HTTPOptions{TLSCert: "/nonexistent.pem", TLSKey: pki.serverKey}},
		{"CA file without PEM", HTTPOptions{TLSCert: pki.serverCert, TLSKey: pki.serverKey, ClientCA: pki.notPEM}},
		{"relative path", HTTPOptions{Path: "falco"}},
		{"health path", HTTPOptions{Path: "/healthz"}},
		{"all interfaces without client certificates", HTTPOptions{Listen: "0.0.0.0:2801"}},
		{"LAN address with TLS but no client CA", HTTPOptions{Listen: "192.0.2.10:2801", TLSCert: pki.serverCert, TLSKey: pki.serverKey}},
		{"relative unix path", HTTPOptions{Listen: "unix://run/x.sock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHTTP(tt.opts); err == nil {
				t.Error("NewHTTP returned no error")
			}
		})
	}
}

func TestHTTPClientCert(t *testing.T) {
	pki := newTestPKI(t)
	sink := &tapSink{}
	_, base := startHTTP(t, HTTPOptions{TLSCert: pki.serverCert, TLSKey: pki.serverKey, ClientCA: pki.caFile}, sink)
	client := func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: pki.pool}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	falco := readTestdata(t, "falco_http.json")
	post := func(c *http.Client) error {
		resp, err := c.Post(base, "application/json", bytes.NewReader(falco))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := post(client(nil)); err == nil || !strings.Contains(err.Error(), "tls:") {
		t.Errorf("a client without a certificate: err = %v, want a TLS refusal", err)
	}
	if err := post(client(&pki.strangerCert)); err == nil || !strings.Contains(err.Error(), "tls:") {
		t.Errorf("a client with a certificate from another CA: err = %v, want a TLS refusal", err)
	}
	if err := post(client(&pki.clientCert)); err != nil {
		t.Errorf("a client with a certificate from the CA was refused: %v", err)
	}
	if n := len(sink.got()); n != 1 {
		t.Errorf("sink got %d alerts, want 1", n)
	}
}

// testPKI is a CA, a server certificate for 127.0.0.1 and client
// certificates from the CA and from another CA.
type testPKI struct {
	caFile, serverCert, serverKey, notPEM string
	pool                                  *x509.CertPool
	clientCert, strangerCert              tls.Certificate
	clientKey                             *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := testCert(t, "test CA", nil, nil, nil)
	other, otherKey := testCert(t, "other CA", nil, nil, nil)
	srv, srvKey := testCert(t, "falco-reporter", ca, caKey, func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	cli, cliKey := testCert(t, "falco", ca, caKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	str, strKey := testCert(t, "falco", other, otherKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	p := &testPKI{
		caFile:       writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw),
		serverCert:   writePEM(t, dir, "server.pem", "CERTIFICATE", srv.Raw),
		serverKey:    writePEM(t, dir, "server-key.pem", "PRIVATE KEY", pkcs8(t, srvKey)),
		pool:         x509.NewCertPool(),
		clientCert:   tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey},
		clientKey:    cliKey,
		strangerCert: tls.Certificate{Certificate: [][]byte{str.Raw}, PrivateKey: strKey},
	}
	p.notPEM = filepath.Join(dir, "not.pem")
	if err := os.WriteFile(p.notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.pool.AddCert(ca)
	return p
}

// testCert makes a certificate signed by parent, or a self-signed CA when
// parent is nil.
func testCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, edit func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func pkcs8(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
