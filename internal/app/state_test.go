package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/spool"
	"github.com/falco-reporter/falco-reporter/internal/store"
)

// newTestWriter returns a writer whose state can be driven with apply.
func newTestWriter(t *testing.T) *writer {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var table atomic.Pointer[rules.Table]
	table.Store(defaultTable())
	w := &writer{store: st, table: &table, formats: []string{"markdown", "json"}, log: zerolog.Nop(), metrics: NewMetrics(),
		window: time.Minute, update: time.Second, stormIncidents: 5, stormWindow: time.Minute, now: time.Now}
	w.newState()
	return w
}

// defaultTable is rules.Default, built once: loading every playbook is slow
// under the race detector.
var defaultTable = sync.OnceValue(rules.Default)

// rec makes the record of alert a at position seq, received at recv.
func rec(seq uint64, recv time.Time, input string, run int64, a event.Alert) *record {
	b, at := spool.AppendEntry(nil, &spool.Entry{Alert: a})
	return &record{seq: seq, sum: xxhash.Sum64(b[at:]), recv: recv.UnixNano(), input: input, run: run, a: a}
}

// sequence is a mix of repeats, distinct incidents that start a storm, a
// quiet spell that ends incidents, and file lines read twice after a
// restart.
func sequence() []*record {
	var out []*record
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	seq := uint64(1)
	add := func(recv time.Time, input string, run int64, a event.Alert) {
		out = append(out, rec(seq, recv, input, run, a))
		seq++
	}
	for i := range 300 {
		recv := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		a := alert("Read sensitive file untrusted", i)
		switch {
		case i%3 == 0:
			a.Fields["fd.name"] = event.Str("/etc/shadow") // one incident, folding
			a.Fields["proc.cmdline"] = event.Str(fmt.Sprintf("cat /etc/shadow #%d", i%17))
		case i%3 == 1 && i > 150:
			recv = recv.Add(2 * time.Minute) // after a quiet spell
		}
		if i%5 == 0 {
			a.Rule = "Terminal shell in container"
			a.Fields["container.id"] = event.Str("3ad7b26ded6d")
		}
		run := int64(1)
		if i >= 200 {
			run = 2
		}
		add(recv, "file", run, a)
		if i == 199 {
			// The next run reads the last 20 lines again.
			for _, r := range out[len(out)-20:] {
				add(recv, "file", 2, r.a)
			}
		}
	}
	return out
}

