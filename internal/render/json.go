package render

import (
	"bytes"
	"encoding/json"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// MaxJSONValue caps each output field value in the JSON report. Falco
// alerts can carry megabyte-long command lines; the report keeps the first
// 64 KiB with a visible marker.
const MaxJSONValue = 64 << 10

// JSON renders r as one line of JSON (see docs/report-schema.json): for
// machines; `jq .` shows it indented.
func JSON(r *report.Report) ([]byte, error) {
	c := *r
	c.Output = safe.Cap(c.Output, MaxJSONValue)
	c.Rule, c.Hostname = safe.Cap(c.Rule, MaxJSONValue), safe.Cap(c.Hostname, MaxJSONValue)
	c.Tags = capAll(c.Tags, MaxJSONValue)
	c.Facts = make([]report.Fact, len(r.Facts))
	for i, f := range r.Facts {
		c.Facts[i] = report.Fact{Label: f.Label, Field: safe.Cap(f.Field, MaxJSONValue), Value: safe.Cap(f.Value, MaxJSONValue)}
	}
	if r.Fields != nil {
		c.Fields = make(map[string]*string, len(r.Fields))
		for k, v := range r.Fields {
			if v != nil {
				s := safe.Cap(*v, MaxJSONValue)
				v = &s
			}
			c.Fields[k] = v
		}
	}
	c.Evidence = capEvidence(r.Evidence)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)

	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return jsonInvisible(buf.Bytes()), nil
}

func capAll(list []string, max int) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = safe.Cap(s, max)
	}
	return out
}

// capEvidence returns a copy of ev with every string that came from the
// host capped. The collector bounds them already; a report read back
// from disk may not have been written by it.
func capEvidence(ev *report.Evidence) *report.Evidence {
	if ev == nil {
		return nil
	}
	c := *ev
	c.Reason, c.Notes = safe.Cap(c.Reason, MaxJSONValue), capAll(c.Notes, MaxJSONValue)
	if p := ev.Process; p != nil {
		cp := *p
		cp.Exe, cp.Cwd = safe.Cap(cp.Exe, MaxJSONValue), safe.Cap(cp.Cwd, MaxJSONValue)
		cp.Cmdline, cp.Cgroup = capAll(cp.Cmdline, MaxJSONValue), capAll(cp.Cgroup, MaxJSONValue)
		cp.FDs = make([]report.FD, len(p.FDs))
		for i, f := range p.FDs {
			cp.FDs[i] = report.FD{Num: f.Num, Target: safe.Cap(f.Target, MaxJSONValue)}
		}
		c.Process = &cp
	}
	c.Ancestry = make([]report.Ancestor, len(ev.Ancestry))
	for i, a := range ev.Ancestry {
		a.Exe, a.Cmdline, a.Note = safe.Cap(a.Exe, MaxJSONValue), capAll(a.Cmdline, MaxJSONValue), safe.Cap(a.Note, MaxJSONValue)
		c.Ancestry[i] = a
	}
	c.Files = make([]report.FileStat, len(ev.Files))
	for i, f := range ev.Files {
		f.Path, f.Target, f.Error = safe.Cap(f.Path, MaxJSONValue), safe.Cap(f.Target, MaxJSONValue), safe.Cap(f.Error, MaxJSONValue)
		f.SameAs = capAll(f.SameAs, MaxJSONValue)
		c.Files[i] = f
	}
	return &c
}
