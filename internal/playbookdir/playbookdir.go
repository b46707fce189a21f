// Package playbookdir loads users' playbook files from a directory into a
// handler table. It is the only I/O on the rules side, so that package
// rules stays pure.
package playbookdir

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// Load returns a copy of base with the playbooks of every
// *.yaml file in dir added; a user's playbook for a rule replaces the
// built-in one. An empty dir returns base. Any invalid file is an error
// naming the file and line, and nothing is loaded.
func Load(base *rules.Table, dir string) (*rules.Table, error) {
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
		pbs, err := rules.LoadPlaybooks(name, data)
		if err != nil {
			return nil, err
		}
		for _, pb := range pbs {
			t.AddPlaybook(pb, name)
		}
	}
	return t, nil
}
