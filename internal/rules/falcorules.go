package rules

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// FalcoRule is what falco-reporter reads from a Falco rules file: enough
// to check coverage and lint playbooks against the rule.
type FalcoRule struct {
	Rule   string   `yaml:"rule"`
	Desc   string   `yaml:"desc"`
	Output string   `yaml:"output"`
	Tags   []string `yaml:"tags"`
	Source string   `yaml:"source"`
	// Append and Override mark an item that changes a rule defined
	// elsewhere rather than defining one.
	Append   bool           `yaml:"append"`
	Override map[string]any `yaml:"override"`
}

// ParseFalcoRules returns the rules defined in a Falco rules file (lists,
// macros and items that only modify a rule are skipped).
func ParseFalcoRules(data []byte) ([]FalcoRule, error) {
	var items []map[string]yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&items); err != nil {
		return nil, fmt.Errorf("parse Falco rules: %w", err)
	}
	var out []FalcoRule
	for _, it := range items {
		n, ok := it["rule"]
		if !ok {
			continue
		}
		var fr FalcoRule
		m := map[string]yaml.Node{}
		for k, v := range it {
			m[k] = v
		}
		fr.Rule = n.Value
		for k, dst := range map[string]any{"desc": &fr.Desc, "output": &fr.Output, "tags": &fr.Tags, "source": &fr.Source, "append": &fr.Append, "override": &fr.Override} {
			if v, ok := m[k]; ok {
				if err := v.Decode(dst); err != nil {
					return nil, fmt.Errorf("rule %q: %s: %w", fr.Rule, k, err)
				}
			}
		}
		if fr.Append || fr.Override != nil {
			continue
		}
		if fr.Source == "" {
			fr.Source = event.SourceSyscall
		}
		out = append(out, fr)
	}
	return out, nil
}

var outputField = regexp.MustCompile(`%([a-zA-Z0-9_]+(?:\.[a-zA-Z0-9_]+)+(?:\[[^\]\s]*\])?)`)

// OutputFields returns the fields a rule's output line prints, in order.
func (r FalcoRule) OutputFields() []string {
	var out []string
	for _, m := range outputField.FindAllStringSubmatch(r.Output, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// Lint checks a playbook against the rule it is for: the same fields,
// tags and description, every section present.
func Lint(pb *Playbook, r FalcoRule) []error {
	var errs []error
	s := pb.Spec
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: playbook %q: %s", s.file, s.Rule, fmt.Sprintf(format, args...)))
	}
	if want := r.OutputFields(); !sameSet(s.Fields, want) {
		bad("fields %v differ from the rule's output fields %v", s.Fields, want)
	}
	if !sameSet(s.Tags, r.Tags) {
		bad("tags %v differ from the rule's tags %v", s.Tags, r.Tags)
	}
	if norm(s.Desc) != norm(r.Desc) {
		bad("desc differs from the rule's desc")
	}
	if s.Source != r.Source {
		bad("source %q, rule's source %q", s.Source, r.Source)
	}
	return errs
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }
