package spool

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

func TestEntryRoundTrip(t *testing.T) {
	full := event.Alert{
		Time:     time.Date(2025, 3, 1, 12, 34, 56, 123456789, time.UTC),
		Priority: event.PriorityCritical,
		Rule:     "Terminal shell in container",
		Source:   event.SourceSyscall,
		Hostname: "node-1",
		Output:   "A shell \x1b[31m \u2028 ünïcode 🐚",
		Tags:     []string{"container", "shell"},
		Fields: event.Fields{
			"proc.cmdline":   event.Str("bash -c 'id'"),
			"evt.time":       {Text: "1740832496123456789", Kind: event.Number},
			"container.name": {Kind: event.Null},
			"k8s.pod.labels": {Text: `{"app":"web"}`, Kind: event.JSON},
			"":               event.Str(""),
			"fd.name":        {Text: "/etc/shadow", Kind: event.String, Recovered: true},
		},
		Raw: `{"rule":"Terminal shell in container","output":"A shell"}`,
	}
	recv := time.Date(2026, 4, 2, 10, 0, 0, 1, time.UTC)
	tests := []struct {
		name string
		e    Entry
	}{
		{"full", Entry{Alert: full, Received: recv, Input: "http", Run: 1775124000000000000}},
		{"zero", Entry{}},
		{"empty tags and fields", Entry{Alert: event.Alert{Tags: []string{}, Fields: event.Fields{}}, Received: recv}},
		{"before 1970", Entry{Alert: event.Alert{Time: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)}}},
		{"year beyond 9999", Entry{Alert: event.Alert{Time: time.Date(12000, 1, 1, 0, 0, 0, 5, time.UTC)}}},
		{"negative priority", Entry{Alert: event.Alert{Priority: -3}}},
		{"raw without fields", Entry{Alert: event.Alert{Raw: "not JSON \x00 at all"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, at := AppendEntry(nil, &tt.e)
			got, gotAt, err := DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if at != gotAt {
				t.Errorf("alert offset %d, decoded %d", at, gotAt)
			}
			if !reflect.DeepEqual(got, tt.e) {
				t.Fatalf("round trip changed the entry:\n got %#v\nwant %#v", got, tt.e)
			}
		})
	}
}

// TestEntryAlertBytesAreCanonical: the same alert has the same alert bytes
// whatever the input, time and run, and whatever the map order.
func TestEntryAlertBytesAreCanonical(t *testing.T) {
	a := event.Alert{Rule: "r", Fields: event.Fields{}}
	for i := range 50 {
		a.Fields[string(rune('a'+i%26))+string(rune('a'+i/26))] = event.Str("v")
	}
	b1, at1 := AppendEntry(nil, &Entry{Alert: a, Input: "file", Run: 1, Received: time.Unix(5, 0)})
	for range 20 {
		b2, at2 := AppendEntry(nil, &Entry{Alert: a, Input: "http", Run: 99, Received: time.Unix(7, 0)})
		if !bytes.Equal(b1[at1:], b2[at2:]) {
			t.Fatal("the same alert encoded differently")
		}
	}
}

func TestDecodeEntryV1(t *testing.T) {
	a := event.Alert{Rule: "r", Time: time.Unix(10, 0).UTC(), Fields: event.Fields{"x": event.Str("y")}}
	e, at, err := DecodeEntry(EncodeAlert(a))
	if err != nil || at != 0 || !reflect.DeepEqual(e.Alert, a) || !e.Received.IsZero() {
		t.Fatalf("v1 payload: %+v, %d, %v", e, at, err)
	}
}

func TestDecodeEntryErrors(t *testing.T) {
	good, _ := AppendEntry(nil, &Entry{Alert: event.Alert{Rule: "rule", Tags: []string{"a"}, Fields: event.Fields{"k": event.Str("v")}}, Input: "grpc"})
	for n := range len(good) {
		if _, _, err := DecodeEntry(good[:n]); err == nil {
			t.Errorf("a payload cut to %d of %d bytes decoded", n, len(good))
		}
	}
	if _, _, err := DecodeEntry(append(good, 0)); err == nil {
		t.Error("a trailing byte was accepted")
	}
	if _, _, err := DecodeEntry([]byte{9}); err == nil {
		t.Error("an unknown version was accepted")
	}
	// A huge list length must not allocate.
	bad := []byte{entryVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, _, err := DecodeEntry(bad); err == nil {
		t.Error("a damaged list length was accepted")
	}
}

func BenchmarkEntry(b *testing.B) {
	a := event.Alert{Time: time.Now(), Rule: "Read sensitive file untrusted", Source: "syscall", Hostname: "h", Output: string(bytes.Repeat([]byte("o"), 400)), Tags: []string{"a", "b", "c"}, Fields: event.Fields{}}
	for i := range 16 {
		a.Fields["field.name"+string(rune('a'+i))] = event.Str("/some/value/of/moderate/length")
	}
	e := Entry{Alert: a, Received: time.Now(), Input: "grpc", Run: 1}
	var buf []byte
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			buf, _ = AppendEntry(buf[:0], &e)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := DecodeEntry(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	js := EncodeAlert(a)
	b.Run("decode-v1-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeAlert(js); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeEntryOlderVersions: entries spooled by earlier versions (v3:
// no evidence decision; v2: nor raw alert or recovered marks) still decode.
func TestDecodeEntryOlderVersions(t *testing.T) {
	e := Entry{Alert: event.Alert{Rule: "r", Fields: event.Fields{"fd.name": event.Str("/etc/x")}}, Input: "file"}
	b, at := AppendEntry(nil, &e)
	if b[len(b)-1] != 0 || b[at-1] != 0 {
		t.Fatal("an empty raw alert or no evidence decision is not one zero byte")
	}
	v3 := append(append([]byte{3}, b[1:at-1]...), b[at:]...)
	v2 := append([]byte{2}, v3[1:len(v3)-1]...)
	for _, old := range [][]byte{v3, v2} {
		got, _, err := DecodeEntry(old)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("version %d: %v\n got %#v\nwant %#v", old[0], err, got, e)
		}
	}
	e.Evidence = 3
	b, _ = AppendEntry(nil, &e)
	if got, _, err := DecodeEntry(b); err != nil || got.Evidence != 3 {
		t.Fatalf("version 4: %v, evidence %d", err, got.Evidence)
	}
}
