// Package htmlindex keeps <reports.dir>/index.html: one self-contained
// page listing the reports of the last retention.max_age, newest first,
// with links to their HTML pages. The daemon tells it when reports were
// written; it rewrites the page a moment later (several changes make one
// rewrite), and once a minute so that old reports age out. It reads the
// reports back with internal/query and draws the page with
// internal/render; every write is atomic (temporary file, fsync, rename).
package htmlindex

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/query"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Name is the index's file name in the reports directory.
const Name = "index.html"

const (
	tmpPrefix = ".tmp-" + Name + "."
	// debounce is how long after a change the page is rewritten: the
	// changes of that time make one rewrite.
	debounce = time.Second
	// refresh rewrites the page even without changes, for max_age.
	refresh = time.Minute
)

// Index keeps one reports directory's index.html.
type Index struct {
	dir    string
	maxAge time.Duration // 0: every report
	log    zerolog.Logger
	now    func() time.Time
	kick   chan struct{}
	reader *query.Local

	mu      sync.Mutex // one rewrite at a time
	lastErr time.Time
}

// New returns the index of the reports directory dir, listing the reports
// last seen within maxAge (0: all). It removes temporary files a crash
// left behind.
func New(dir string, maxAge time.Duration, log zerolog.Logger) *Index {
	x := &Index{dir: dir, maxAge: maxAge, log: log, now: time.Now, kick: make(chan struct{}, 1)}
	x.reader = query.NewLocal(dir, func(path string, err error) {
		log.Warn().Str("path", path).Err(err).Msg("index.html: a file in the reports directory is not a report; left out")
	})
	if tmps, err := filepath.Glob(filepath.Join(dir, tmpPrefix+"*")); err == nil {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	return x
}

// Changed says that reports were written or removed. It never blocks.
func (x *Index) Changed() {
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// Run rewrites the page at start, after changes and every minute, until
// ctx ends. Failures are logged, at most once a minute, and retried.
func (x *Index) Run(ctx context.Context) {
	x.rewrite()
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-x.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(debounce):
			}
		}
		took := x.rewrite()
		// A large directory under a flood of changes: leave the writer
		// most of the time.
		if pause := 4 * took; pause > debounce {
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause - debounce):
			}
		}
	}
}

// Flush rewrites the page now (at shutdown, after the last reports).
func (x *Index) Flush() error {
	_, err := x.Write()
	return err
}

// rewrite writes the page and logs a failure at most once a minute.
func (x *Index) rewrite() time.Duration {
	start := time.Now()
	n, err := x.Write()
	if err != nil {
		if x.now().Sub(x.lastErr) >= time.Minute {
			x.lastErr = x.now()
			x.log.Warn().Err(err).Msg("index.html not written; retrying")
		}
	} else {
		x.log.Debug().Int("reports", n).Dur("took", time.Since(start)).Msg("index.html written")
	}
	return time.Since(start)
}

// Write reads the reports and replaces index.html, and returns how many
// reports it lists.
func (x *Index) Write() (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	now := x.now()
	f := query.Filter{}
	period := "All reports"
	if x.maxAge > 0 {
		f.Since = now.Add(-x.maxAge)
		period = "Reports of the last " + age(x.maxAge)
	}
	es, err := x.reader.List(context.Background(), f)
	if err != nil {
		return 0, fmt.Errorf("read reports: %w", err)
	}
	for i := range es {
		es[i].Files = relative(x.dir, es[i].Files)
	}
	page, err := render.HTMLIndex(es, fmt.Sprintf("%s on this host: %d", period, len(es)), now)
	if err != nil {
		return 0, err
	}
	return len(es), writeAtomic(x.dir, Name, page)
}

// relative makes a report's paths relative to the reports directory, as
// links from index.html.
func relative(dir string, f report.Files) report.Files {
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		r, err := filepath.Rel(dir, p)
		if err != nil || strings.HasPrefix(r, "..") {
			return ""
		}
		return filepath.ToSlash(r)
	}
	return report.Files{JSON: rel(f.JSON), Markdown: rel(f.Markdown), HTML: rel(f.HTML)}
}

// age says a duration the way people do: 720h is "30 days".
func age(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	switch {
	case d%(24*time.Hour) != 0:
		return d.String()
	case days == 1:
		return "day"
	}
	return fmt.Sprintf("%d days", days)
}

// writeAtomic replaces dir/name with data, mode 0640 like the reports: a
// new temporary file, fsync, rename over the old one, fsync of the
// directory. A reader sees the old page or the new one, never a part.
func writeAtomic(dir, name string, data []byte) (err error) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	tmp := filepath.Join(dir, tmpPrefix+hex.EncodeToString(nonce[:]))
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return &fs.PathError{Op: "create", Path: tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o640); err != nil { // whatever the umask
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}
