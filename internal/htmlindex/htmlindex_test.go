package htmlindex

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

var now = time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC)

func reports(t *testing.T, n int) []report.Report {
	t.Helper()
	rs, err := querytest.Reports(n, now)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func newIndex(t *testing.T, dir string, maxAge time.Duration) *Index {
	x := New(dir, maxAge, zerolog.New(io.Discard))
	x.now = func() time.Time { return now }
	return x
}

func TestWriteListsRecentReportsNewestFirst(t *testing.T) {
	dir := t.TempDir()
	rs := reports(t, 90) // one a minute: 61 within the hour
	if _, err := querytest.Write(dir, rs, true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"leftover"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	x := newIndex(t, dir, time.Hour)
	n, err := x.Write()
	if err != nil || n != 61 {
		t.Fatalf("Write = %d, %v; want 61 reports", n, err)
	}
	page, err := os.ReadFile(filepath.Join(dir, Name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "Reports of the last 1h0m0s on this host: 61") {
		t.Errorf("period line missing:\n%.2000s", page)
	}
	// Newest first: the report of 12:00 before the one of 11:59.
	first, second := strings.Index(string(page), rs[0].ID[:8]), strings.Index(string(page), rs[1].ID[:8])
	if first < 0 || second < 0 || first > second {
		t.Errorf("not newest first (%d, %d)", first, second)
	}
	if strings.Contains(string(page), rs[61].ID[:8]) {
		t.Error("a report older than max_age is listed")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, Name)); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
}

// TestRunRewritesAfterChanges starts the index, writes a report, and
// waits for it to appear; a reader never sees half a page meanwhile.
func TestRunRewritesAfterChanges(t *testing.T) {
	dir := t.TempDir()
	rs := reports(t, 3)
	if _, err := querytest.Write(dir, rs[:1], true); err != nil {
		t.Fatal(err)
	}
	x := newIndex(t, dir, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { x.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	read := func() []byte {
		page, err := os.ReadFile(filepath.Join(dir, Name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err == nil && !bytes.HasSuffix(page, []byte("</html>\n")) {
			t.Fatalf("a reader saw a partial page (%d bytes)", len(page))
		}
		return page
	}
	waitFor := func(id string) {
		deadline := time.Now().Add(10 * time.Second)
		for !bytes.Contains(read(), []byte(id[:8])) {
			if time.Now().After(deadline) {
				t.Fatalf("report %s not in index.html", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(rs[0].ID)
	for _, r := range rs[1:] {
		if _, err := querytest.Write(dir, []report.Report{r}, true); err != nil {
			t.Fatal(err)
		}
		x.Changed()
		x.Changed() // several changes, one rewrite
		waitFor(r.ID)
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{720 * time.Hour: "30 days", 24 * time.Hour: "day", 90 * time.Minute: "1h30m0s"} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}
