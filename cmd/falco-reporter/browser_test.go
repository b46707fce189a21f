package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium that records, per page load, the
// requests it makes and the errors its console shows.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	errors   []string
}

// newBrowser starts Debian's chromium as CI runs it: as root, so without
// its sandbox, with a fresh profile and every background service off.
// Without chromium the test is skipped, unless
// FALCO_REPORTER_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("FALCO_REPORTER_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium not found (apt-get install chromium)")
		}
		t.Skip("chromium not found; FALCO_REPORTER_REQUIRE_CHROMIUM=1 makes this a failure")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(b.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	b.ctx = ctx
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	}))
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// listen records requests and console errors (console.error, uncaught
// exceptions, and the browser's own errors, such as a refused script or
// style under the Content-Security-Policy).
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			b.errors = append(b.errors, fmt.Sprintf("console.%s", ev.Type))
		}
	case *runtime.EventExceptionThrown:
		b.errors = append(b.errors, "exception: "+ev.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			b.errors = append(b.errors, string(ev.Entry.Source)+": "+ev.Entry.Text)
		}
	}
}

// load opens path and returns what it requested and the errors shown,
// once the page has loaded and settled.
func (b *browser) load(t *testing.T, path string) (requests, errs []string) {
	t.Helper()
	b.mu.Lock()
	b.requests, b.errors = nil, nil
	b.mu.Unlock()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(fileURL(path)), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...), append([]string(nil), b.errors...)
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: path}).String()
}

// screenshot saves the whole page as PNG into the directory named by
// FALCO_REPORTER_SCREENSHOTS (the README's docs/img), or a temporary one,
// and checks that it shows something.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	colours := map[uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 7 {
		for x := r.Min.X; x < r.Max.X; x += 7 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			colours[cr>>8<<16|cg>>8<<8|cb>>8] = true
		}
	}
	if len(colours) < 5 {
		t.Errorf("screenshot %s shows %d colours: a blank page", name, len(colours))
	}
	dir := os.Getenv("FALCO_REPORTER_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%dx%d)", filepath.Join(dir, name), r.Dx(), r.Dy())
}

// TestBrowserOpensReports writes the demo's reports with the html format
// and opens index.html and a report in headless Chromium from file://:
// no console error (so no script or style refused by the
// Content-Security-Policy) and no request but the page itself.
func TestBrowserOpensReports(t *testing.T) {
	b := newBrowser(t)

	// The checks can fail: a page with a script that logs an error and an
	// image from elsewhere trips both.
	control := filepath.Join(t.TempDir(), "control.html")
	if err := os.WriteFile(control, []byte(`<!DOCTYPE html><title>c</title><script>console.error("control")</script><img src="http://127.0.0.1:9/c.png">`), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs, errs := b.load(t, control)
	if len(errs) == 0 || len(reqs) < 2 {
		t.Fatalf("the control page shows no error (%q) or no outside request (%q): the checks below would prove nothing", errs, reqs)
	}

	dir := t.TempDir()
	if err := runDemo(dir, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*", "*-write-below-binary-dir-*.html"))
	if len(pages) != 1 {
		t.Fatalf("%d pages for the demo's Write below binary dir alert", len(pages))
	}
	for _, p := range []struct{ path, shot, want string }{
		{filepath.Join(dir, "index.html"), "index.png", "Falco incident reports"},
		{pages[0], "report.png", "Write below binary dir"},
	} {
		reqs, errs := b.load(t, p.path)
		if len(errs) > 0 {
			t.Errorf("%s: console errors: %q", p.path, errs)
		}
		if len(reqs) != 1 || reqs[0] != fileURL(p.path) {
			t.Errorf("%s: requests %q, want only the page itself", p.path, reqs)
		}
		text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, p.want) {
			t.Errorf("%s does not show %q", p.path, p.want)
		}
		b.screenshot(t, p.shot)
	}
}
