package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// base is the time of the first generated alert.
var base = time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)

// alert returns a realistic "Read sensitive file untrusted" alert, as Falco
// 0.4x sends it with the container plugin. file names the file read; i
// makes the command line and the time differ.
func alert(file string, i int) event.Alert {
	cmd := fmt.Sprintf("cat %s #%d", file, i%50)
	return event.Alert{
		Time:     base.Add(time.Duration(i) * time.Microsecond),
		Priority: event.PriorityWarning,
		Rule:     "Read sensitive file untrusted",
		Source:   "syscall",
		Hostname: "bench-host",
		Output: fmt.Sprintf("%s: Warning Sensitive file opened for reading by non-trusted program | file=%s gparent=bash ggparent=sshd gggparent=systemd evt_type=openat user=root user_uid=0 user_loginuid=1000 process=cat proc_exepath=/usr/bin/cat parent=bash command=%s terminal=34816 container_id=host container_name=host",
			base.Add(time.Duration(i)*time.Microsecond).Format("2006-01-02T15:04:05.000000000-0700"), file, cmd),
		Tags: []string{"T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"},
		Fields: event.Fields{
			"evt.time":                   {Text: fmt.Sprint(base.Add(time.Duration(i) * time.Microsecond).UnixNano()), Kind: event.Number},
			"evt.type":                   event.Str("openat"),
			"fd.name":                    event.Str(file),
			"proc.aname[2]":              event.Str("bash"),
			"proc.aname[3]":              event.Str("sshd"),
			"proc.aname[4]":              event.Str("systemd"),
			"user.name":                  event.Str("root"),
			"user.uid":                   {Text: "0", Kind: event.Number},
			"user.loginuid":              {Text: "1000", Kind: event.Number},
			"proc.name":                  event.Str("cat"),
			"proc.exepath":               event.Str("/usr/bin/cat"),
			"proc.pname":                 event.Str("bash"),
			"proc.cmdline":               event.Str(cmd),
			"proc.tty":                   {Text: "34816", Kind: event.Number},
			"container.id":               event.Str("host"),
			"container.name":             event.Str("host"),
			"container.image.repository": {Kind: event.Null},
		},
	}
}

// stormAlert is alert i of a storm of one rule: one file, so one incident.
func stormAlert(i int) event.Alert { return alert("/etc/shadow", i) }

// distinctAlert is alert i of a flood of distinct incidents: each reads
// another file.
func distinctAlert(i int) event.Alert { return alert(fmt.Sprintf("/etc/secret-%07d", i), i) }

// backlogAlert cycles over 1,000 files: a backlog of many repeats.
func backlogAlert(i int) event.Alert { return alert(fmt.Sprintf("/etc/secret-%04d", i%1000), i) }

// falcoJSON encodes a as Falco's json_output does.
func falcoJSON(a event.Alert) []byte {
	fields := make(map[string]json.RawMessage, len(a.Fields))
	for k, v := range a.Fields {
		switch v.Kind {
		case event.Null:
			fields[k] = json.RawMessage("null")
		case event.Number, event.Bool:
			fields[k] = json.RawMessage(v.Text)
		default:
			b, _ := json.Marshal(v.Text)
			fields[k] = b
		}
	}
	b, err := json.Marshal(struct {
		Hostname     string                     `json:"hostname"`
		Output       string                     `json:"output"`
		OutputFields map[string]json.RawMessage `json:"output_fields"`
		Priority     string                     `json:"priority"`
		Rule         string                     `json:"rule"`
		Source       string                     `json:"source"`
		Tags         []string                   `json:"tags"`
		Time         string                     `json:"time"`
	}{a.Hostname, a.Output, fields, a.Priority.String(), a.Rule, a.Source, a.Tags, a.Time.Format(time.RFC3339Nano)})
	if err != nil {
		panic(err)
	}
	return b
}
