package rules

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/falco-reporter/falco-reporter/internal/attack"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// MitreSpec names one ATT&CK technique in a playbook: its id and, for a
// technique that serves several tactics, the tactic meant here. In YAML it
// is either a string ("T1003.008") or a mapping
// ({id: T1053.003, tactic: Persistence}).
type MitreSpec struct {
	ID     string `yaml:"id"`
	Tactic string `yaml:"tactic"`
	line   int
}

// UnmarshalYAML accepts the string and the mapping form.
func (m *MitreSpec) UnmarshalYAML(n *yaml.Node) error {
	m.line = n.Line
	if n.Kind == yaml.ScalarNode {
		m.ID = n.Value
		return nil
	}
	type plain MitreSpec
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	m.ID, m.Tactic = p.ID, p.Tactic
	return nil
}

// resolveMITRE checks a playbook's curated techniques against the ATT&CK
// catalogue and returns the report's rows. A playbook without a mitre list
// returns nil: its report falls back to the rule's tags.
func resolveMITRE(s *PlaybookSpec) ([]report.Technique, error) {
	var out []report.Technique
	seen := map[string]bool{}
	for _, m := range s.MITRE {
		t, ok := attack.Lookup(m.ID)
		if !ok {
			return nil, s.errf(m.line, "mitre: %q is not an ATT&CK Enterprise %s technique", m.ID, attack.Version)
		}
		tactic := m.Tactic
		switch {
		case tactic == "" && len(t.Tactics) == 1:
			tactic = t.Tactics[0]
		case tactic == "":
			return nil, s.errf(m.line, "mitre: %s (%s) serves several tactics (%s); say which one with {id: %s, tactic: ...}",
				t.ID, t.Name, strings.Join(t.Tactics, ", "), t.ID)
		default:
			name, ok := attack.TacticByShortName(tactic)
			if !ok || !t.HasTactic(name) {
				return nil, s.errf(m.line, "mitre: %s (%s) does not belong to tactic %q; its tactics are %s",
					t.ID, t.Name, tactic, strings.Join(t.Tactics, ", "))
			}
			tactic = name
		}
		if seen[t.ID+tactic] {
			return nil, s.errf(m.line, "mitre: %s is listed twice", t.ID)
		}
		seen[t.ID+tactic] = true
		out = append(out, report.Technique{ID: t.ID, Name: t.Name, Tactic: tactic})
	}
	return out, nil
}

var techniqueTag = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// MITRE derives ATT&CK rows from a rule's tags, for rules whose playbook
// curates none (the generic handler, users' playbooks): one row per
// technique tag that ATT&CK knows, with the tactic the rule's mitre_* tags
// name when the technique serves it, else the technique's first tactic.
// Tags that name only a tactic, or an id ATT&CK does not know, make no row;
// they stay visible among Falco's own tags.
func MITRE(tags []string) []report.Technique {
	var ruleTactics []string
	for _, t := range tags {
		if strings.HasPrefix(t, "mitre_") {
			if name, ok := attack.TacticByShortName(t); ok {
				ruleTactics = append(ruleTactics, name)
			}
		}
	}
	out := []report.Technique{}
	for _, tag := range tags {
		if !techniqueTag.MatchString(tag) {
			continue
		}
		t, ok := attack.Lookup(tag)
		if !ok {
			continue
		}
		tactic := t.Tactics[0]
		for _, rt := range ruleTactics {
			if t.HasTactic(rt) {
				tactic = rt
				break
			}
		}
		out = append(out, report.Technique{ID: t.ID, Name: t.Name, Tactic: tactic})
	}
	return out
}

// mentionedTechniques finds ATT&CK ids written in prose.
var mentionedTechniques = regexp.MustCompile(`\bT[0-9]{4}(\.[0-9]{3})?\b`)

// checkMentions returns an error for an ATT&CK id in text that is not
// among rows: the prose and the table must not disagree.
func checkMentions(text string, rows []report.Technique) error {
	for _, id := range mentionedTechniques.FindAllString(text, -1) {
		found := false
		for _, r := range rows {
			if r.ID == id {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("the text names ATT&CK %s, which is not in the playbook's mitre list", id)
		}
	}
	return nil
}
