package app

import (
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/sdnotify"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// buildSources makes the inputs the configuration asks for.
func buildSources(cfg *config.Config, log zerolog.Logger, m *Metrics, h *health, n *sdnotify.Notifier) ([]stream.Source, error) {
	var out []stream.Source
	onState := func(input string, s stream.State) {
		h.set(input, s)
		_ = n.Status("Falco " + input + " input " + s.String())
		m.StreamState.WithLabelValues(input).Set(float64(s))
		if s == stream.StateDisconnected {
			m.Reconnects.WithLabelValues(input).Inc()
		}
	}
	if g := cfg.Falco.GRPC; g != nil {
		s, err := stream.NewGRPC(stream.GRPCOptions{Address: g.Address, Cert: g.Cert, Key: g.Key, CA: g.CA,
			PollInterval: g.PollInterval, Logger: log.With().Str("input", "grpc").Logger(), OnState: onState, OnDrop: m.Drop})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if h := cfg.Falco.HTTP; h != nil {
		o := stream.HTTPOptions{Listen: h.Listen, Path: h.Path, MaxBody: int64(h.MaxBody), AllowedUIDs: h.AllowedUIDs,
			Logger: log.With().Str("input", "http").Logger(), OnDrop: m.Drop}
		if h.TLS != nil {
			o.TLSCert, o.TLSKey, o.ClientCA = h.TLS.Cert, h.TLS.Key, h.TLS.ClientCA
		}
		s, err := stream.NewHTTP(o)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if f := cfg.Falco.File; f != nil {
		s, err := stream.NewFile(stream.FileOptions{Path: f.Path, StateFile: filepath.Join(cfg.StateDir, "file-input.json"),
			Logger: log.With().Str("input", "file").Logger(), OnDrop: m.Drop})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
