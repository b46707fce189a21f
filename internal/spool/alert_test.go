package spool

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

func TestAlertRoundTrip(t *testing.T) {
	full := event.Alert{
		Time:     time.Date(2025, 3, 1, 12, 34, 56, 123456789, time.UTC),
		Priority: event.PriorityCritical,
		Rule:     "Terminal shell in container",
		Source:   event.SourceSyscall,
		Hostname: "node-1",
		Output:   "A shell was spawned \"quoted\" <b>html</b> \u2028 ünïcode 🐚",
		Tags:     []string{"container", "shell", "mitre_execution"},
		Fields: event.Fields{
			"proc.cmdline":      event.Str("bash -c 'id; echo \"$HOME\"'"),
			"evt.time":          {Text: "1740832496123456789", Kind: event.Number},
			"fd.num":            {Text: "-1.5e3", Kind: event.Number},
			"proc.is_exe_upper": {Text: "true", Kind: event.Bool},
			"container.name":    {Kind: event.Null},
			"k8s.pod.labels":    {Text: `{"app":"web","tier":["a","b"]}`, Kind: event.JSON},
			"proc.pname":        event.Str("<NA>"),
			"":                  event.Str(""),
			"container.id":      {Text: "920b85e0cae2", Kind: event.String, Recovered: true},
		},
		Raw: `{"rule":"Terminal shell in container","output":"A shell was spawned"}`,
	}
	tests := []struct {
		name string
		a    event.Alert
	}{
		{"full", full},
		{"zero", event.Alert{}},
		{"empty tags and fields", event.Alert{Tags: []string{}, Fields: event.Fields{}}},
		{"nanoseconds only", event.Alert{Time: time.Unix(0, 1).UTC()}},
		{"before 1970", event.Alert{Time: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		{"year beyond 9999", event.Alert{Time: time.Date(12000, 1, 1, 0, 0, 0, 5, time.UTC)}},
		{"priority out of range", event.Alert{Priority: 42, Rule: "x"}},
		{"long output", event.Alert{Output: strings.Repeat("x", 100000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeAlert(EncodeAlert(tt.a))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.a) {
				t.Fatalf("round trip changed the alert:\n got %#v\nwant %#v", got, tt.a)
			}
		})
	}
}

func TestAlertTimeZones(t *testing.T) {
	// Times come back in UTC, at the same instant, without the monotonic
	// clock reading.
	in := time.Date(2025, 3, 1, 14, 0, 0, 7, time.FixedZone("CET", 3600))
	for _, tm := range []time.Time{in, time.Now()} {
		got, err := DecodeAlert(EncodeAlert(event.Alert{Time: tm}))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Time.Equal(tm) || got.Time.Location() != time.UTC || got.Time != tm.Round(0).UTC() {
			t.Errorf("time %v came back as %v", tm, got.Time)
		}
	}
}

func TestDecodeAlertErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not JSON", "alert"},
		{"no version", `{"rule":"x"}`},
		{"future version", `{"v":2,"rule":"x"}`},
		{"bad nanoseconds", `{"v":1,"time_nsec":1000000000}`},
		{"negative nanoseconds", `{"v":1,"time_nsec":-1}`},
		{"wrong type", `{"v":1,"rule":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, err := DecodeAlert([]byte(tt.in)); err == nil {
				t.Fatalf("DecodeAlert(%q) = %+v, want an error", tt.in, a)
			}
		})
	}
}
