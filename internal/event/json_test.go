package event

import (
	"errors"
	"fmt"
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
		// Go's encoding/json would match "RULE" to rule and let the last
		// copy win: the benign rule at Debug.
		{name: "key differing by case", in: `{"rule":"Terminal shell in container","RULE":"Benign test rule","Priority":"Debug","time":"2026-04-02T10:00:01Z"}`, wantErr: `key "RULE": keys are case-sensitive`},
		{name: "capitalised key alone", in: `{"Rule":"r","priority":"Warning","time":"2026-04-02T10:00:01Z"}`, wantErr: `key "Rule"`},
		{name: "duplicate key", in: `{"rule":"Terminal shell in container","priority":"Warning","rule":"Benign test rule","time":"2026-04-02T10:00:01Z"}`, wantErr: `duplicate key "rule"`},
		{name: "duplicate field", in: `{"rule":"r","priority":"Warning","time":"2026-04-02T10:00:01Z","output_fields":{"fd.name":"/etc/shadow","proc.name":"cat","fd.name":"/tmp/x"}}`, wantErr: `duplicate key "fd.name" in "output_fields"`},
		{name: "duplicate deep", in: `{"rule":"r","priority":"Warning","time":"2026-04-02T10:00:01Z","output_fields":{"x":[{"a":1,"a":2}]}}`, wantErr: `duplicate key "a"`},
		{name: "wrong type", in: `{"rule":5,"priority":"Warning","time":"2026-04-02T10:00:01Z"}`, wantErr: `"rule": expected string, got a JSON number`},
		{name: "not an object", in: `["rule"]`, wantErr: "invalid JSON"},
		{name: "empty", in: ``, wantErr: "empty document"},
		{name: "cut short", in: `{"rule":"r","priority":`, wantErr: "invalid JSON"},
		{name: "sidekick syscalls", in: `{"output":"o","priority":"Warning","rule":"r","time":"2026-04-02T10:00:01.5Z","output_fields":{"fd.name":"/etc/shadow"},"source":"syscalls","tags":["T1555"],"hostname":"h","uuid":"9b2c"}` + "\n", check: func(t *testing.T, a Alert) {
			if a.Source != "syscall" {
				t.Errorf("source = %q, want syscall", a.Source)
			}
			if !strings.HasPrefix(a.Raw, `{"output":"o"`) || !strings.Contains(a.Raw, `"source":"syscalls"`) || !strings.Contains(a.Raw, `"uuid":"9b2c"`) {
				t.Errorf("raw = %q: must be the alert as received", a.Raw)
			}
		}},
		{name: "message without output", in: `{"message":"Sensitive file opened | file=/etc/shadow","priority":"Warning","rule":"r","time":"2026-04-02T10:00:01Z"}`, check: func(t *testing.T, a Alert) {
			if a.Message != "Sensitive file opened | file=/etc/shadow" || a.Output != a.Message {
				t.Errorf("message %q output %q", a.Message, a.Output)
			}
		}},
		{name: "message with output", in: `{"output":"10:00:01: Warning Sensitive","message":"Sensitive","priority":"Warning","rule":"r","time":"2026-04-02T10:00:01Z"}`, check: func(t *testing.T, a Alert) {
			if a.Message != "Sensitive" || a.Output != "10:00:01: Warning Sensitive" {
				t.Errorf("message %q output %q", a.Message, a.Output)
			}
		}},
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

func TestRawText(t *testing.T) {
	if got := RawText([]byte("{\"a\":\"\xff\"}")); got != "{\"a\":\"\uFFFD\"}" {
		t.Errorf("invalid UTF-8: %q", got)
	}
	big := make([]byte, MaxRaw+100)
	for i := range big {
		big[i] = 'x'
	}
	got := RawText(big)
	if !strings.HasSuffix(got, fmt.Sprintf("[cut: %d of %d bytes shown]", MaxRaw, len(big))) || len(got) > MaxRaw+64 {
		t.Errorf("cut raw ends %q (len %d)", got[len(got)-40:], len(got))
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
