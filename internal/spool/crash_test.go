package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashEnv names the spool directory the helper process appends to.
const crashEnv = "SPOOL_CRASH_HELPER_DIR"

// TestHelperProcess is not a test: run by TestCrash with crashEnv set, it
// appends records from several goroutines until it is killed, and prints
// "synced SEQ PAYLOAD" once WaitSynced returned for a record, and
// "trimmed SEQ" once Trim returned.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	s, err := Open(Options{Dir: dir, SegmentSize: 16 << 10, SyncEvery: 5 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	// Stop by itself if nobody kills it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				p := fmt.Sprintf("pid%d-w%d-%d-%s", os.Getpid(), w, i, strings.Repeat("x", i%300))
				seq, err := s.Append([]byte(p))
				if err == nil {
					err = s.WaitSynced(ctx, seq)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				printf("synced %d %s", seq, p)
				if w == 0 && i%100 == 99 && seq > 50 {
					if err := s.Trim(seq - 50); err != nil {
						fmt.Fprintln(os.Stderr, "trim:", err)
						os.Exit(3)
					}
					printf("trimmed %d", seq-50)
				}
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

func TestCrash(t *testing.T) {
	dir := t.TempDir()
	synced := map[uint64]string{} // every record reported synced, over all rounds
	var trimmed uint64
	for round := range 3 {
		lines := runAndKill(t, dir)
		for _, l := range lines {
			var seq uint64
			var p string
			switch {
			case strings.HasPrefix(l, "synced "):
				if _, err := fmt.Sscanf(l, "synced %d %s", &seq, &p); err != nil {
					t.Fatalf("bad line %q", l)
				}
				synced[seq] = p
			case strings.HasPrefix(l, "trimmed "):
				if _, err := fmt.Sscanf(l, "trimmed %d", &seq); err != nil {
					t.Fatalf("bad line %q", l)
				}
				trimmed = max(trimmed, seq)
			default:
				t.Fatalf("bad line %q", l)
			}
		}
		s := open(t, Options{Dir: dir, SegmentSize: 16 << 10})
		got := map[uint64]string{}
		var prev uint64
		err := s.Replay(func(seq uint64, p []byte) error {
			if prev != 0 && seq != prev+1 {
				return fmt.Errorf("seq %d after %d", seq, prev)
			}
			if seq <= trimmed {
				return fmt.Errorf("seq %d replayed after Trim(%d) returned", seq, trimmed)
			}
			prev = seq
			got[seq] = string(p)
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: Replay: %v", round, err)
		}
		lost := 0
		for seq, p := range synced {
			if seq > trimmed && got[seq] != p {
				lost++
				if lost < 5 {
					t.Errorf("round %d: synced record %d = %q replayed as %q", round, seq, p, got[seq])
				}
			}
		}
		st := s.Stats()
		t.Logf("round %d: %d lines, %d replayed, watermark %d, last seq %d, corrupt %d",
			round, len(lines), len(got), st.Watermark, st.LastSeq, st.Corrupt)
		if lost > 0 {
			t.Fatalf("round %d: %d synced records lost", round, lost)
		}
		mustClose(t, s)
	}
	if len(synced) < 100 {
		t.Errorf("only %d records synced in three rounds: the crash test tested little", len(synced))
	}
}

// runAndKill runs TestHelperProcess on dir, kills it with SIGKILL 200 ms
// after its first line, and returns the complete lines it printed.
func runAndKill(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it in any case after 5 s, so that a helper stuck before its
	// first line does not hang the test.
	guard := time.AfterFunc(5*time.Second, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()
	r := bufio.NewReader(stdout)
	var lines []string
	var once sync.Once
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			break // EOF after the kill; a partial last line is dropped
		}
		once.Do(func() { time.AfterFunc(200*time.Millisecond, func() { _ = cmd.Process.Signal(syscall.SIGKILL) }) })
		lines = append(lines, strings.TrimSuffix(l, "\n"))
	}
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed: %v; stderr:\n%s", err, stderr.String())
	}
	return lines
}
