package stream

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// falcoWriter appends one alert line every few milliseconds, as Falco's
// file_output does: one write per line to a file opened with O_APPEND,
// reopened when logrotate's postrotate asks (Falco reopens on SIGUSR1;
// here postrotate touches a file the writer watches).
type falcoWriter struct {
	path, reopen string
	every        time.Duration
	n            atomic.Int64 // lines written
	stop         chan struct{}
	done         chan struct{}
	err          error
}

func startWriter(t *testing.T, path string, every time.Duration) *falcoWriter {
	t.Helper()
	w := &falcoWriter{path: path, reopen: path + ".reopen", every: every, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.halt)
	return w
}

func (w *falcoWriter) run() {
	defer close(w.done)
	open := func() (*os.File, error) {
		return os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	f, err := open()
	if err != nil {
		w.err = err
		return
	}
	defer func() { f.Close() }()
	for i := 1; ; i++ {
		if _, err := os.Stat(w.reopen); err == nil {
			os.Remove(w.reopen)
			f.Close()
			if f, err = open(); err != nil {
				w.err = err
				return
			}
		}
		if _, err := f.WriteString(tapLine(i)); err != nil {
			w.err = err
			return
		}
		w.n.Store(int64(i))
		select {
		case <-w.stop:
			return
		case <-time.After(w.every):
		}
	}
}

// halt stops the writer and waits for it.
func (w *falcoWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// logrotate runs the real logrotate (Debian's package) with conf, forcing
// a rotation.
func logrotate(t *testing.T, dir, conf string) {
	t.Helper()
	cmd := exec.Command("logrotate", "-f", "-s", filepath.Join(dir, "logrotate.status"), conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
}

var evtNum = regexp.MustCompile(`"evt\.num":(\d+)`)

// linesOnDisk returns the evt.num of every line in the file and its
// rotated copies (gzip included): what survived logrotate.
func linesOnDisk(t *testing.T, path string) map[int]bool {
	t.Helper()
	files, _ := filepath.Glob(path + "*")
	on := map[int]bool{}
	for _, name := range files {
		if !strings.HasSuffix(name, ".reopen") {
			linesIn(t, name, on)
		}
	}
	return on
}

// linesIn adds the evt.num of every line of the file name to on.
func linesIn(t *testing.T, name string, on map[int]bool) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = zr
	}
	// Only whole lines count: logrotate can copy a line Falco is still
	// writing and truncate the rest of it away.
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		if m := evtNum.FindSubmatch(line); m != nil && json.Valid(line) {
			n, _ := strconv.Atoi(string(m[1]))
			on[n] = true
		}
	}
}

// whereOnDisk says which file holds each of nums, for a failure message.
func whereOnDisk(t *testing.T, path string, nums []int) string {
	var b strings.Builder
	files, _ := filepath.Glob(path + "*")
	for _, name := range files {
		if strings.HasSuffix(name, ".reopen") {
			continue
		}
		in := map[int]bool{}
		linesIn(t, name, in)
		var here []int
		for _, n := range nums {
			if in[n] {
				here = append(here, n)
			}
		}
		fi, _ := os.Stat(name)
		fmt.Fprintf(&b, "%s (%d bytes, %s): %v\n", filepath.Base(name), fi.Size(), fi.ModTime().Format("15:04:05.000000"), here)
	}
	return b.String()
}

