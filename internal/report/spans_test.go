package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestValueSpansRoundTrip(t *testing.T) {
	title := Text{{S: "Hard link "}, {S: "/tmp/x", Value: true}, {S: " to "}, {S: "/etc/shadow", Value: true}}
	changes := Text{{S: "Adds "}, {S: "\xffbad", Value: true}}
	r := Report{Title: title, Summary: Plain("no values"),
		Remediation: []Step{{Text: Plain("a")}, {Text: title, Changes: changes}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var plain map[string]any
	if err := json.Unmarshal(b, &plain); err != nil {
		t.Fatal(err)
	}
	if plain["title"] != "Hard link /tmp/x to /etc/shadow" {
		t.Errorf("title is not a plain string for JSON consumers: %v", plain["title"])
	}
	want := map[string]any{
		"/title":                 []any{[]any{10.0, 16.0}, []any{20.0, 31.0}},
		"/remediation/1/text":    []any{[]any{10.0, 16.0}, []any{20.0, 31.0}},
		"/remediation/1/changes": []any{[]any{5.0, 11.0}}, // \xff is U+FFFD, three bytes, in the JSON
	}
	if !reflect.DeepEqual(plain[ValueSpans], want) {
		t.Errorf("value_spans = %v, want %v", plain[ValueSpans], want)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Title, title) || back.Decoded() {
		t.Errorf("title = %#v", back.Title)
	}
	if back.Remediation[1].Changes[1].S != "\uFFFDbad" || !back.Remediation[1].Changes[1].Value {
		t.Errorf("changes = %#v", back.Remediation[1].Changes)
	}
	if back.Remediation[0].Changes != nil {
		t.Errorf("an absent changes came back as %#v", back.Remediation[0].Changes)
	}
}

// TestValueSpansThatDoNotFit: offsets a report's author did not make (a
// forged or damaged report) never split a text wrongly: the text is shown
// escaped as a whole.
func TestValueSpansThatDoNotFit(t *testing.T) {
	for _, spans := range []string{
		`[[0,99]]`, `[[3,2]]`, `[[-1,2]]`, `[[2,4],[1,3]]`, `[[1,2]]` /* inside é */, `[[0,1],[0,1]]`,
	} {
		js := `{"title":"é and more","summary":"s","value_spans":{"/title":` + spans + `,"/nowhere":[[0,1]]}}`
		var r Report
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Title) != 1 || !r.Title[0].Decoded || r.Title[0].S != "é and more" {
			t.Errorf("%s: title = %#v", spans, r.Title)
		}
		if len(r.Summary) != 1 || r.Summary[0].Decoded || r.Summary[0].Value {
			t.Errorf("%s: summary = %#v", spans, r.Summary)
		}
	}
	var r Report
	if err := json.Unmarshal([]byte(`{"title":"x","value_spans":{"/title":"nonsense"}}`), &r); err == nil || !strings.Contains(err.Error(), "value_spans") {
		t.Errorf("malformed value_spans: %v", err)
	}
}

func TestMerged(t *testing.T) {
	in := Text{{S: "a "}, {S: " b"}, {S: "v", Value: true}, {S: "c"}, {S: "d"}, {S: "e", Decoded: true}, {S: "f"}}
	want := Text{{S: "a  b"}, {S: "v", Value: true}, {S: "cd"}, {S: "e", Decoded: true}, {S: "f"}}
	if got := in.Merged(); !reflect.DeepEqual(got, want) {
		t.Errorf("Merged = %#v", got)
	}
	if in[0].S != "a " {
		t.Error("Merged changed its input")
	}
}