// state is the logical state of w as the checkpoint holds it.
func state(t *testing.T, w *writer) []byte {
	t.Helper()
	b, err := json.Marshal(w.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckpointReplayIsExact: applying every record gives the same state
// as applying some, checkpointing, loading the checkpoint into a new
// writer and applying the rest: what a crash and a replay do.
func TestCheckpointReplayIsExact(t *testing.T) {
	recs := sequence()
	whole := newTestWriter(t)
	for _, r := range recs {
		c := *r
		whole.apply(&c)
	}
	if got := testutil.ToFloat64(whole.metrics.Storms); got < 1 {
		t.Fatalf("%v storms: the sequence does not test storms", got)
	}
	checkReplay(t, recs, []int{1, 37, 150, 205, 219, len(recs) - 1}, whole, func() *writer { return newTestWriter(t) })
	// The 20 lines read twice are recognised.
	if dup := testutilCount(whole.metrics, "duplicate"); dup != 20 {
		t.Errorf("%v duplicates recognised, want 20", dup)
	}
}

// checkReplay applies recs up to each cut to a new writer, checkpoints,
// restores the checkpoint into another and applies the rest: the state
// must be want, that of applying every record, and the last version of
// each report queued for writing the same as whole's.
func checkReplay(t *testing.T, recs []*record, cuts []int, whole *writer, newWriter func() *writer) {
	t.Helper()
	want := state(t, whole)
	wantWrites := lastWrites(whole)
	for _, cut := range cuts {
		first := newWriter()
		for _, r := range recs[:cut] {
			c := *r
			first.apply(&c)
		}
		var ck ckState
		if err := json.Unmarshal(state(t, first), &ck); err != nil {
			t.Fatal(err)
		}
		second := newWriter()
		if err := second.restore(&ck); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[cut:] {
			c := *r
			second.apply(&c)
		}
		if got := state(t, second); !bytes.Equal(got, want) {
			t.Errorf("cut at %d: the state differs from applying every record\n got %.600s\nwant %.600s", cut, got, want)
		}
		if got := lastWrites(first, second); !maps.Equal(got, wantWrites) {
			t.Errorf("cut at %d: the reports differ from applying every record\n got %v\nwant %v", cut, got, wantWrites)
		}
	}
}

// lastWrites is what the writers, in turn, last queued for writing of each
// closed report (open ones are in the state): its occurrences and evidence
// status.
func lastWrites(ws ...*writer) map[string]string {
	out := map[string]string{}
	for _, w := range ws {
		for _, inc := range w.pending {
			if !inc.closed {
				continue
			}
			ev := "-"
			if inc.evidence != nil {
				ev = inc.evidence.Status
			}
			out[inc.id] = fmt.Sprintf("%d %s", inc.occ, ev)
		}
	}
	return out
}

func testutilCount(m *Metrics, reason string) float64 {
	return testutil.ToFloat64(m.Dropped.WithLabelValues(reason))
}

// TestHostileAlertsStayBounded: alerts that carry megabytes, or a new
// field name each time, cannot make an incident or the open incidents
// grow without bound.
func TestHostileAlertsStayBounded(t *testing.T) {
	w := newTestWriter(t)
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	big := strings.Repeat("A", 1<<20)
	for i := range 60 {
		a := alert("Read sensitive file untrusted", 0)
		a.Fields["proc.cmdline"] = event.Str(big + fmt.Sprint(i))
		a.Fields[fmt.Sprintf("x.field%d", i)] = event.Str(big)
		w.apply(rec(uint64(i+1), t0, "http", 1, a))
	}
	if len(w.open) != 1 {
		t.Fatalf("%d incidents, want 1", len(w.open))
	}
	for _, inc := range w.open {
		if n := len(inc.samples.Fields); n > maxSampledFields {
			t.Errorf("%d sampled fields", n)
		}
		if inc.bytes > 2*maxKeptAlert {
			t.Errorf("one incident holds %d bytes", inc.bytes)
		}
		r := inc.report(w.table.Load(), w)
		if r.SampleFieldsNotShown != 60-maxSampledFields {
			t.Errorf("SampleFieldsNotShown = %d", r.SampleFieldsNotShown)
		}
		for k, v := range r.Samples {
			for _, s := range v {
				if len(s) > maxSampleBytes+64 {
					t.Errorf("sample of %s has %d bytes", k, len(s))
				}
			}
		}
	}
	// Distinct incidents of a quarter megabyte each: the oldest are closed
	// to stay within the memory bound.
	w = newTestWriter(t)
	w.stormIncidents = 0
	quarter := strings.Repeat("B", 60<<10)
	for i := range 200 {
		a := alert("Read sensitive file untrusted", i)
		for j := range 4 {
			a.Fields[fmt.Sprintf("proc.aname[%d]", j)] = event.Str(quarter) // 240 KiB kept
		}
		w.apply(rec(uint64(i+1), t0, "http", 1, a))
	}
	if w.openBytes > maxOpenBytes+2*maxKeptAlert {
		t.Errorf("open incidents hold %d bytes, bound %d", w.openBytes, maxOpenBytes)
	}
	if len(w.open) == 200 {
		t.Error("no incident was closed")
	}
}

func TestRedeliveredLines(t *testing.T) {
	w := newTestWriter(t)
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	a := func(i int) event.Alert { return alert("Read sensitive file untrusted", i) }
	seq := uint64(0)
	apply := func(input string, run int64, i int) bool {
		seq++
		before := testutilCount(w.metrics, "duplicate")
		w.apply(rec(seq, t0, input, run, a(i)))
		return testutilCount(w.metrics, "duplicate") > before
	}
	for i := range 10 {
		apply("file", 1, i)
	}
	if apply("file", 1, 9) {
		t.Error("an identical line within one run was dropped")
	}
	// Run 2 reads lines 7 to 9 again, then new ones.
	for i := 7; i < 10; i++ {
		if !apply("file", 2, i) {
			t.Errorf("line %d read again after the restart was counted", i)
		}
	}
	if apply("file", 2, 10) {
		t.Error("a new line was dropped")
	}
	// Run 3 was killed while it read lines 8 and 9 again; run 4 reads 6 to
	// 11 again: all of them were counted already.
	apply("file", 3, 8)
	apply("file", 3, 9)
	for i := 6; i < 12; i++ {
		if i != 11 && !apply("file", 4, i) {
			t.Errorf("line %d read a third time was counted", i)
		}
	}
	// Other inputs never drop.
	if apply("http", 3, 10) || apply("http", 4, 10) {
		t.Error("an HTTP alert was dropped")
	}
}

// TestCheckpointFile: a checkpoint written to its file loads back to the
// same state; a damaged or cut file is refused.
func TestCheckpointFile(t *testing.T) {
	w := newTestWriter(t)
	for _, r := range sequence()[:120] {
		w.apply(r)
	}
	dir := t.TempDir()
	c, err := newCheckpointer(dir, w.store.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.write(w); err != nil {
		t.Fatal(err)
	}
	ck, err := loadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	back := newTestWriter(t)
	if err := back.restore(ck); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state(t, back), state(t, w)) {
		t.Error("the checkpoint file does not give back the state")
	}
	path := filepath.Join(dir, checkpointFile)
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"cut":     data[:len(data)/2],
		"flipped": append(append([]byte{}, data[:100]...), append([]byte{data[100] ^ 1}, data[101:]...)...),
		"empty":   {},
	} {
		if err := os.WriteFile(path, bad, 0o640); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCheckpoint(dir); err == nil || errors.Is(err, errNoCheckpoint) {
			t.Errorf("%s checkpoint: err = %v", name, err)
		}
	}
}