// TestFileLogrotate follows a file that Falco-like writer appends to every
// 2 ms while the real logrotate rotates it, in every mode, with the
// reporter stopped and started again in the middle (rotations happen
// while it is down too). Every line on disk at the end, in the file or a
// rotated copy, must be reported exactly once, and nothing twice.
// copytruncate itself loses the lines written between its copy and its
// truncation; those are counted apart.
func TestFileLogrotate(t *testing.T) {
	needTool(t, "logrotate")
	modes := []struct {
		name, directives string
		restartOnly      bool // rotate only while the reporter is stopped
	}{
		{"create", "create\n    postrotate\n        touch {path}.reopen\n    endscript", false},
		{"create compress delaycompress", "create\n    compress\n    delaycompress\n    postrotate\n        touch {path}.reopen\n    endscript", false},
		{"create compress", "create\n    compress\n    postrotate\n        touch {path}.reopen\n    endscript", false},
		{"create without reopen", "create", false},
		{"copytruncate", "copytruncate", false},
		{"copytruncate compress", "copytruncate\n    compress", false},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "events.json")
			if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "logrotate.conf")
			body := fmt.Sprintf("%s {\n    rotate 1000\n    missingok\n    %s\n}\n", path, strings.ReplaceAll(m.directives, "{path}", path))
			if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			w := startWriter(t, path, 2*time.Millisecond)
			sink, drops := &tapSink{}, &tapDrops{}
			opts := FileOptions{Path: path, StateFile: filepath.Join(dir, "state", "file.pos"), PollInterval: 50 * time.Millisecond, OnDrop: drops.add}
			rotations := 0
			rotate := func(n int, gap time.Duration) {
				for range n {
					time.Sleep(gap)
					logrotate(t, dir, conf)
					rotations++
				}
			}
			stop := startFile(t, opts, sink)
			rotate(3, 120*time.Millisecond) // one rotation per poll or so
			rotate(2, 10*time.Millisecond)  // two rotations between polls
			time.Sleep(100 * time.Millisecond)
			stop()
			rotate(2, 40*time.Millisecond) // while the reporter is stopped
			startFile(t, opts, sink)
			rotate(2, 120*time.Millisecond)
			time.Sleep(100 * time.Millisecond)
			w.halt()
			if w.err != nil {
				t.Fatal(w.err)
			}
			written := int(w.n.Load())
			onDisk := linesOnDisk(t, path)
			// Wait until every line on disk was reported.
			deadline := time.Now().Add(30 * time.Second)
			for {
				got := map[int]bool{}
				for _, n := range tapNums(sink.got()) {
					got[n] = true
				}
				missing := 0
				for n := range onDisk {
					if !got[n] {
						missing++
					}
				}
				if missing == 0 {
					break
				}
				if time.Now().After(deadline) {
					var nums []int
					for n := range onDisk {
						if !got[n] {
							nums = append(nums, n)
						}
					}
					slices.Sort(nums)
					t.Fatalf("%d of %d lines on disk never reported: %v\n%s", missing, len(onDisk), nums, whereOnDisk(t, path, nums))
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(150 * time.Millisecond) // anything more would be a duplicate
			reported := tapNums(sink.got())
			dups := len(reported) - len(slices.Compact(slices.Clone(reported)))
			lostByLogrotate := 0
			seen := map[int]bool{}
			for _, n := range reported {
				seen[n] = true
			}
			for n := 1; n <= written; n++ {
				if !onDisk[n] && !seen[n] {
					lostByLogrotate++
				}
			}
			t.Logf("%d lines written, %d rotations, %d on disk after logrotate, %d reported, %d duplicates, %d lost by logrotate itself, %d counted as lost",
				written, rotations, len(onDisk), len(slices.Compact(slices.Clone(reported))), dups, lostByLogrotate, drops.get(DropFileUnread))
			if dups != 0 {
				var twice []int
				for i := 1; i < len(reported); i++ {
					if reported[i] == reported[i-1] {
						twice = append(twice, reported[i])
					}
				}
				t.Errorf("%d lines reported twice: %v\n%s", dups, twice, whereOnDisk(t, path, twice))
			}
			if strings.HasPrefix(m.name, "create") && (lostByLogrotate != 0 || len(onDisk) != written) {
				t.Errorf("create mode: %d lines lost, %d on disk of %d written", lostByLogrotate, len(onDisk), written)
			}
			if n := drops.get(DropFileUnread); n != 0 {
				t.Errorf("%d rotated files counted as lost", n)
			}
			if reported[len(reported)-1] > written || reported[0] < 1 {
				t.Errorf("reported lines outside 1..%d", written)
			}
		})
	}
}

// TestFileRotatedAwayIsCountedLost: when the rotated file with unread
// lines is deleted while the reporter is stopped, the loss is logged at
// WARN with the bytes known to be lost, and counted.
func TestFileRotatedAwayIsCountedLost(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.json")
	state := filepath.Join(dir, "file.pos")
	appendFile(t, path, tapLines(1, 3))
	sink, drops := &tapSink{}, &tapDrops{}
	var logs grpcLogs
	opts := FileOptions{Path: path, StateFile: state}
	stop := startFile(t, opts, sink)
	checkExactly(t, sink, tapRange(1, 3))
	stop()
	appendFile(t, path, tapLines(4, 6)) // unread when the file goes away
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + ".1")
	appendFile(t, path, tapLines(7, 8))
	f, err := NewFile(FileOptions{Path: path, StateFile: state, PollInterval: testPoll, OnDrop: drops.add, Logger: zerologTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	runFor(t, f, sink, 20*testPoll)
	if got := tapNums(sink.got()); !slices.Equal(got, append(tapRange(1, 3), 7, 8)) {
		t.Errorf("delivered %v", got)
	}
	if drops.get(DropFileUnread) != 1 {
		t.Errorf("lost file counted %d times, want 1", drops.get(DropFileUnread))
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), `"bytes_skipped":0`) {
		t.Errorf("no WARN with the bytes known lost:\n%s", logs.String())
	}
}

// zerologTo logs JSON lines into w.
func zerologTo(w io.Writer) zerolog.Logger { return zerolog.New(w) }

// runFor runs f for d, then stops it.
func runFor(t *testing.T, f *File, sink Sink, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := f.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
}

// needTool skips the test when a command it runs is not installed, or
// fails it when FALCO_REPORTER_REQUIRE_TOOLS is set (.ci/run installs them).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("FALCO_REPORTER_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed, and FALCO_REPORTER_REQUIRE_TOOLS is set", name)
		}
		t.Skipf("%s not installed (.ci/run installs it)", name)
	}
}
