package spool

import (
	"bytes"
	"testing"
	"time"
)

func TestEvidenceRecord(t *testing.T) {
	in := Evidence{Target: 1 << 40, Received: time.Unix(1_700_000_000, 123).UTC(), Run: -5, Body: []byte(`{"status":"taken"}`)}
	p := AppendEvidence(nil, &in)
	if !IsEvidence(p) {
		t.Fatal("IsEvidence false for an evidence record")
	}
	out, err := DecodeEvidence(p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Target != in.Target || !out.Received.Equal(in.Received) || out.Run != in.Run || !bytes.Equal(out.Body, in.Body) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
	// An alert entry is never taken for evidence, nor the reverse.
	alert, _ := AppendEntry(nil, &Entry{Input: "http"})
	if IsEvidence(alert) || IsEvidence([]byte(`{"rule":"x"}`)) {
		t.Error("an alert entry is taken for an evidence record")
	}
	if _, _, err := DecodeEntry(p); err == nil {
		t.Error("an evidence record decodes as an alert")
	}
	for n := range len(p) {
		if _, err := DecodeEvidence(p[:n]); err == nil {
			t.Errorf("cut to %d bytes: no error", n)
		}
	}
	if _, err := DecodeEvidence(append(p, 0)); err == nil {
		t.Error("a trailing byte: no error")
	}
}
