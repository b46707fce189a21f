package pathcheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/config"
)

// maxStateEntries bounds the walk of the state tree.
const maxStateEntries = 100000

// State returns the daemon's own state: state_dir and everything in it
// (the spool and its segments, the file input's saved position; each
// directory must take new files, each file must be readable and
// writable), and reports.dir with its lock file and day directories. The
// report files themselves are not listed: the daemon only renames and
// deletes them, which their directory's permissions decide.
func State(cfg *config.Config) []Item {
	sd, rd := filepath.Clean(cfg.StateDir), filepath.Clean(cfg.Reports.Dir)
	root := func(p string) string {
		if within(p, sd) {
			return sd
		}
		return rd
	}
	var items []Item
	items = append(items, Item{Role: "state directory", Path: sd, Access: WriteDir, Optional: true, Root: sd})
	n := 0
	_ = filepath.WalkDir(sd, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || p == sd:
			return nil // unreadable: the directory's own item says so
		case p == rd:
			return fs.SkipDir
		case n >= maxStateEntries:
			return fs.SkipAll
		}
		n++
		switch {
		case d.IsDir():
			items = append(items, Item{Role: "state directory", Path: p, Access: WriteDir, Root: sd})
		case d.Type().IsRegular():
			items = append(items, Item{Role: "state file", Path: p, Access: Write, Root: sd})
		}
		return nil
	})
	items = append(items, Item{Role: "reports directory", Path: rd, Access: WriteDir, Optional: true, Root: root(rd)})
	entries, _ := os.ReadDir(rd)
	for _, e := range entries {
		p := filepath.Join(rd, e.Name())
		switch {
		case e.Name() == ".lock":
			items = append(items, Item{Role: "reports lock", Path: p, Access: Write, Root: root(rd)})
		case e.IsDir():
			items = append(items, Item{Role: "reports day directory", Path: p, Access: WriteDir, Root: root(rd)})
		}
	}
	return items
}

// Service returns State plus every other path the configuration names:
// the configuration file itself, the playbooks, the Falco file input, the
// gRPC unix socket and the TLS files.
func Service(cfg *config.Config, configPath string) []Item {
	items := []Item{{Role: "configuration file", Path: configPath, Access: Read}}
	items = append(items, State(cfg)...)
	if d := cfg.Reports.PlaybooksDir; d != "" {
		items = append(items, Item{Role: "playbooks directory", Path: d, Access: List})
		files, _ := filepath.Glob(filepath.Join(d, "*.yaml"))
		for _, f := range files {
			items = append(items, Item{Role: "playbook", Path: f, Access: Read})
		}
	}
	if f := cfg.Falco.File; f != nil {
		// A missing file is waited for; its directory must be reachable.
		items = append(items, Item{Role: "Falco file output", Path: f.Path, Access: Read, Optional: true})
	}
	if g := cfg.Falco.GRPC; g != nil {
		if p, ok := strings.CutPrefix(g.Address, "unix://"); ok {
			// Falco makes the socket when it starts; the daemon waits.
			items = append(items, Item{Role: "Falco gRPC socket", Path: p, Access: Connect, Optional: true})
		} else {
			// The TLS files serve TCP only.
			items = appendFiles(items, "gRPC client certificate", g.Cert, "gRPC client key", g.Key, "gRPC CA", g.CA)
		}
	}
	if h := cfg.Falco.HTTP; h != nil && h.TLS != nil {
		t := h.TLS
		items = appendFiles(items, "HTTP certificate", t.Cert, "HTTP key", t.Key, "HTTP client CA", t.ClientCA)
	}
	return items
}

// appendFiles adds a Read item for each (role, path) pair whose path is set.
func appendFiles(items []Item, pairs ...string) []Item {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			items = append(items, Item{Role: pairs[i], Path: pairs[i+1], Access: Read})
		}
	}
	return items
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
