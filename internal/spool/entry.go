package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// Entry is what the spool keeps of one accepted alert: the alert, and when
// and through which input the daemon accepted it. The receive time makes a
// replay decide exactly as the first run did; the input and run tell a line
// that the file input read again after a crash from a new one.
type Entry struct {
	Alert    event.Alert
	Received time.Time // when the daemon accepted the alert
	Input    string    // the input that delivered it: grpc, http, file, ...
	Run      int64     // the daemon run that accepted it (its start, Unix ns)
	// Evidence is what the daemon decided, on receipt, about a snapshot
	// of the alert's process (the app's codes; 0: nothing), so that a
	// replay knows whether an answer may come.
	Evidence byte
}

// entryVersion is the first byte of an entry payload. Version 1 payloads
// are the JSON of EncodeAlert and start with '{'; version 2 lacks the raw
// alert and the recovered marks of version 3, which lacks the evidence
// decision of version 4.
const entryVersion = 4

// recoveredBit marks, in a field's kind byte, a value read back from the
// output text (event.Value.Recovered).
const recoveredBit = 0x80

var errShortEntry = errors.New("decode spool entry: truncated")

// AppendEntry appends the binary encoding of e to buf. It returns the
// extended buffer and the offset at which the alert's own bytes start:
// those bytes are the same for the same alert whatever input, run or time
// it came with (fields are written in sorted order), so they can be hashed
// to recognise an alert delivered twice.
func AppendEntry(buf []byte, e *Entry) (out []byte, alertAt int) {
	buf = append(buf, entryVersion)
	buf = appendString(buf, e.Input)
	buf = binary.AppendVarint(buf, unixNano(e.Received))
	buf = binary.AppendVarint(buf, e.Run)
	buf = append(buf, e.Evidence)
	alertAt = len(buf)
	a := &e.Alert
	buf = binary.AppendVarint(buf, a.Time.Unix())
	buf = binary.AppendUvarint(buf, uint64(a.Time.Nanosecond()))
	buf = append(buf, byte(int8(a.Priority)))
	buf = appendString(buf, a.Rule)
	buf = appendString(buf, a.Source)
	buf = appendString(buf, a.Hostname)
	buf = appendString(buf, a.Output)
	if a.Tags == nil {
		buf = append(buf, 0)
	} else {
		buf = binary.AppendUvarint(buf, uint64(len(a.Tags))+1)
		for _, t := range a.Tags {
			buf = appendString(buf, t)
		}
	}
	if a.Fields == nil {
		return appendString(append(buf, 0), a.Raw), alertAt
	}
	keys := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = binary.AppendUvarint(buf, uint64(len(keys))+1)
	for _, k := range keys {
		v := a.Fields[k]
		buf = appendString(buf, k)
		kind := byte(v.Kind)
		if v.Recovered {
			kind |= recoveredBit
		}
		buf = append(buf, kind)
		buf = appendString(buf, v.Text)
	}
	return appendString(buf, a.Raw), alertAt
}

// noTime stands for a zero time.Time, which has no Unix nanoseconds.
const noTime = math.MinInt64

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// DecodeEntry returns the entry stored by AppendEntry, and the offset of the
// alert's own bytes. A version 1 payload (EncodeAlert's JSON) gives an entry
// with only the alert; its alert bytes are the whole payload.
func DecodeEntry(p []byte) (Entry, int, error) {
	if len(p) > 0 && p[0] == '{' {
		a, err := DecodeAlert(p)
		return Entry{Alert: a}, 0, err
	}
	d := decoder{b: p}
	version := d.byte()
	if version < 2 || version > entryVersion {
		if d.err != nil {
			return Entry{}, 0, d.err
		}
		return Entry{}, 0, fmt.Errorf("decode spool entry: unknown version %d", version)
	}
	var e Entry
	e.Input = d.string()
	if ns := d.varint(); ns != noTime {
		e.Received = time.Unix(0, ns).UTC()
	}
	e.Run = d.varint()
	if version >= 4 {
		e.Evidence = d.byte()
	}
	alertAt := d.i
	a := &e.Alert
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		return Entry{}, 0, fmt.Errorf("decode spool entry: nanoseconds %d out of range", nsec)
	}
	a.Time = time.Unix(sec, int64(nsec)).UTC()
	a.Priority = event.Priority(int8(d.byte()))
	a.Rule, a.Source, a.Hostname, a.Output = d.string(), d.string(), d.string(), d.string()
	if n := d.count(); n > 0 {
		a.Tags = make([]string, n-1)
		for i := range a.Tags {
			a.Tags[i] = d.string()
		}
	}
	if n := d.count(); n > 0 {
		a.Fields = make(event.Fields, n-1)
		for range n - 1 {
			k := d.string()
			kind := d.byte()
			a.Fields[k] = event.Value{Text: d.string(), Kind: event.Kind(kind &^ recoveredBit), Recovered: kind&recoveredBit != 0}
		}
	}
	if version >= 3 {
		a.Raw = d.string()
	}
	if d.err == nil && d.i != len(p) {
		d.err = fmt.Errorf("decode spool entry: %d bytes after the alert", len(p)-d.i)
	}
	if d.err != nil {
		return Entry{}, 0, d.err
	}
	return e, alertAt, nil
}

// decoder reads AppendEntry's encoding; the first error sticks.
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShortEntry
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || d.i >= len(d.b) {
		d.fail()
		return 0
	}
	d.i++
	return d.b[d.i-1]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.i += n
	return v
}

// count reads a list length; it cannot exceed the bytes left, so that a
// damaged length never allocates more than the payload's size.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)-d.i)+1 {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)-d.i) {
		d.fail()
		return ""
	}
	s := string(d.b[d.i : d.i+int(n)])
	d.i += int(n)
	return s
}
