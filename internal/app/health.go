package app

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// serveMetrics starts the /metrics and /healthz listener.
func serveMetrics(addr string, m *Metrics, healthy *atomic.Bool, h *health) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy: reports cannot be written", http.StatusServiceUnavailable)
			return
		}
		if input, d := h.unreachable(); d > UnreachableAfter {
			http.Error(w, fmt.Sprintf("unhealthy: Falco unreachable on input %s for %s", input, d.Round(time.Second)), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// UnreachableAfter is how long Falco may be unreachable before /healthz
// reports it.
const UnreachableAfter = time.Minute

// health tracks since when each input has been without Falco.
type health struct {
	mu   sync.Mutex
	down map[string]time.Time
}

func newHealth() *health { return &health{down: map[string]time.Time{}} }

func (h *health) set(input string, s stream.State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s == stream.StateConnected {
		delete(h.down, input)
	} else if _, ok := h.down[input]; !ok {
		h.down[input] = time.Now()
	}
}

// unreachable returns the input that has been without Falco longest.
func (h *health) unreachable() (string, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var worst string
	var d time.Duration
	for in, since := range h.down {
		if time.Since(since) > d {
			worst, d = in, time.Since(since)
		}
	}
	return worst, d
}
