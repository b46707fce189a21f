//go:build ignore

// gen writes enterprise-attack.tsv from a checkout of github.com/mitre/cti:
//
//	go run gen/main.go /path/to/cti > enterprise-attack.tsv
//
// It reads enterprise-attack/attack-pattern/*.json and
// enterprise-attack/x-mitre-tactic/*.json and keeps every technique that is
// neither revoked nor deprecated: its id, its full name (a sub-technique is
// named "Parent: Sub", as ATT&CK's own pages name it), its tactics in
// ATT&CK's kill-chain order and its platforms.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type object struct {
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	ShortName  string   `json:"x_mitre_shortname"`
	Revoked    bool     `json:"revoked"`
	Deprecated bool     `json:"x_mitre_deprecated"`
	Platforms  []string `json:"x_mitre_platforms"`
	Refs       []struct {
		Source string `json:"source_name"`
		ID     string `json:"external_id"`
	} `json:"external_references"`
	Phases []struct {
		Chain string `json:"kill_chain_name"`
		Phase string `json:"phase_name"`
	} `json:"kill_chain_phases"`
}

func (o object) attackID() string {
	for _, r := range o.Refs {
		if r.Source == "mitre-attack" {
			return r.ID
		}
	}
	return ""
}

func read(dir string) []object {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "gen: no files in %s\n", dir)
		os.Exit(1)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var bundle struct{ Objects []object }
		if err := json.Unmarshal(b, &bundle); err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s: %v\n", f, err)
			os.Exit(1)
		}
		out = append(out, bundle.Objects...)
	}
	return out
}

// order is ATT&CK Enterprise's tactic order.
var order = []string{"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
	"privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
	"collection", "command-and-control", "exfiltration", "impact"}

func main() {
	root := os.Args[1]
	tactic := map[string]string{}
	for _, t := range read(filepath.Join(root, "enterprise-attack/x-mitre-tactic")) {
		tactic[t.ShortName] = t.Name
	}
	rank := map[string]int{}
	for i, s := range order {
		rank[s] = i
	}
	names := map[string]string{}
	var rows []object
	for _, o := range read(filepath.Join(root, "enterprise-attack/attack-pattern")) {
		id := o.attackID()
		if o.Type != "attack-pattern" || o.Revoked || o.Deprecated || id == "" {
			continue
		}
		names[id] = o.Name
		rows = append(rows, o)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].attackID() < rows[j].attackID() })
	fmt.Println("# id\tname\ttactics\tplatforms")
	for _, o := range rows {
		id := o.attackID()
		name := o.Name
		if parent, _, ok := strings.Cut(id, "."); ok {
			name = names[parent] + ": " + o.Name
		}
		var phases []string
		for _, p := range o.Phases {
			if p.Chain == "mitre-attack" {
				phases = append(phases, p.Phase)
			}
		}
		sort.Slice(phases, func(i, j int) bool { return rank[phases[i]] < rank[phases[j]] })
		var tn []string
		for _, p := range phases {
			tn = append(tn, tactic[p])
		}
		fmt.Printf("%s\t%s\t%s\t%s\n", id, name, strings.Join(tn, ","), strings.Join(o.Platforms, ","))
	}
}
