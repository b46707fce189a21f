package stream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/config"
)

// unixClient is an HTTP client over the unix socket path.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// socketDir returns a directory that every user may enter, for a socket
// that another user's client connects to.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "falco-reporter-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHTTPAllowedUIDs: on loopback and on a unix socket, only the users in
// AllowedUIDs may post; others get 403, counted. The uid comes from the
// kernel (sock_diag for TCP, SO_PEERCRED for unix), not from the request.
func TestHTTPAllowedUIDs(t *testing.T) {
	me := uint32(os.Getuid())
	falco := readTestdata(t, "falco_http.json")
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", "unix://" + filepath.Join(socketDir(t), "http.sock")} {
		for _, tt := range []struct {
			name    string
			allowed []uint32
			code    int
		}{
			{"allowed", []uint32{me + 1, me}, 200},
			{"not allowed", []uint32{me + 1}, 403},
			{"nobody allowed", []uint32{}, 403},
		} {
			t.Run(listen+"/"+tt.name, func(t *testing.T) {
				if strings.HasPrefix(listen, "[::1]") {
					if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
						t.Skip("no IPv6 loopback")
					} else {
						ln.Close()
					}
				}
				sink, drops := &tapSink{}, &tapDrops{}
				opts := HTTPOptions{Listen: listen, AllowedUIDs: tt.allowed, OnDrop: drops.add}
				if strings.HasPrefix(listen, "unix://") {
					opts.Listen = "unix://" + filepath.Join(socketDir(t), "http.sock")
				}
				h, base := startHTTP(t, opts, sink)
				client := http.DefaultClient
				if h.network == "unix" {
					client = unixClient(h.address)
				}
				for range 2 {
					if code, body := httpDo(t, client, http.MethodPost, base+"/", "application/json", "", falco); code != tt.code {
						t.Fatalf("status %d %q, want %d", code, body, tt.code)
					}
				}
				if tt.code == 403 {
					if n := drops.get(DropHTTPForbidden); n != 2 || len(sink.got()) != 0 {
						t.Errorf("forbidden drops %d, delivered %d", n, len(sink.got()))
					}
				} else if len(sink.got()) != 2 {
					t.Errorf("delivered %d", len(sink.got()))
				}
				if code, _ := httpDo(t, client, http.MethodGet, base+"/healthz", "", "", nil); code != 200 {
					t.Errorf("healthz: %d", code)
				}
			})
		}
	}
}

// curlAs runs curl as uid (root only) with args, the alert on stdin, and
// returns the HTTP status it printed.
func curlAs(t *testing.T, uid uint32, body []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30",
		"-A", "falcosecurity/falco", "-H", "Content-Type: application/json", "--data-binary", "@-"}, args...)...)
	cmd.Stdin = strings.NewReader(string(body))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return fmt.Sprintf("curl exit %d: %s", ee.ExitCode(), strings.TrimSpace(string(ee.Stderr)))
		}
		t.Fatal(err)
	}
	return string(out)
}

// TestHTTPForgedPostFromAnotherUser runs curl, which posts as Falco's
// libcurl does, as root (Falco) and as nobody (any local process), over
// TCP loopback and a unix socket, with the default allowed_uids [0].
func TestHTTPForgedPostFromAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user (CI runs as root)")
	}
	needTool(t, "curl")
	const nobody = 65534
	falco := readTestdata(t, "falco_http.json")
	sock := filepath.Join(socketDir(t), "http.sock")
	for _, listen := range []string{"127.0.0.1:0", "unix://" + sock} {
		sink, drops := &tapSink{}, &tapDrops{}
		h, base := startHTTP(t, HTTPOptions{Listen: listen, AllowedUIDs: DefaultAllowedUIDs, OnDrop: drops.add}, sink)
		args := []string{base + "/"}
		if h.network == "unix" {
			args = []string{"--unix-socket", sock, "http://localhost/"}
		}
		if got := curlAs(t, nobody, falco, args...); got != "403" {
			t.Errorf("%s: a post from uid %d got %q, want 403", listen, nobody, got)
		}
		if got := curlAs(t, 0, falco, args...); got != "200" {
			t.Errorf("%s: a post from root (Falco) got %q, want 200", listen, got)
		}
		if n := len(sink.got()); n != 1 || drops.get(DropHTTPForbidden) != 1 {
			t.Errorf("%s: %d alerts delivered, %d refused; want 1 and 1", listen, n, drops.get(DropHTTPForbidden))
		}
	}
}

// TestHTTPMutualTLSLikeFalco: on an address that is not loopback, the
// client certificate is what admits a post. curl makes the request with
// the options Falco's http_output sets on libcurl for mtls: true
// (client_cert, client_key, ca_cert).
func TestHTTPMutualTLSLikeFalco(t *testing.T) {
	needTool(t, "curl")
	pki := newTestPKI(t)
	dir := t.TempDir()
	cert := writePEM(t, dir, "falco.crt", "CERTIFICATE", pki.clientCert.Certificate[0])
	key := writePEM(t, dir, "falco.key", "PRIVATE KEY", pkcs8(t, pki.clientKey))
	sink := &tapSink{}
	// Another uid only: on a network address uids play no part.
	opts := HTTPOptions{TLSCert: pki.serverCert, TLSKey: pki.serverKey, ClientCA: pki.caFile, AllowedUIDs: []uint32{uint32(os.Getuid()) + 1}}
	h, err := NewHTTP(HTTPOptions{Listen: "0.0.0.0:2801", TLSCert: opts.TLSCert, TLSKey: opts.TLSKey, ClientCA: opts.ClientCA})
	if err != nil || h.kind != config.ListenNetwork {
		t.Fatalf("a network address with client certificates: %v", err)
	}
	h, base := startHTTP(t, opts, sink)
	h.kind = config.ListenNetwork // as if on a LAN address; the test talks to 127.0.0.1 only
	falco := readTestdata(t, "falco_http.json")
	run := func(args ...string) string {
		cmd := exec.Command("curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30",
			"-A", "falcosecurity/falco", "-H", "Content-Type: application/json", "--data-binary", "@-", "--cacert", pki.caFile}, args...)...)
		cmd.Stdin = strings.NewReader(string(falco))
		out, _ := cmd.Output()
		return string(out)
	}
	if got := run("--cert", cert, "--key", key, base+"/"); got != "200" {
		t.Errorf("Falco with its client certificate: %q, want 200", got)
	}
	if got := run(base + "/"); got == "200" {
		t.Error("a client without a certificate was let in")
	}
	if n := len(sink.got()); n != 1 {
		t.Errorf("%d alerts delivered, want 1", n)
	}
}
