package stream

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// copyTruncate does what logrotate's copytruncate does: copy the file to
// path.1, then cut it to zero.
func copyTruncate(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// TestFileCopyTruncateRegrown: the file is copied and cut, then grows past
// the old read position before the next look. The size alone does not
// show the cut; the first bytes do. The lines between the read position
// and the cut are read from the copy, and no half line is read.
func TestFileCopyTruncateRegrown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	appendFile(t, path, tapLines(1, 5))
	sink, drops := &tapSink{}, &tapDrops{}
	startFile(t, FileOptions{Path: path, PollInterval: 200 * time.Millisecond, OnDrop: drops.add}, sink)
	checkExactly(t, sink, tapRange(1, 5))
	appendFile(t, path, tapLines(6, 9)) // unread when the copy is made
	copyTruncate(t, path)
	appendFile(t, path, tapLines(10, 30)) // far past the old position
	sink.waitN(t, 30)
	time.Sleep(300 * time.Millisecond)
	checkExactly(t, sink, tapRange(1, 30))
	if n := drops.get(DropNotAlert); n != 0 {
		t.Errorf("%d lines read as not alerts: a half line was read", n)
	}
}

// TestFileRotatedWhileStopped: lines left unread in a file that is
// rotated while the reporter is stopped are read from the rotated file
// after the restart, before the new file.
func TestFileRotatedWhileStopped(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rotate func(t *testing.T, path string)
	}{
		{"create", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"copytruncate", copyTruncate},
		{"create and gzip", func(t *testing.T, path string) {
			gzipTo(t, path, path+".1.gz")
			os.Remove(path)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "events.json")
			opts := FileOptions{Path: path, StateFile: filepath.Join(dir, "file.pos")}
			appendFile(t, path, tapLines(1, 5))
			sink := &tapSink{}
			stop := startFile(t, opts, sink)
			checkExactly(t, sink, tapRange(1, 5))
			stop()
			appendFile(t, path, tapLines(6, 25)) // 20 lines unread at the rotation
			tt.rotate(t, path)
			appendFile(t, path, tapLines(26, 60)) // the new file outgrows the old position
			startFile(t, opts, sink)
			checkExactly(t, sink, tapRange(1, 60))
		})
	}
}

// gzipTo writes the file src gzipped to dst, as logrotate's compress does.
func gzipTo(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFileRotatedBeforeFirstLook: the file appears and is rotated before
// the input, which was waiting for it, looked again. Its lines are read
// from the rotated file before the new file's.
func TestFileRotatedBeforeFirstLook(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.json")
	var logs grpcLogs
	f, err := NewFile(FileOptions{Path: path, PollInterval: testPoll, Logger: zerologTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &tapSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, sink) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for logs.count("waiting for the file to appear") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the input never looked for the missing file")
		}
		time.Sleep(testPoll)
	}
	// Written and renamed away between two looks: made under another name
	// and renamed into place, so that no look sees it at the path.
	tmp := filepath.Join(dir, "tmp")
	appendFile(t, tmp, tapLines(1, 3))
	if err := os.Rename(tmp, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, tapLines(4, 5))
	checkExactly(t, sink, tapRange(1, 5))
}
