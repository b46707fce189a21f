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
