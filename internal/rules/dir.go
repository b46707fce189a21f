package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// WithPlaybooksDir returns a copy of base with the playbooks of every
// *.yaml file in dir added; a user's playbook for a rule replaces the
// built-in one. An empty dir returns base. Any invalid file is an error
// naming the file and line, and nothing is loaded.
func WithPlaybooksDir(base *Table, dir string) (*Table, error) {
	if dir == "" {
		return base, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("playbooks_dir: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("playbooks_dir: %w", err)
	}
	sort.Strings(names)
	t := base.Clone()
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("playbooks_dir: %w", err)
		}
		pbs, err := LoadPlaybooks(name, data)
		if err != nil {
			return nil, err
		}
		for _, pb := range pbs {
			t.AddPlaybook(pb, name)
		}
	}
	return t, nil
}
