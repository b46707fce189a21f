package journal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// requireEnv turns a missing journald into a test failure (CI sets it).
const requireEnv = "FALCO_REPORTER_REQUIRE_JOURNAL"

// requireJournal skips the test, or fails it when requireEnv=1, unless a
// real journald and journalctl are available.
func requireJournal(t *testing.T) {
	t.Helper()
	missing := ""
	if !journal.Enabled() {
		missing = "no journald answers on " + SocketPath
	} else if _, err := exec.LookPath("journalctl"); err != nil {
		missing = "journalctl not found"
	}
	if missing == "" {
		return
	}
	msg := missing + ": run .ci/journald.sh (as root) to start one"
	if os.Getenv(requireEnv) == "1" {
		t.Fatal(msg + " (" + requireEnv + "=1)")
	}
	t.Skip(msg)
}

// newRunID returns a random value to find this test's entries by.
func newRunID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// readEntries polls journalctl (journald writes asynchronously) until at
// least want entries match all of matches ("FIELD=value"), and returns
// them. Values that journalctl does not print as one string (binary data,
// repeated fields) are kept as their raw JSON text prefixed with "RAW:".
func readEntries(t *testing.T, want int, matches ...string) []map[string]string {
	t.Helper()
	args := append([]string{"--output=json", "--all", "--no-pager", "--quiet"}, matches...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, "journalctl", args...).Output()
		cancel()
		if err != nil {
			t.Fatalf("journalctl %v: %v", args, err)
		}
		entries := parseEntries(t, out)
		if len(entries) >= want {
			return entries
		}
		if time.Now().After(deadline) {
			t.Fatalf("journalctl %v: %d entries after 10s, want %d", matches, len(entries), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func parseEntries(t *testing.T, out []byte) []map[string]string {
	t.Helper()
	var entries []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("journalctl line %q: %v", sc.Text(), err)
		}
		e := make(map[string]string, len(raw))
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				e[k] = s
			} else {
				e[k] = "RAW:" + string(v)
			}
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read journalctl output: %v", err)
	}
	return entries
}

// checkFields fails the test for every field of want that got lacks or
// holds another value.
func checkFields(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("field %s missing", k)
		case g != w:
			t.Errorf("field %s = %.200q (%d bytes), want %.200q (%d bytes)", k, g, len(g), w, len(w))
		}
	}
}

// checkNoControl fails the test if a field of e carries a control byte.
func checkNoControl(t *testing.T, e map[string]string, fields ...string) {
	t.Helper()
	for _, k := range fields {
		for i := 0; i < len(e[k]); i++ {
			if c := e[k][i]; c < 0x20 || c == 0x7f {
				t.Errorf("field %s holds raw control byte %#x at %d: %q", k, c, i, e[k])
				break
			}
		}
	}
}
