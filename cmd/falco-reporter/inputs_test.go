package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/falcotest"
)

// noFieldsAlert is what Falco posts with json_include_output_fields_property:
// false and json_include_tags_property: false, for a rule of Falco's own.
const noFieldsAlert = `{"hostname":"web-1","output":"2026-04-06T19:32:21.794850717+0000: Warning Sensitive file opened for reading by trusted program after startup | ` +
	`file=/etc/shadow pcmdline=event-generator run syscall gparent=containerd-shim ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 ` +
	`user_loginuid=-1 process=httpd proc_exepath=/bin/event-generator parent=event-generator command=httpd --loglevel info run terminal=0 ` +
	`container_id=920b85e0cae2 container_name=eventgen container_image_repository=falcosecurity/event-generator container_image_tag=latest ` +
	`k8s_pod_name=<NA> k8s_ns_name=<NA>","priority":"Warning","rule":"Read sensitive file trusted after startup","source":"syscall","time":"2026-04-06T19:32:21.794850717Z"}`

// waitReport returns the first JSON report in dir, waiting up to 10 s.
func waitReport(t *testing.T, dir string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
		if len(files) > 0 {
			data, err := os.ReadFile(files[0])
			if err == nil && json.Valid(data) {
				return data
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no report after 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReportOfAlertWithoutOutputFields posts, as Falco's http_output does,
// an alert without output_fields, and checks the report: the values are
// read back from the output text and marked so, and the raw alert is the
// body as received.
func TestReportOfAlertWithoutOutputFields(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("falco:\n  http:\n    listen: %s\nstate_dir: %s/state\nreports:\n  dir: %s/reports\njournal:\n  reports: false\nlog:\n  output: console\n", addr, dir, dir)), 0o600)
	cmd := daemon(t, cfg, addr)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(noFieldsAlert))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "falcosecurity/falco")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 0 {
		t.Fatalf("status %d, body length %d: want 200 and no body", resp.StatusCode, resp.ContentLength)
	}
	var r struct {
		Fields    map[string]*string `json:"fields"`
		Recovered []string           `json:"recovered"`
		Raw       string             `json:"raw"`
		Facts     []struct{ Label, Value string }
	}
	if err := json.Unmarshal(waitReport(t, filepath.Join(dir, "reports")), &r); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if v := r.Fields["container.id"]; v == nil || *v != "920b85e0cae2" {
		t.Errorf("container.id = %v, want 920b85e0cae2 from the output text", v)
	}
	if v := r.Fields["fd.name"]; v == nil || *v != "/etc/shadow" {
		t.Errorf("fd.name = %v", v)
	}
	if len(r.Recovered) < 20 || !strings.Contains(strings.Join(r.Recovered, ","), "container.id") {
		t.Errorf("recovered = %v: the values read back are not marked", r.Recovered)
	}
	if r.Raw != noFieldsAlert {
		t.Errorf("raw = %q, want the body as received", r.Raw)
	}
}

// TestCheckConfigAsksFalco: check-config connects to Falco's gRPC server
// as the daemon would; Falco absent is a warning, a refused certificate
// an error that says how to fix it.
func TestCheckConfigAsksFalco(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	absent := write("absent.yaml", fmt.Sprintf("falco:\n  grpc:\n    address: unix://%s/none.sock\n", dir))
	out, errOut, code := runBin(t, "", "check-config", "--config", absent)
	if code != 0 || !strings.Contains(errOut, "warning: falco.grpc: cannot reach Falco now") {
		t.Errorf("Falco absent: exit %d\n%s%s", code, out, errOut)
	}

	falco := falcotest.New()
	sock, err := falco.ListenUnix(filepath.Join(dir, "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer falco.Stop()
	up := write("up.yaml", fmt.Sprintf("falco:\n  grpc:\n    address: %s\n", sock))
	out, errOut, code = runBin(t, "", "check-config", "--config", up)
	if code != 0 || !strings.Contains(out, "Falco "+falcotest.Version+" answers") {
		t.Errorf("Falco up: exit %d\n%s%s", code, out, errOut)
	}

	needTool(t, "openssl")
	// Falco's documented certificates: a server certificate with only CN.
	sh := exec.Command("bash", "-euc", `
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=Root CA" -keyout ca.key -out ca.crt
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 01 -days 365 -out server.crt
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout client.key -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 02 -days 365 -out client.crt`)
	sh.Dir = dir
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	tlsFalco := falcotest.New()
	srv, err := serverTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := tlsFalco.ListenTLS("127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer tlsFalco.Stop()
	_, port, _ := strings.Cut(addr, ":")
	cn := write("cn.yaml", fmt.Sprintf("falco:\n  grpc:\n    address: localhost:%s\n    cert: %s/client.crt\n    key: %s/client.key\n    ca: %s/ca.crt\n", port, dir, dir, dir))
	out, errOut, code = runBin(t, "", "check-config", "--config", cn)
	if code != 1 || !strings.Contains(errOut, "legacy Common Name") || !strings.Contains(errOut, "subjectAltName=DNS:") {
		t.Errorf("CN-only certificate: exit %d\n%s%s", code, out, errOut)
	}
}

// serverTLS is Falco's TLS set-up from the files made in dir.
func serverTLS(dir string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}, nil
}

// needTool skips the test when a command it runs is not installed, or
// fails it when FALCO_REPORTER_REQUIRE_TOOLS is set (.ci/run installs them).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("FALCO_REPORTER_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed, and FALCO_REPORTER_REQUIRE_TOOLS is set", name)
		}
		t.Skipf("%s not installed (.ci/run installs it)", name)
	}
}
