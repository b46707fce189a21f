package app

import (
	"bufio"
	"bytes"
	"cmp"
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// The checkpoint is the writer's state as of a spool position: every
// record up to it is applied, and every report that state implies is
// durable. A restart loads it and replays the spool from the next
// position, which rebuilds exactly the state before the crash. Only then
// is the spool trimmed up to it.
const (
	checkpointFile    = "checkpoint.json"
	checkpointTemp    = "checkpoint.json.tmp"
	checkpointVersion = 1
	checkpointMin     = 250 * time.Millisecond // between two checkpoints at least
	checkpointMax     = 10 * time.Second       // and at most, however large
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpointer writes checkpoints: one after a flush at most every
// checkpointMin, less often when the state is large (every is fifty
// times the time the last one took).
type checkpointer struct {
	dir     string // the state directory
	sameFS  bool   // the state directory is on the reports' filesystem
	applied uint64 // the spool position of the last checkpoint
	last    time.Time
	every   time.Duration
	lastErr time.Time
	off     bool // tests: never checkpoint
}

func newCheckpointer(stateDir, reportsDir string) (*checkpointer, error) {
	var a, b unix.Stat_t
	if err := unix.Stat(stateDir, &a); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := unix.Stat(reportsDir, &b); err != nil {
		return nil, fmt.Errorf("reports directory: %w", err)
	}
	return &checkpointer{dir: stateDir, sameFS: a.Dev == b.Dev, every: checkpointMin}, nil
}

// maybe writes a checkpoint if records were applied since the last one and
// it is due (or force), then trims the spool. Nothing may be pending.
func (c *checkpointer) maybe(w *writer, force bool) {
	upTo := w.next - 1
	if c.off || w.next == 0 || upTo <= c.applied || !force && time.Since(c.last) < c.every {
		return
	}
	start := time.Now()
	if err := c.write(w); err != nil {
		if time.Since(c.lastErr) >= time.Minute {
			c.lastErr = time.Now()
			w.log.Error().Err(err).Msg("cannot write the checkpoint; the spool is not trimmed until it can")
		}
		c.last = time.Now()
		return
	}
	took := time.Since(start)
	c.applied, c.last = upTo, time.Now()
	c.every = min(max(50*took, checkpointMin), checkpointMax)
	if err := w.spool.Trim(upTo); err != nil {
		w.log.Warn().Err(err).Msg("spool trim failed; retrying at the next checkpoint")
	}
	w.metrics.SpoolBytes.Set(float64(w.spool.Bytes()))
}

// write makes the checkpoint of w durable: the file is written, the
// reports' and the state's filesystems synced, and only then the file
// renamed into place, so that it never claims a report that a crash lost.
// The JSON is streamed to the file; a trailer line holds its length and
// checksum.
func (c *checkpointer) write(w *writer) error {
	tmp := filepath.Join(c.dir, checkpointTemp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	sum := crc32.New(castagnoli)
	n := &countWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(f, sum, n), 64<<10)
	err = json.NewEncoder(bw).Encode(w.snapshot())
	if err == nil {
		err = bw.Flush() // the checksum and count see the body only once it is flushed
	}
	if err == nil {
		_, err = fmt.Fprintf(f, "%s %d %d %08x\n", checkpointTrailer, checkpointVersion, n.n, sum.Sum32())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := w.store.Sync(); err != nil {
		return err
	}
	if !c.sameFS {
		if err := syncfs(c.dir); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, checkpointFile)); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return syncDir(c.dir)
}

// checkpointTrailer starts the last line of a checkpoint file.
const checkpointTrailer = "#falco-reporter-checkpoint"

// countWriter counts the bytes written through it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return &fs.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// ckState is the checkpoint's JSON.
type ckState struct {
	Version  int                   `json:"version"`
	Next     uint64                `json:"next"`  // the spool position of the next record to apply
	Clock    int64                 `json:"clock"` // the latest receive time applied
	Open     []*ckIncident         `json:"open"`  // least recently folded first
	Trackers []*ckTracker          `json:"trackers"`
	Tails    map[string]*inputTail `json:"tails,omitempty"`
	// Awaiting are the closed incidents still awaiting an evidence
	// record (open ones say so themselves), oldest first.
	Awaiting []*ckIncident `json:"awaiting,omitempty"`
}

type ckIncident struct {
	Key       string           `json:"key"`
	ID        string           `json:"id"`
	Seq       uint64           `json:"seq"`
	Last      uint64           `json:"last"`
	Day       time.Time        `json:"day"`
	Name      string           `json:"name"`
	First     []byte           `json:"first"` // spool.AppendEntry of the alert alone
	Occ       int              `json:"occ"`
	FirstSeen time.Time        `json:"first_seen"`
	LastSeen  time.Time        `json:"last_seen"`
	LastRecv  int64            `json:"last_recv"`
	Samples   *samples         `json:"samples,omitempty"`
	Storm     *stormState      `json:"storm,omitempty"`
	Dirty     bool             `json:"dirty,omitempty"`
	Written   bool             `json:"written,omitempty"`
	Reported  int              `json:"reported,omitempty"`
	Evidence  *report.Evidence `json:"evidence,omitempty"`
	Awaiting  bool             `json:"awaiting,omitempty"` // awaiting an evidence record
	Run       int64            `json:"run,omitempty"`      // the run that received the first alert, for evidence
	Closed    bool             `json:"closed,omitempty"`
}

type ckTracker struct {
	Key    string               `json:"key"`
	Opens  []int64              `json:"opens,omitempty"`
	Refs   []report.IncidentRef `json:"refs,omitempty"`
	Last   int64                `json:"last"`
	Fields []string             `json:"fields"`
	Storm  *ckIncident          `json:"storm,omitempty"`
}

// firstBytes encodes an incident's first alert for the checkpoint.
func firstBytes(a event.Alert) []byte {
	b, _ := spool.AppendEntry(nil, &spool.Entry{Alert: a})
	return b
}

func toCk(inc *incident) *ckIncident {
	c := &ckIncident{Key: inc.key, ID: inc.id, Seq: inc.seq, Last: inc.last, Day: inc.day, Name: inc.name,
		First: firstBytes(inc.first), Occ: inc.occ, FirstSeen: inc.firstSeen, LastSeen: inc.lastSeen,
		LastRecv: inc.lastRecv, Storm: inc.storm, Dirty: inc.dirty, Written: inc.written, Reported: inc.reported,
		Evidence: inc.evidence, Run: inc.run, Closed: inc.closed}
	if len(inc.samples.Fields) > 0 || inc.samples.Unsampled.len() > 0 {
		c.Samples = &inc.samples
	}
	return c
}

func fromCk(c *ckIncident) (*incident, error) {
	e, _, err := spool.DecodeEntry(c.First)
	if err != nil {
		return nil, err
	}
	a := e.Alert
	inc := &incident{key: c.Key, id: c.ID, seq: c.Seq, last: c.Last, day: c.Day, name: c.Name, first: a, occ: c.Occ,
		firstSeen: c.FirstSeen, lastSeen: c.LastSeen, lastRecv: c.LastRecv, storm: c.Storm,
		dirty: c.Dirty, written: c.Written, reported: c.Reported, evidence: c.Evidence, run: c.Run, closed: c.Closed}
	inc.evBytes = evidenceSize(inc.evidence)
	if c.Samples != nil {
		inc.samples = *c.Samples
	}
	for _, f := range inc.samples.Fields {
		f.rehash()
	}
	if inc.storm != nil {
		if inc.storm.Values == nil {
			inc.storm.Values = map[string]*valueSample{}
		}
		for _, f := range inc.storm.Values {
			f.rehash()
		}
	}
	inc.bytes = inc.size()
	return inc, nil
}

// snapshot returns the writer's state for the checkpoint.
func (w *writer) snapshot() *ckState {
	s := &ckState{Version: checkpointVersion, Next: w.next, Clock: w.clock, Tails: w.tails}
	for e := w.age.Front(); e != nil; e = e.Next() {
		inc := e.Value.(*incident)
		c := toCk(inc)
		_, c.Awaiting = w.awaiting[inc.seq]
		s.Open = append(s.Open, c)
	}
	for _, seq := range w.awaitOrder {
		if inc, ok := w.awaiting[seq]; ok && inc.closed {
			c := toCk(inc)
			c.Awaiting = true
			s.Awaiting = append(s.Awaiting, c)
		}
	}
	for e := w.trackerAge.Front(); e != nil; e = e.Next() {
		tr := e.Value.(*tracker)
		ct := &ckTracker{Key: tr.key, Opens: tr.opens, Refs: tr.refs, Last: tr.last, Fields: tr.fields}
		if tr.storm != nil {
			ct.Storm = toCk(tr.storm)
		}
		s.Trackers = append(s.Trackers, ct)
	}
	return s
}

// errNoCheckpoint means there is no checkpoint file.
var errNoCheckpoint = errors.New("no checkpoint")

// loadCheckpoint reads the checkpoint in dir.
func loadCheckpoint(dir string) (*ckState, error) {
	_ = os.Remove(filepath.Join(dir, checkpointTemp)) // left by a crash
	data, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	body, trailer, ok := cutTrailer(data)
	if !ok {
		return nil, errors.New("checkpoint: no trailer line (cut short?)")
	}
	var version int
	var n int
	var sum uint32
	if _, err := fmt.Sscanf(trailer, checkpointTrailer+" %d %d %x", &version, &n, &sum); err != nil {
		return nil, fmt.Errorf("checkpoint trailer: %w", err)
	}
	if version != checkpointVersion || n != len(body) || crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("checkpoint is damaged or of another version (%d)", version)
	}
	var s ckState
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("decode checkpoint: %w", err)
	}
	return &s, nil
}

