package spool

import (
	"encoding/binary"
	"fmt"
	"time"
)

// evidenceKind is the first byte of an evidence record's payload. It is
// neither an alert entry's version (2, 3) nor the '{' of a version 1
// entry, so the two kinds of record never mix up.
const evidenceKind = 0x45 // 'E'

// Evidence is the answer of the evidence collector about the incident
// whose first alert is at spool position Target. It goes through the spool
// like an alert, so that a replay after a crash puts the same snapshot
// into the same report. Body is the snapshot's JSON; the spool does not
// look inside it.
type Evidence struct {
	Target   uint64
	Received time.Time // when the daemon had the answer
	Run      int64     // the daemon run that asked
	Body     []byte
}

// IsEvidence reports whether a payload is an evidence record.
func IsEvidence(p []byte) bool { return len(p) > 0 && p[0] == evidenceKind }

// AppendEvidence appends the encoding of e to buf.
func AppendEvidence(buf []byte, e *Evidence) []byte {
	buf = append(buf, evidenceKind)
	buf = binary.AppendUvarint(buf, e.Target)
	buf = binary.AppendVarint(buf, unixNano(e.Received))
	buf = binary.AppendVarint(buf, e.Run)
	return appendString(buf, string(e.Body))
}

// DecodeEvidence returns the record stored by AppendEvidence.
func DecodeEvidence(p []byte) (Evidence, error) {
	if !IsEvidence(p) {
		return Evidence{}, fmt.Errorf("decode evidence record: not one")
	}
	d := decoder{b: p, i: 1}
	var e Evidence
	e.Target = d.uvarint()
	if ns := d.varint(); ns != noTime {
		e.Received = time.Unix(0, ns).UTC()
	}
	e.Run = d.varint()
	e.Body = []byte(d.string())
	if d.err == nil && d.i != len(p) {
		d.err = fmt.Errorf("decode evidence record: %d bytes after it", len(p)-d.i)
	}
	if d.err != nil {
		return Evidence{}, d.err
	}
	return e, nil
}
