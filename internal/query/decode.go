package query

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// record is one decoded report: its entry and the values filters look at.
type record struct {
	entry         report.Entry
	prio          event.Priority
	prioOK        bool
	containerName string
	containerFull string
	exe           [2]string // proc.exepath, proc.exe
	grepHit       bool      // the grep text was found (see decode)
	modTime       time.Time // of the JSON file
}

// errNotReport is wrapped by the error for a JSON file that is not a
// report of ours.
var errNotReport = errors.New("not a falco-reporter report")

// decode reads the parts of a JSON report (docs/report-schema.json) that a
// listing needs. A full JSON parse of a 10 KiB report with fastjson costs
// a few microseconds, which is what lets `list` read 20,000 reports in
// well under a second; encoding/json takes five times as long. grep, when
// not empty, is searched case-insensitively (it must be lower case) in the
// facts, the title and the alert's fields.
func decode(p *fastjson.Parser, data []byte, grep []byte) (record, error) {
	v, err := p.ParseBytes(data)
	if err != nil {
		return record{}, fmt.Errorf("malformed JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return record{}, fmt.Errorf("%w: not a JSON object", errNotReport)
	}
	fields := v.GetObject("fields")
	field := func(k string) string {
		if fields == nil {
			return ""
		}
		return string(fields.Get(k).GetStringBytes())
	}
	return decodeValue(v, "", field, grep)
}

// decodeUnpacked reads a line of VictoriaLogs' answer in which unpack_json
// put the keys of a JSON report that a listing reads, each under prefix
// (nested keys joined with dots: prefix + "fields.container.id").
func decodeUnpacked(v *fastjson.Value, prefix string) (record, error) {
	field := func(k string) string { return string(v.GetStringBytes(prefix + "fields." + k)) }
	return decodeValue(v, prefix, field, nil)
}

// decodeValue reads a report's keys, each under prefix in v, and its
// alert fields through field. grep needs the whole report in v.
func decodeValue(v *fastjson.Value, prefix string, field func(string) string, grep []byte) (record, error) {
	str := func(k string) string { return string(v.GetStringBytes(prefix + k)) }
	var r record
	e := &r.entry
	e.ID, e.Rule, e.Source = str("id"), str("rule"), str("source")
	e.Priority, e.Hostname, e.Title = str("priority"), str("hostname"), str("title")
	for _, k := range []string{"id", "rule", "priority", "first_seen"} {
		if x := v.Get(prefix + k); x == nil || x.Type() != fastjson.TypeString {
			return record{}, fmt.Errorf("%w: no string %q", errNotReport, k)
		}
	}
	if e.ID == "" {
		return record{}, fmt.Errorf("%w: empty id", errNotReport)
	}
	var err error
	if e.FirstSeen.Time, err = time.Parse(time.RFC3339Nano, str("first_seen")); err != nil {
		return record{}, fmt.Errorf("%w: first_seen: %v", errNotReport, err)
	}
	e.LastSeen = e.FirstSeen
	if t, err := time.Parse(time.RFC3339Nano, str("last_seen")); err == nil && t.After(e.FirstSeen.Time) {
		e.LastSeen.Time = t
	}
	e.Occurrences = v.GetInt(prefix + "occurrences")
	if s := v.GetStringBytes(prefix + "occurrences"); s != nil { // unpacked: a string
		e.Occurrences, _ = strconv.Atoi(string(s))
	}
	e.Occurrences = max(e.Occurrences, 1)
	if p, err := event.ParsePriority(e.Priority); err == nil {
		r.prio, r.prioOK = p, true
	}

	e.ContainerID = field("container.id")
	r.containerName, r.containerFull = field("container.name"), field("container.full_id")
	r.exe = [2]string{field("proc.exepath"), field("proc.exe")}
	e.Subject = subject(e.Source, field)

	if len(grep) > 0 {
		r.grepHit = containsFold([]byte(e.Title), grep)
		for _, f := range v.GetArray("facts") {
			if r.grepHit {
				break
			}
			r.grepHit = containsFold(f.GetStringBytes("label"), grep) || containsFold(f.GetStringBytes("field"), grep) ||
				containsFold(f.GetStringBytes("value"), grep)
		}
		if fields := v.GetObject("fields"); !r.grepHit && fields != nil {
			fields.Visit(func(_ []byte, fv *fastjson.Value) {
				if !r.grepHit && fv.Type() == fastjson.TypeString {
					r.grepHit = containsFold(fv.GetStringBytes(), grep)
				}
			})
		}
	}
	return r, nil
}

// containsFold reports whether s contains sub (lower case) regardless of
// case. ASCII is folded byte by byte; other text falls back to Unicode
// folding.
func containsFold(s, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if ascii(s) {
		for i := 0; i+len(sub) <= len(s); i++ {
			if lower(s[i]) != sub[0] {
				continue
			}
			j := 1
			for j < len(sub) && lower(s[i+j]) == sub[j] {
				j++
			}
			if j == len(sub) {
				return true
			}
		}
		return false
	}
	return bytes.Contains(bytes.ToLower(s), sub)
}

func ascii(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
