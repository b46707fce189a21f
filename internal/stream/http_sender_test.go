package stream

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// sidekickPost sends one alert as falcosidekick's webhook output does:
// its headers, the body with a newline, and the response closed unread.
// It reports whether the connection was reused.
func sidekickPost(t *testing.T, c *http.Client, method, url string, body []byte) (int, bool) {
	t.Helper()
	reused := false
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Falcosidekick")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // unread, as falcosidekick does
	return resp.StatusCode, reused
}

// TestHTTPSidekickReusesConnection: falcosidekick closes every response
// unread, so any body makes Go's client drop the connection. An empty 200
// lets it keep one connection for every alert.
func TestHTTPSidekickReusesConnection(t *testing.T) {
	const posts = 200
	sink := &tapSink{}
	_, base := startHTTP(t, HTTPOptions{}, sink)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	body := append(bytes.TrimSpace(readTestdata(t, "sidekick_webhook.json")), '\n')
	conns := 0
	for i := range posts {
		method := http.MethodPost
		if i%2 == 1 {
			method = http.MethodPut // webhook.method: PUT
		}
		code, reused := sidekickPost(t, client, method, base+"/", body)
		if code != http.StatusOK {
			t.Fatalf("post %d (%s): status %d", i, method, code)
		}
		if !reused {
			conns++
		}
	}
	t.Logf("%d alerts posted as falcosidekick posts them over %d connection(s)", posts, conns)
	if conns != 1 {
		t.Errorf("%d connections for %d alerts, want 1", conns, posts)
	}
	if n := len(sink.got()); n != posts {
		t.Errorf("%d alerts delivered, want %d", n, posts)
	}
}

// TestHTTPSidekickShapes posts what falcosidekick forwards: a missing
// source filled in as "syscalls", and its /test alert.
func TestHTTPSidekickShapes(t *testing.T) {
	sink := &tapSink{}
	_, base := startHTTP(t, HTTPOptions{}, sink)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, body := range []string{
		`{"uuid":"1c9f","output":"10:00:02.5: Notice A shell was spawned in a container with an attached terminal | user=root","priority":"Notice","rule":"Terminal shell in container","time":"2026-04-02T10:00:02.5Z","output_fields":{"user.name":"root"},"source":"syscalls","tags":["container","shell"],"hostname":"web-1"}`,
		`{"uuid":"5e2a","output":"This is a test from falcosidekick","priority":"Debug","rule":"Test rule","time":"2026-04-02T10:00:03Z","output_fields":{"proc.name":"falcosidekick","user.name":"falcosidekick"},"source":"internal","tags":["example","test"],"hostname":"falcosidekick"}`,
	} {
		if code, _ := sidekickPost(t, client, http.MethodPost, base, []byte(body+"\n")); code != 200 {
			t.Fatalf("status %d for %s", code, body)
		}
	}
	got := sink.waitN(t, 2)
	if got[0].Source != event.SourceSyscall {
		t.Errorf("source %q, want syscall: the rule's playbook is keyed by Falco's source name", got[0].Source)
	}
	if got[1].Source != event.SourceInternal || got[1].Rule != "Test rule" {
		t.Errorf("test alert: %+v", got[1])
	}
}

// TestHTTPOneSizeLimit: the HTTP input takes alerts as large as the other
// inputs do (a 2 MiB command line used to be answered 413 and lost).
func TestHTTPOneSizeLimit(t *testing.T) {
	h, base := startHTTP(t, HTTPOptions{}, &tapSink{})
	if h.opts.MaxBody != event.MaxAlertBytes || DefaultMaxLine != event.MaxAlertBytes {
		t.Fatalf("limits: http %d, file %d, want %d", h.opts.MaxBody, DefaultMaxLine, event.MaxAlertBytes)
	}
	big := strings.Replace(tapLine(1), `"proc.name":"cat"`, `"proc.name":"cat","proc.cmdline":"`+strings.Repeat("A", 2<<20)+`"`, 1)
	if code, body := httpDo(t, http.DefaultClient, http.MethodPost, base, "application/json", "", []byte(big)); code != 200 {
		t.Fatalf("a 2 MiB alert: %d %q", code, body)
	}
}
