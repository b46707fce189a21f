package event

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseJSON(t *testing.T) {
	full := `{"hostname":"web-1","output":"o","output_fields":{"evt.time":1775124001123456789,"fd.name":"/etc/shadow","proc.tty":0,"user.loginuid":-1,"proc.pname":null,"k8s.pod.name":"<NA>","container.name":"","nested":{"a":[1, 2]},"flag":true},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555"],"time":"2026-04-02T10:00:01.123456789Z"}`
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, a Alert)
	}{
		{name: "full alert", in: full, check: func(t *testing.T, a Alert) {
			if a.Fields["evt.time"].Text != "1775124001123456789" || a.Fields["evt.time"].Kind != Number {
				t.Errorf("evt.time = %+v: must be exact", a.Fields["evt.time"])
			}
			if a.Time != time.Date(2026, 4, 2, 10, 0, 1, 123456789, time.UTC) {
				t.Errorf("time = %v", a.Time)
			}
			if a.Priority != PriorityWarning {
				t.Errorf("priority = %v", a.Priority)
			}
			for _, f := range []string{"proc.pname", "k8s.pod.name", "container.name", "absent"} {
				if _, ok := a.Fields.Get(f); ok {
					t.Errorf("%s: a missing value reads as present", f)
				}
			}
			if a.Fields["nested"].Text != `{"a":[1,2]}` || a.Fields["nested"].Kind != JSON {
				t.Errorf("nested = %+v", a.Fields["nested"])
			}
			if v, _ := a.Fields.Get("user.loginuid"); v != "-1" {
				t.Errorf("loginuid = %q", v)
			}
		}},
		{name: "optional parts switched off", in: `{"priority":"NOTICE","rule":"r","time":"2026-04-02T10:00:01Z"}`, check: func(t *testing.T, a Alert) {
			if a.Source != "syscall" || a.Priority != PriorityNotice || a.Fields != nil {
				t.Errorf("%+v", a)
			}
		}},
		{name: "internal source guessed", in: `{"priority":"debug","rule":"Falco internal: syscall event drop","time":"2026-04-02T10:00:01Z"}`, check: func(t *testing.T, a Alert) {
			if a.Source != "internal" {
				t.Errorf("source = %q", a.Source)
			}
		}},
		{name: "invalid utf-8 replaced", in: "{\"priority\":\"info\",\"rule\":\"r\xff\",\"time\":\"2026-04-02T10:00:01Z\",\"output_fields\":{\"fd.name\":\"a\xfeb\"}}", check: func(t *testing.T, a Alert) {
			if a.Rule != "r\uFFFD" || a.Fields["fd.name"].Text != "a\uFFFDb" {
				t.Errorf("rule %q field %q", a.Rule, a.Fields["fd.name"].Text)
			}
		}},
		{name: "not json", in: `Warning Sensitive file opened`, wantErr: "invalid JSON"},
		{name: "missing rule", in: `{"priority":"Warning","time":"2026-04-02T10:00:01Z"}`, wantErr: `missing "rule"`},
		{name: "missing priority", in: `{"rule":"r","time":"2026-04-02T10:00:01Z"}`, wantErr: `missing "priority"`},
		{name: "missing time", in: `{"rule":"r","priority":"Warning"}`, wantErr: `missing "time"`},
		{name: "bad priority", in: `{"rule":"r","priority":"loud","time":"2026-04-02T10:00:01Z"}`, wantErr: "unknown priority"},
		{name: "bad time", in: `{"rule":"r","priority":"Warning","time":"yesterday"}`, wantErr: "RFC 3339"},
		{name: "two objects", in: `{"rule":"r","priority":"Warning","time":"2026-04-02T10:00:01Z"}{}`, wantErr: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseJSON([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotAlert) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, a)
		})
	}
}

func TestParsePriority(t *testing.T) {
	for want, names := range map[Priority][]string{
		PriorityEmergency: {"Emergency", "EMERGENCY", "emerg"}, PriorityAlert: {"Alert"}, PriorityCritical: {"critical", "CRIT"},
		PriorityError: {"Error", "err"}, PriorityWarning: {"WARNING", "warn"}, PriorityNotice: {"Notice"},
		PriorityInformational: {"Informational", "info", "INFO"}, PriorityDebug: {"debug"},
	} {
		for _, n := range names {
			if got, err := ParsePriority(n); err != nil || got != want {
				t.Errorf("ParsePriority(%q) = %v, %v", n, got, err)
			}
		}
	}
	if PriorityInformational.String() != "Informational" || int(PriorityDebug) != 7 {
		t.Error("priority names or numbers differ from Falco's")
	}
}
