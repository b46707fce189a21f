// Package attack is a catalogue of MITRE ATT&CK Enterprise techniques: ids,
// names, tactics and platforms, vendored from MITRE's own data (see
// SOURCE.txt). Playbooks name techniques by id; this package says whether an
// id exists and what it is called, so that no report shows a made-up or
// misnamed technique.
package attack

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

//go:embed enterprise-attack.tsv
var tsv string

// Version is the ATT&CK release the catalogue was taken from.
const Version = "v18.1"

// Technique is one ATT&CK technique or sub-technique.
type Technique struct {
	ID        string   // T1003.008
	Name      string   // OS Credential Dumping: /etc/passwd and /etc/shadow
	Tactics   []string // tactic names, in ATT&CK's order
	Platforms []string // Linux, Containers, IaaS, SaaS, Identity Provider, ...
}

// Tactics maps ATT&CK Enterprise tactic names to their ids.
var Tactics = map[string]string{
	"Reconnaissance":       "TA0043",
	"Resource Development": "TA0042",
	"Initial Access":       "TA0001",
	"Execution":            "TA0002",
	"Persistence":          "TA0003",
	"Privilege Escalation": "TA0004",
	"Defense Evasion":      "TA0005",
	"Credential Access":    "TA0006",
	"Discovery":            "TA0007",
	"Lateral Movement":     "TA0008",
	"Collection":           "TA0009",
	"Command and Control":  "TA0011",
	"Exfiltration":         "TA0010",
	"Impact":               "TA0040",
}

var catalogue = func() map[string]Technique {
	m := map[string]Technique{}
	for _, line := range strings.Split(tsv, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			panic(fmt.Sprintf("attack: bad catalogue line %q", line))
		}
		m[f[0]] = Technique{ID: f[0], Name: f[1], Tactics: strings.Split(f[2], ","), Platforms: strings.Split(f[3], ",")}
	}
	return m
}()

// Lookup returns the technique with the given id.
func Lookup(id string) (Technique, bool) {
	t, ok := catalogue[id]
	return t, ok
}

// HasTactic reports whether t belongs to the named tactic.
func (t Technique) HasTactic(tactic string) bool { return slices.Contains(t.Tactics, tactic) }

// TacticByShortName maps the spellings used in Falco tags and playbooks
// ("credential_access", "credential-access", "Credential Access") to the
// tactic's name.
func TacticByShortName(s string) (string, bool) {
	norm := strings.NewReplacer("_", " ", "-", " ").Replace(strings.ToLower(strings.TrimPrefix(s, "mitre_")))
	for name := range Tactics {
		if strings.ToLower(name) == norm {
			return name, true
		}
	}
	return "", false
}
