package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

func TestShippedConfigLoads(t *testing.T) {
	c, err := Load("../../configs/falco-reporter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	if c.Reports.Dir != want.Reports.Dir || c.Reports.Retention != want.Reports.Retention {
		t.Errorf("shipped config differs from defaults: %+v", c.Reports)
	}
	if c.Incidents != want.Incidents || c.Queue != want.Queue || c.Spool != want.Spool {
		t.Errorf("shipped config differs from defaults: %+v %+v %+v", c.Incidents, c.Queue, c.Spool)
	}
	if c.Falco.GRPC == nil || c.Falco.GRPC.PollInterval != 100*time.Millisecond {
		t.Errorf("grpc block = %+v", c.Falco.GRPC)
	}
	if c.Falco.HTTP != nil || c.Falco.File != nil {
		t.Error("commented-out inputs are on")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "empty file is the defaults", yaml: "", check: func(t *testing.T, c *Config) {
			if c.Falco.GRPC == nil || c.Falco.GRPC.Address != "unix:///run/falco/falco.sock" {
				t.Errorf("grpc = %+v", c.Falco.GRPC)
			}
		}},
		{name: "a present block keeps defaults for omitted keys", yaml: "falco:\n  http:\n    listen: 127.0.0.1:9999\n", check: func(t *testing.T, c *Config) {
			if c.Falco.HTTP.Path != "/" || c.Falco.HTTP.MaxBody != 64<<20 || c.Falco.HTTP.Listen != "127.0.0.1:9999" || !slices.Equal(c.Falco.HTTP.AllowedUIDs, []uint32{0}) {
				t.Errorf("http = %+v", c.Falco.HTTP)
			}
			if c.Falco.GRPC != nil {
				t.Error("grpc on although only http was configured")
			}
		}},
		{name: "sizes and durations", yaml: "reports:\n  retention:\n    max_bytes: 512MiB\n    max_age: 24h\n", check: func(t *testing.T, c *Config) {
			if c.Reports.Retention.MaxBytes != 512<<20 || c.Reports.Retention.MaxAge != 24*time.Hour {
				t.Errorf("retention = %+v", c.Reports.Retention)
			}
		}},
		{name: "storm and spool", yaml: "incidents:\n  storm:\n    incidents: 10\n    window: 5m\nspool:\n  max_bytes: 64MiB\n", check: func(t *testing.T, c *Config) {
			if c.Incidents.Storm != (Storm{Incidents: 10, Window: 5 * time.Minute}) || c.Spool.MaxBytes != 64<<20 {
				t.Errorf("storm = %+v, spool = %+v", c.Incidents.Storm, c.Spool)
			}
		}},
		{name: "storm off", yaml: "incidents:\n  storm: {incidents: 0}\n", check: func(t *testing.T, c *Config) {
			if c.Incidents.Storm.Incidents != 0 || c.Incidents.Storm.Window != time.Minute {
				t.Errorf("storm = %+v", c.Incidents.Storm)
			}
		}},
		{name: "negative storm", yaml: "incidents:\n  storm: {incidents: -1}\n", wantErr: "incidents.storm"},
		{name: "tiny spool", yaml: "spool:\n  max_bytes: 1000\n", wantErr: "spool.max_bytes"},
		{name: "unknown key names key and line", yaml: "reports:\n  dir: /x\n  formtas: [json]\n", wantErr: `line 3: unknown key "formtas"`},
		{name: "unknown top-level key", yaml: "falco:\n  grpc: {}\nlogging: {}\n", wantErr: `line 3: unknown key "logging"`},
		{name: "tcp without tls files", yaml: "falco:\n  grpc:\n    address: 10.0.0.1:5060\n", wantErr: "mutual TLS"},
		{name: "relative unix path", yaml: "falco:\n  grpc:\n    address: unix://falco.sock\n", wantErr: "absolute path"},
		{name: "bad format", yaml: "reports:\n  formats: [pdf]\n", wantErr: `unknown format "pdf"`},
		{name: "html needs json", yaml: "reports:\n  formats: [markdown, html]\n", wantErr: "html needs json"},
		{name: "html", yaml: "reports:\n  formats: [markdown, json, html]\n", check: func(t *testing.T, c *Config) {
			if len(c.Reports.Formats) != 3 {
				t.Errorf("formats = %v", c.Reports.Formats)
			}
		}},
		{name: "bad size", yaml: "reports:\n  retention:\n    max_bytes: lots\n", wantErr: "invalid size"},
		{name: "bad duration", yaml: "falco:\n  grpc:\n    poll_interval: soon\n", wantErr: "line 3"},
		{name: "file block needs a path", yaml: "falco:\n  file: {}\n", wantErr: "falco.file.path is required"},
		{name: "bad log output", yaml: "log:\n  output: syslog\n", wantErr: "log.output"},
		{name: "not yaml", yaml: "falco: [\n", wantErr: "line"},
		{name: "allowed uids replace the default", yaml: "falco:\n  http:\n    allowed_uids: [1234, 0]\n", check: func(t *testing.T, c *Config) {
			if !slices.Equal(c.Falco.HTTP.AllowedUIDs, []uint32{1234, 0}) {
				t.Errorf("allowed_uids = %v", c.Falco.HTTP.AllowedUIDs)
			}
		}},
		{name: "negative uid", yaml: "falco:\n  http:\n    allowed_uids: [-1]\n", wantErr: "line 3"},
		{name: "unix listen", yaml: "falco:\n  http:\n    listen: unix:///run/falco-reporter/http.sock\n", check: func(t *testing.T, c *Config) {}},
		{name: "relative unix listen", yaml: "falco:\n  http:\n    listen: unix://http.sock\n", wantErr: "absolute"},
		{name: "ipv6 loopback listen", yaml: "falco:\n  http:\n    listen: \"[::1]:2801\"\n", check: func(t *testing.T, c *Config) {}},
		{name: "network listen without client certificates", yaml: "falco:\n  http:\n    listen: 0.0.0.0:2801\n", wantErr: "could forge alerts"},
		{name: "network listen with TLS but no client CA", yaml: "falco:\n  http:\n    listen: 192.0.2.10:2801\n    tls: {cert: a, key: b}\n", wantErr: "client_ca"},
		{name: "evidence keeps defaults for omitted keys", yaml: "evidence:\n  enabled: true\n", check: func(t *testing.T, c *Config) {
			if c.Evidence != (Evidence{Enabled: true, Socket: "/run/falco-reporter-evidence/evidence.sock", Timeout: time.Second, PerSecond: 5}) {
				t.Errorf("evidence = %+v", c.Evidence)
			}
		}},
		{name: "evidence relative socket", yaml: "evidence:\n  enabled: true\n  socket: evidence.sock\n", wantErr: "evidence.socket"},
		{name: "evidence timeout too long", yaml: "evidence:\n  enabled: true\n  timeout: 1m\n", wantErr: "evidence.timeout"},
		{name: "evidence per_second zero", yaml: "evidence:\n  enabled: true\n  per_second: 0\n", wantErr: "evidence.per_second"},
		{name: "evidence unknown key", yaml: "evidence:\n  enable: true\n", wantErr: `line 2: unknown key "enable"`},
		{name: "network listen with mutual TLS", yaml: "falco:\n  http:\n    listen: 0.0.0.0:2801\n    tls: {cert: a, key: b, client_ca: c}\n", check: func(t *testing.T, c *Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestOneAlertSizeLimit(t *testing.T) {
	if MaxAlertBytes != event.MaxAlertBytes || int64(DefaultHTTP().MaxBody) != event.MaxAlertBytes {
		t.Errorf("config's limit %d, http max_body %d, the inputs' %d", MaxAlertBytes, DefaultHTTP().MaxBody, event.MaxAlertBytes)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(t.TempDir() + "/nope.yaml")
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
