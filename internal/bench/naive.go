package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// reportBytes returns the Markdown and JSON of a typical report, for the
// naive writers to write.
func reportBytes() (md, js []byte, err error) {
	a := distinctAlert(1)
	r, err := rules.Default().Build(&a)
	if err != nil {
		return nil, nil, err
	}
	r.ID = "0123456789abcdef"
	js, err = render.JSON(&r)
	return render.Markdown(&r), js, err
}

// naiveWrite writes n reports the simplest durable way, one at a time:
// for each of its two files a temporary file, written, fsynced (when sync
// is set), closed and renamed into place. It returns reports per second.
func naiveWrite(dir string, n int, sync bool) (float64, error) {
	md, js, err := reportBytes()
	if err != nil {
		return 0, err
	}
	day := filepath.Join(dir, "2026-04-02")
	if err := os.MkdirAll(day, 0o750); err != nil {
		return 0, err
	}
	one := func(name string, data []byte) error {
		tmp := filepath.Join(day, ".tmp-"+name)
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if sync {
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(day, name))
	}
	start := time.Now()
	for i := range n {
		name := fmt.Sprintf("20260402T100000Z-read-sensitive-file-untrusted-%016x", i)
		if err := one(name+".md", md); err != nil {
			return 0, err
		}
		if err := one(name+".json", js); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
