package report

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValueSpans is the JSON key that carries, for every text of a report
// that holds alert values, where those values are: a JSON Pointer (RFC
// 6901) to the text, such as "/title" or "/investigation/0/text", mapped
// to [start, end) byte offsets into the text's UTF-8 string. A text with
// no values has no entry. The texts themselves stay plain strings, so
// JSON consumers that do not care see nothing new; renderers use the
// spans to show values as values when they draw a report read back from
// JSON, exactly as they drew it when it was written.
const ValueSpans = "value_spans"

// MarshalJSON encodes r with its value spans.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // the same fields, without these methods
	spans := map[string][][2]int{}
	r.eachText(func(ptr string, t *Text) {
		if v := t.valueOffsets(); len(v) > 0 {
			spans[ptr] = v
		}
	})
	return json.Marshal(struct {
		plain
		ValueSpans map[string][][2]int `json:"value_spans"`
	}{plain(r), spans})
}

// UnmarshalJSON decodes a report. Texts are split into prose and values
// by the report's value spans; a report without them (written by an older
// version, or by something else) has its texts marked Decoded, and so has
// a text whose spans do not fit it.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	var v struct {
		plain
		ValueSpans map[string][][2]int `json:"value_spans"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Report(v.plain)
	if v.ValueSpans == nil {
		return nil // texts stay Decoded
	}
	r.eachText(func(ptr string, t *Text) {
		if *t != nil { // nil: the key was absent (an empty changes)
			*t = withValues(t.String(), v.ValueSpans[ptr])
		}
	})
	return nil
}

// Decoded reports whether any text of r was read back from JSON without
// knowing where its values are (see Span.Decoded).
func (r *Report) Decoded() bool {
	decoded := false
	r.eachText(func(_ string, t *Text) {
		for _, s := range *t {
			decoded = decoded || s.Decoded
		}
	})
	return decoded
}

// eachText calls fn with the JSON Pointer and address of every text of r.
func (r *Report) eachText(fn func(ptr string, t *Text)) {
	fn("/title", &r.Title)
	fn("/summary", &r.Summary)
	fn("/why", &r.Why)
	for _, list := range []struct {
		name  string
		steps []Step
	}{{"investigation", r.Investigation}, {"false_positives", r.FalsePositives}, {"remediation", r.Remediation}} {
		for i := range list.steps {
			p := "/" + list.name + "/" + strconv.Itoa(i)
			fn(p+"/text", &list.steps[i].Text)
			fn(p+"/changes", &list.steps[i].Changes)
		}
	}
}

// jsonString is the text as encoding/json decodes it back: invalid UTF-8
// becomes U+FFFD byte by byte, within each span, so that a span's offsets
// do not depend on its neighbours.
func (s Span) jsonString() string {
	if utf8.ValidString(s.S) {
		return s.S
	}
	var b strings.Builder
	for i, r := range s.S {
		if _, size := utf8.DecodeRuneInString(s.S[i:]); r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// jsonString is t as its JSON string decodes.
func (t Text) jsonString() string {
	var b strings.Builder
	for _, s := range t {
		b.WriteString(s.jsonString())
	}
	return b.String()
}

// valueOffsets returns where t's values are in its JSON string.
func (t Text) valueOffsets() [][2]int {
	var out [][2]int
	pos := 0
	for _, s := range t {
		n := len(s.jsonString())
		if s.Value {
			out = append(out, [2]int{pos, pos + n})
		}
		pos += n
	}
	return out
}

// withValues splits s into prose and the values at offsets. Offsets that
// do not fit s (out of range, out of order, overlapping, or inside a
// UTF-8 sequence) make it one Decoded span: shown escaped, like a value.
func withValues(s string, offsets [][2]int) Text {
	var t Text
	pos := 0
	for _, o := range offsets {
		start, end := o[0], o[1]
		if start < pos || end < start || end > len(s) || !boundary(s, start) || !boundary(s, end) {
			return Text{{S: s, Decoded: true}}
		}
		if start > pos {
			t = append(t, Span{S: s[pos:start]})
		}
		t = append(t, Span{S: s[start:end], Value: true})
		pos = end
	}
	if pos < len(s) || len(t) == 0 {
		t = append(t, Span{S: s[pos:]})
	}
	return t
}

func boundary(s string, i int) bool { return i == len(s) || utf8.RuneStart(s[i]) }

// Merged returns t with adjacent prose spans joined. Renderers draw the
// merged text, so that how a text is drawn depends only on its string and
// where its values are: exactly what a JSON report keeps.
func (t Text) Merged() Text {
	merged := true
	for i := 1; i < len(t); i++ {
		if t[i].prose() && t[i-1].prose() {
			merged = false
			break
		}
	}
	if merged {
		return t
	}
	out := make(Text, 0, len(t))
	for _, s := range t {
		if n := len(out); n > 0 && s.prose() && out[n-1].prose() {
			out[n-1].S += s.S
			continue
		}
		out = append(out, s)
	}
	return out
}

func (s Span) prose() bool { return !s.Value && !s.Decoded }
