package stream

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const testPoll = 5 * time.Millisecond

// startFile runs a file input until the returned stop is called or the
// test ends. stop waits for Run to return nil.
func startFile(t *testing.T, opts FileOptions, sink Sink) (stop func()) {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = testPoll
	}
	opts.Logger = zerolog.Nop()
	f, err := NewFile(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, sink) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run after cancel = %v, want nil", err)
				}
			case <-time.After(30 * time.Second): // a hang, not slowness under load
				t.Error("Run did not return 30s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// appendFile appends s to the file at path, creating it if needed.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func tapLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(tapLine(i))
	}
	return b.String()
}

// checkExactly fails unless the sink holds each of want exactly once, also
// a little later.
func checkExactly(t *testing.T, sink *tapSink, want []int) {
	t.Helper()
	sink.waitN(t, len(want))
	time.Sleep(10 * testPoll)
	if got := tapNums(sink.got()); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func TestFileFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	appendFile(t, path, tapLines(1, 3))
	sink := &tapSink{}
	startFile(t, FileOptions{Path: path}, sink)
	checkExactly(t, sink, tapRange(1, 3))

	appendFile(t, path, tapLines(4, 5))
	checkExactly(t, sink, tapRange(1, 5))

	line := tapLine(6)
	appendFile(t, path, line[:40])
	time.Sleep(10 * testPoll)
	if n := len(sink.got()); n != 5 {
		t.Fatalf("a partial line was delivered: %d alerts", n)
	}
	appendFile(t, path, line[40:])
	checkExactly(t, sink, tapRange(1, 6))
}

func TestFileMissingAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	sink := &tapSink{}
	startFile(t, FileOptions{Path: path}, sink)
	time.Sleep(10 * testPoll)
	appendFile(t, path, tapLines(1, 2))
	checkExactly(t, sink, tapRange(1, 2))
}

func TestFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	appendFile(t, path, tapLines(1, 3))
	sink := &tapSink{}
	startFile(t, FileOptions{Path: path, PollInterval: 20 * time.Millisecond}, sink)
	checkExactly(t, sink, tapRange(1, 3))

	next := 4
	for round := range 3 {
		// Falco holds the file open; logrotate renames it and creates a new
		// one; Falco writes to the old file until SIGUSR1 makes it reopen.
		old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		old.WriteString(tapLines(next, next+1))
		if err := os.Rename(path, path+"."+string(rune('1'+round))); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "")
		old.WriteString(tapLine(next + 2))
		old.Close()
		appendFile(t, path, tapLines(next+3, next+4))
		next += 5
		checkExactly(t, sink, tapRange(1, next-1))
	}
	appendFile(t, path, tapLine(next))
	checkExactly(t, sink, tapRange(1, next))
}

func TestFileRotationWriterStillOnOldFile(t *testing.T) {
	const poll = 40 * time.Millisecond
	path := filepath.Join(t.TempDir(), "events.json")
	appendFile(t, path, "")
	sink := &tapSink{}
	startFile(t, FileOptions{Path: path, PollInterval: poll}, sink)
	old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.WriteString(tapLine(1))
	sink.waitN(t, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	// Falco has not reopened yet: it keeps appending to the renamed file
	// for several poll intervals after the new one appeared.
	n := 2
	for end := time.Now().Add(5 * poll); time.Now().Before(end); n++ {
		old.WriteString(tapLine(n))
		time.Sleep(2 * time.Millisecond)
	}
	appendFile(t, path, tapLine(n))
	checkExactly(t, sink, tapRange(1, n))
}

func TestFileTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	appendFile(t, path, tapLines(1, 3))
	sink := &tapSink{}
	startFile(t, FileOptions{Path: path}, sink)
	checkExactly(t, sink, tapRange(1, 3))

	// copytruncate: the file is copied, then cut to zero while Falco keeps
	// appending to it.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, tapLine(4))
	checkExactly(t, sink, tapRange(1, 4))
	appendFile(t, path, tapLine(5))
	checkExactly(t, sink, tapRange(1, 5))
}

func TestFileRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.json")
	state := filepath.Join(dir, "state", "file.pos")
	if err := os.Mkdir(filepath.Dir(state), 0o700); err != nil {
		t.Fatal(err)
	}
	opts := FileOptions{Path: path, StateFile: state}
	run := func(want []int) {
		t.Helper()
		sink := &tapSink{}
		stop := startFile(t, opts, sink)
		checkExactly(t, sink, want)
		stop()
	}

	appendFile(t, path, tapLines(1, 5))
	run(tapRange(1, 5))
	var pos filePos
	data, err := os.ReadFile(state)
	if err == nil {
		err = json.Unmarshal(data, &pos)
	}
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if dev, ino := fileID(fi); pos.Path != path || pos.Inode != ino || pos.Dev != dev || pos.Offset != fi.Size() || len(pos.identity().head) != int(min(fi.Size(), fpMax)) {
		t.Errorf("saved %+v, want offset %d of inode %d", pos, fi.Size(), ino)
	}
	if entries, _ := os.ReadDir(filepath.Dir(state)); len(entries) != 1 {
		t.Errorf("state dir holds %d files, want only the state file", len(entries))
	}

	t.Run("lines appended while stopped", func(t *testing.T) {
		appendFile(t, path, tapLines(6, 8))
		run(tapRange(6, 8))
	})
	t.Run("file replaced while stopped", func(t *testing.T) {
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		// Longer than the saved offset, so only the inode tells.
		appendFile(t, path, tapLines(9, 30))
		run(tapRange(9, 30))
	})
	t.Run("file truncated while stopped", func(t *testing.T) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, tapLine(31))
		run([]int{31})
	})
	t.Run("corrupt state file", func(t *testing.T) {
		if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		run([]int{31})
	})
	t.Run("pipeline full at shutdown", func(t *testing.T) {
		appendFile(t, path, tapLines(32, 33))
		stop := startFile(t, opts, &tapSink{full: true})
		time.Sleep(10 * testPoll)
		stop()
		run(tapRange(32, 33))
	})
}

func TestFileRestartWhileWriting(t *testing.T) {
	const total = 300
	dir := t.TempDir()
	path := filepath.Join(dir, "events.json")
	opts := FileOptions{Path: path, StateFile: filepath.Join(dir, "file.pos")}
	appendFile(t, path, "")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 1; i <= total; i++ {
			line := tapLine(i)
			// Two writes per line, so restarts also fall inside lines.
			w.WriteString(line[:len(line)/2])
			w.WriteString(line[len(line)/2:])
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var sinks []*tapSink
	all := func() []int {
		var nums []int
		for _, s := range sinks {
			nums = append(nums, tapNums(s.got())...)
		}
		slices.Sort(nums)
		return nums
	}
	deadline := time.Now().Add(10 * time.Second)
	for done := false; !done; {
		select {
		case <-written:
			done = len(all()) >= total
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %d alerts", len(all()))
		}
		sink := &tapSink{}
		sinks = append(sinks, sink)
		stop := startFile(t, opts, sink)
		time.Sleep(4 * testPoll)
		stop()
	}
	if got := all(); !slices.Equal(got, tapRange(1, total)) {
		t.Fatalf("over %d restarts delivered %d alerts, want each of 1..%d exactly once", len(sinks), len(got), total)
	}
}

func TestFileSkipsBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	mixed, err := os.ReadFile("testdata/mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, string(mixed))
	sink := &tapSink{}
	drops := &tapDrops{}
	startFile(t, FileOptions{Path: path, OnDrop: drops.add, MaxLine: 1024}, sink)
	checkExactly(t, sink, []int{1, 2})
	if n := drops.get(DropNotAlert); n != 3 {
		t.Errorf("not_alert drops = %d, want 3", n)
	}
	appendFile(t, path, `{"pad":"`+strings.Repeat("a", 5000)+"\"}\n"+tapLine(3))
	checkExactly(t, sink, []int{1, 2, 3})
	if n := drops.get(DropLineTooLong); n != 1 {
		t.Errorf("line_too_long drops = %d, want 1", n)
	}
}

func TestNewFileErrors(t *testing.T) {
	if _, err := NewFile(FileOptions{}); err == nil {
		t.Error("NewFile without a path returned no error")
	}
}