// cutTrailer splits a checkpoint file into its body and its last line.
func cutTrailer(data []byte) (body []byte, trailer string, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	if i < 0 {
		return nil, "", false
	}
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}

// restore puts a loaded checkpoint's state into w.
func (w *writer) restore(s *ckState) error {
	w.next, w.clock = s.Next, s.Clock
	if s.Tails != nil {
		w.tails = s.Tails
	}
	var awaiting []*incident
	for _, c := range s.Open {
		inc, err := fromCk(c)
		if err != nil {
			return err
		}
		w.open[inc.key] = inc
		inc.elem = w.age.PushBack(inc)
		w.openBytes += inc.bytes
		if c.Awaiting {
			awaiting = append(awaiting, inc)
		}
	}
	for _, c := range s.Awaiting {
		inc, err := fromCk(c)
		if err != nil {
			return err
		}
		inc.closed = true
		awaiting = append(awaiting, inc)
	}
	// Oldest first, as they were asked for.
	slices.SortFunc(awaiting, func(a, b *incident) int { return cmp.Compare(a.seq, b.seq) })
	for _, inc := range awaiting {
		w.awaiting[inc.seq] = inc
		w.awaitOrder = append(w.awaitOrder, inc.seq)
		if inc.closed {
			w.awaitClosedBytes += inc.bytes
		}
	}
	for _, c := range s.Trackers {
		tr := &tracker{key: c.Key, opens: c.Opens, refs: c.Refs, last: c.Last, fields: c.Fields}
		if c.Storm != nil {
			inc, err := fromCk(c.Storm)
			if err != nil {
				return err
			}
			tr.storm = inc
		}
		tr.elem = w.trackerAge.PushBack(tr)
		w.trackers[tr.key] = tr
	}
	w.metrics.IncidentsOpen.Set(float64(len(w.open)))
	return nil
}

// newState empties w's logical state.
func (w *writer) newState() {
	w.open = map[string]*incident{}
	w.age = list.New()
	w.trackers = map[string]*tracker{}
	w.trackerAge = list.New()
	w.tails = map[string]*inputTail{}
	w.awaiting = map[uint64]*incident{}
	w.awaitOrder = nil
	w.awaitClosedBytes = 0
	w.openBytes = 0
}
