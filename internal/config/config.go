// Package config loads falco-reporter's YAML configuration: defaults
// first, then the file decoded strictly (an unknown key is an error that
// names the key and its line), then validation.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. configs/falco-reporter.yaml documents
// every key.
type Config struct {
	Falco     Falco     `yaml:"falco"`
	StateDir  string    `yaml:"state_dir"`
	Reports   Reports   `yaml:"reports"`
	Incidents Incidents `yaml:"incidents"`
	Queue     Queue     `yaml:"queue"`
	Spool     Spool     `yaml:"spool"`
	Journal   Journal   `yaml:"journal"`
	Log       Log       `yaml:"log"`
	Metrics   Metrics   `yaml:"metrics"`
	Evidence  Evidence  `yaml:"evidence"`
}

// Falco holds the inputs. An input is on when its block is present; with
// none present, gRPC runs at its default address.
type Falco struct {
	GRPC *GRPC `yaml:"grpc"`
	HTTP *HTTP `yaml:"http"`
	File *File `yaml:"file"`
}

// GRPC is the input from Falco's gRPC outputs API (Falco 0.43 and older).
type GRPC struct {
	Address      string        `yaml:"address"`
	Cert         string        `yaml:"cert"`
	Key          string        `yaml:"key"`
	CA           string        `yaml:"ca"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// HTTP is the input for Falco's http_output.
type HTTP struct {
	Listen  string   `yaml:"listen"`
	Path    string   `yaml:"path"`
	MaxBody ByteSize `yaml:"max_body"`
	TLS     *TLS     `yaml:"tls"`
	// AllowedUIDs may post on a loopback or unix listen address.
	AllowedUIDs []uint32 `yaml:"allowed_uids"`
}

// MaxAlertBytes is the largest alert every input accepts (64 MiB): the
// default of falco.http.max_body, the longest line of the file input, the
// largest gRPC message. It equals event.MaxAlertBytes.
const MaxAlertBytes = 64 << 20

// TLS is the HTTP input's server certificate and, optionally, the CA that
// client certificates must chain to.
type TLS struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
}

// File is the input that follows Falco's file_output.
type File struct {
	Path string `yaml:"path"`
}

// Reports is the reports directory.
type Reports struct {
	Dir          string    `yaml:"dir"`
	Formats      []string  `yaml:"formats"`
	PlaybooksDir string    `yaml:"playbooks_dir"`
	Retention    Retention `yaml:"retention"`
}

// Retention bounds the reports directory; 0 means no bound. MaxFiles
// counts reports (a report's .md and .json count once).
type Retention struct {
	MaxAge   time.Duration `yaml:"max_age"`
	MaxFiles int           `yaml:"max_files"`
	MaxBytes ByteSize      `yaml:"max_bytes"`
}

// Incidents controls how repeated alerts fold into one report.
type Incidents struct {
	Window         time.Duration `yaml:"window"`
	UpdateInterval time.Duration `yaml:"update_interval"`
	Storm          Storm         `yaml:"storm"`
}

// Storm folds a rule that opens too many incidents on one host into one
// storm report. Incidents 0 turns it off.
type Storm struct {
	Incidents int           `yaml:"incidents"` // incidents one rule may open on one host within Window
	Window    time.Duration `yaml:"window"`
}

// Queue bounds the alerts held in memory between the inputs and the
// writer; beyond it, alerts wait in the spool only.
type Queue struct {
	Size int `yaml:"size"`
}

// Spool is the write-ahead spool of received alerts: the buffer between
// the inputs and the writer.
type Spool struct {
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Journal controls the journal entry written for each report.
type Journal struct {
	Reports bool `yaml:"reports"`
	// ReportJSON adds the whole JSON report to each entry (REPORT_JSON),
	// for a central store fed by systemd-journal-upload (docs/fleet.md).
	ReportJSON bool `yaml:"report_json"`
}

// Log controls the daemon's own logs.
type Log struct {
	Level  string `yaml:"level"`
	Output string `yaml:"output"`
}

// Metrics is the optional Prometheus and health listener.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// Evidence is the snapshot taken at alert time by the evidence collector
// (falco-reporter-evidence.service), which the daemon asks on Socket.
type Evidence struct {
	Enabled bool   `yaml:"enabled"`
	Socket  string `yaml:"socket"`
	// Timeout bounds one request to the collector: its time budget
	// (200 ms by default) and some slack.
	Timeout time.Duration `yaml:"timeout"`
	// PerSecond bounds the snapshots asked for in one second; one per
	// incident, never one per alert.
	PerSecond int `yaml:"per_second"`
}

// Defaults returns the configuration used for every key the file omits.
func Defaults() Config {
	return Config{
		StateDir: "/var/lib/falco-reporter",
		Reports: Reports{
			Dir:       "/var/lib/falco-reporter/reports",
			Formats:   []string{"markdown", "json"},
			Retention: Retention{MaxAge: 720 * time.Hour, MaxFiles: 20000, MaxBytes: 1 << 30},
		},
		Incidents: Incidents{Window: 60 * time.Second, UpdateInterval: 5 * time.Second,
			Storm: Storm{Incidents: 50, Window: 60 * time.Second}},
		Queue:    Queue{Size: 4096},
		Spool:    Spool{MaxBytes: 1 << 30},
		Journal:  Journal{Reports: true, ReportJSON: true},
		Log:      Log{Level: "info", Output: "auto"},
		Evidence: Evidence{Socket: "/run/falco-reporter-evidence/evidence.sock", Timeout: time.Second, PerSecond: 5},
	}
}

// DefaultGRPC is the gRPC block's defaults.
func DefaultGRPC() *GRPC {
	return &GRPC{Address: "unix:///run/falco/falco.sock", PollInterval: 100 * time.Millisecond}
}

// DefaultHTTP is the HTTP block's defaults.
func DefaultHTTP() *HTTP {
	return &HTTP{Listen: "127.0.0.1:2801", Path: "/", MaxBody: MaxAlertBytes, AllowedUIDs: []uint32{0}}
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a configuration. An empty document is the
// defaults.
func Parse(data []byte) (*Config, error) {
	c := Defaults()
	// Blocks that are present get their defaults before decoding, so that
	// the strict decoder fills them in place.
	var probe struct {
		Falco map[string]yaml.Node `yaml:"falco"`
	}
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, friendly(err)
	}
	if _, ok := probe.Falco["grpc"]; ok {
		c.Falco.GRPC = DefaultGRPC()
	}
	if _, ok := probe.Falco["http"]; ok {
		c.Falco.HTTP = DefaultHTTP()
	}
	if _, ok := probe.Falco["file"]; ok {
		c.Falco.File = &File{}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, friendly(err)
	}
	if c.Falco.GRPC == nil && c.Falco.HTTP == nil && c.Falco.File == nil {
		c.Falco.GRPC = DefaultGRPC()
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var unknownKey = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// friendly rewrites yaml.v3's errors into "line N: unknown key "k"".
func friendly(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = unknownKey.ReplaceAllString(msg, `line $1: unknown key "$2"`)
	return errors.New(strings.ReplaceAll(msg, "\n  ", "; "))
}

// Validate checks values the decoder cannot.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if g := c.Falco.GRPC; g != nil {
		if g.PollInterval <= 0 {
			bad("falco.grpc.poll_interval must be positive")
		}
		if path, ok := strings.CutPrefix(g.Address, "unix://"); ok {
			if path == "" || !strings.HasPrefix(path, "/") {
				bad("falco.grpc.address %q: a unix address needs an absolute path, e.g. unix:///run/falco/falco.sock", g.Address)
			}
		} else if _, _, err := net.SplitHostPort(g.Address); err != nil {
			bad("falco.grpc.address %q: expected unix:///path or host:port", g.Address)
		} else if g.Cert == "" || g.Key == "" || g.CA == "" {
			bad("falco.grpc.address %q is TCP, which Falco serves only with mutual TLS: set falco.grpc.cert, key and ca", g.Address)
		}
	}
	if h := c.Falco.HTTP; h != nil {
		if l, err := ParseListen(h.Listen); err != nil {
			bad("falco.http.listen: %v", err)
		} else if l.Kind == ListenNetwork && (h.TLS == nil || h.TLS.ClientCA == "") {
			bad("falco.http.listen %q is not a loopback or unix address: anyone who reaches it could forge alerts; "+
				"require client certificates with falco.http.tls.cert, key and client_ca (Falco's http_output.mtls), or listen on 127.0.0.1", h.Listen)
		}
		if !strings.HasPrefix(h.Path, "/") {
			bad("falco.http.path %q must start with /", h.Path)
		}
		if h.MaxBody <= 0 {
			bad("falco.http.max_body must be positive")
		}
		if t := h.TLS; t != nil && (t.Cert == "" || t.Key == "") {
			bad("falco.http.tls needs both cert and key")
		}
	}
	if f := c.Falco.File; f != nil && f.Path == "" {
		bad("falco.file.path is required when falco.file is present")
	}
	if c.StateDir == "" {
		bad("state_dir must not be empty")
	}
	if c.Reports.Dir == "" {
		bad("reports.dir must not be empty")
	}
	if len(c.Reports.Formats) == 0 {
		bad("reports.formats must list at least one of markdown, json, html")
	}
	for _, f := range c.Reports.Formats {
		if f != "markdown" && f != "json" && f != "html" {
			bad("reports.formats: unknown format %q (markdown, json or html)", f)
		}
	}
	if slices.Contains(c.Reports.Formats, "html") && !slices.Contains(c.Reports.Formats, "json") {
		bad("reports.formats: html needs json too: index.html is built from the JSON reports")
	}
	r := c.Reports.Retention
	if r.MaxAge < 0 || r.MaxFiles < 0 || r.MaxBytes < 0 {
		bad("reports.retention values must not be negative")
	}
	if c.Incidents.Window <= 0 || c.Incidents.UpdateInterval <= 0 {
		bad("incidents.window and incidents.update_interval must be positive")
	}
	if st := c.Incidents.Storm; st.Incidents < 0 || st.Incidents > 0 && st.Window <= 0 {
		bad("incidents.storm.incidents must not be negative, and incidents.storm.window must be positive")
	}
	if c.Queue.Size <= 0 {
		bad("queue.size must be positive")
	}
	if c.Spool.MaxBytes < 1<<20 {
		bad("spool.max_bytes must be at least 1MiB")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: expected debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Output {
	case "auto", "journal", "console", "json":
	default:
		bad("log.output %q: expected auto, journal, console or json", c.Log.Output)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen %q: expected host:port", c.Metrics.Listen)
		}
	}
	if e := c.Evidence; e.Enabled {
		if !strings.HasPrefix(e.Socket, "/") {
			bad("evidence.socket %q must be an absolute path", e.Socket)
		}
		if e.Timeout <= 0 || e.Timeout > 10*time.Second {
			bad("evidence.timeout must be positive and at most 10s")
		}
		if e.PerSecond < 1 {
			bad("evidence.per_second must be at least 1")
		}
	}
	return errors.Join(errs...)
}

// ByteSize is a size in bytes, written as 1048576, 512KiB, 1MiB or 1GiB.
type ByteSize int64

// UnmarshalYAML parses a size with an optional binary unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a size such as 1GiB", n.Line)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = ByteSize(v)
	return nil
}

// ParseSize parses "1GiB", "512KiB", "10MB" or a plain number of bytes.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: expected e.g. 1048576, 512KiB, 1GiB", s)
	}
	return n * mult, nil
}
