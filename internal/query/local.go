package query

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Local is the Backend over a reports directory on this machine: the
// JSON report of each incident in the directory or its day directories.
// It needs only read access (the falco-reporter group).
type Local struct {
	dir  string
	warn func(path string, err error)
	now  func() time.Time
	poll time.Duration // how often Follow looks for changes

	mu    sync.Mutex
	cache *scanner // what List and Get read last, so that the next read is incremental

	afterStart func() // tests: runs between Follow's start and its first scan
}

// NewLocal returns the backend for the reports directory dir. warn, if not
// nil, is told once about each file that is skipped (malformed, not a
// report, unreadable); the listing goes on without it.
func NewLocal(dir string, warn func(path string, err error)) *Local {
	return &Local{dir: dir, warn: warn, now: time.Now, poll: 250 * time.Millisecond}
}

// List implements Backend.
func (l *Local) List(ctx context.Context, f Filter) ([]report.Entry, error) {
	m, err := compile(f)
	if err != nil {
		return nil, err
	}
	if f.Grep != "" {
		// What grep found depends on the text: read afresh.
		all, _, err := newScanner(l.dir, f.Grep, l.warn, l.now).scan()
		if err != nil {
			return nil, err
		}
		return selectEntries(all, m, f.Limit), ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	all, err := l.scanCached()
	if err != nil {
		return nil, err
	}
	return selectEntries(all, m, f.Limit), ctx.Err()
}

// scanCached scans with the scanner kept from the last call, which reads
// only what changed since; l.mu must be held.
func (l *Local) scanCached() ([]*record, error) {
	if l.cache == nil {
		l.cache = newScanner(l.dir, "", l.warn, l.now)
	}
	all, _, err := l.cache.scan()
	return all, err
}

// selectEntries returns the entries of the records m matches, newest
// first, at most limit of them (0: all).
func selectEntries(all []*record, m *matcher, limit int) []report.Entry {
	// Sort pointers: an entry is a few hundred bytes, and moving 20,000 of
	// them around costs more than reading the reports.
	sel := make([]*report.Entry, 0, len(all))
	for _, r := range all {
		if m.match(r) {
			sel = append(sel, &r.entry)
		}
	}
	slices.SortFunc(sel, newestFirst)
	if limit > 0 && len(sel) > limit {
		sel = sel[:limit]
	}
	out := make([]report.Entry, len(sel))
	for i, e := range sel {
		out[i] = *e
	}
	return out
}

func newestFirst(a, b *report.Entry) int {
	return cmp.Or(b.LastSeen.Compare(a.LastSeen.Time), b.FirstSeen.Compare(a.FirstSeen.Time), strings.Compare(a.ID, b.ID))
}

// Get implements Backend. ref is a path when it names an existing file or
// has a path separator; otherwise an id or id prefix.
func (l *Local) Get(ctx context.Context, ref string, f Filter) (*Doc, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	if _, err := os.Lstat(ref); err == nil || strings.ContainsRune(ref, filepath.Separator) {
		return readDoc(ref)
	}
	f.Grep = ""
	m, err := compile(f)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	all, err := l.scanCached()
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var found []*record
	for _, r := range all {
		if !m.match(r) {
			continue
		}
		if r.entry.ID == ref {
			found = []*record{r}
			break
		}
		if strings.HasPrefix(r.entry.ID, ref) {
			found = append(found, r)
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("%w: no report id starts with %q in %s", ErrNotFound, ref, l.dir)
	case len(found) > 1:
		ids := make([]string, 0, len(found))
		for _, r := range found {
			ids = append(ids, r.entry.ID)
		}
		return nil, fmt.Errorf("%w: %q is the start of %s; give more of it", ErrAmbiguous, ref, someOf(ids))
	}
	return readDoc(found[0].entry.Files.JSON)
}

// readDoc reads the report one of whose files is at path: its JSON and,
// when there is one, its Markdown. A Markdown file with no JSON beside it
// is returned alone.
func readDoc(path string) (*Doc, error) {
	base := path
	for _, ext := range []string{".json", ".md", ".html"} {
		if b, ok := strings.CutSuffix(path, ext); ok {
			base = b
			break
		}
	}
	doc := &Doc{}
	md, _, _, err := readFile(base+".md", nil)
	if err == nil {
		doc.Markdown = md
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	data, _, _, err := readFile(base+".json", nil)
	if errors.Is(err, fs.ErrNotExist) && doc.Markdown != nil {
		return doc, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: no such file, and no .json or .md report beside it", ErrNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	var p fastjson.Parser
	rec, err := decode(&p, data, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base+".json", err)
	}
	if err := json.Unmarshal(data, &doc.Report); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", base+".json", errNotReport, err)
	}
	doc.Entry, doc.JSON = rec.entry, data
	doc.Entry.Files.JSON = base + ".json"
	if doc.Markdown != nil {
		doc.Entry.Files.Markdown = base + ".md"
	}
	if _, err := os.Lstat(base + ".html"); err == nil {
		doc.Entry.Files.HTML = base + ".html"
	}
	return doc, nil
}

// someOf names the first five of names in order, and how many more there
// are: for an error that must stay one readable line.
func someOf(names []string) string {
	names = slices.Sorted(slices.Values(names))
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}
