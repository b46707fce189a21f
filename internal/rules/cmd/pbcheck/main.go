// Command pbcheck validates a playbook file against Falco's rules files in
// testdata and prints the Markdown report for each sample alert, so that a
// playbook author can read what the on-call engineer will read.
//
//	go run ./internal/rules/cmd/pbcheck PLAYBOOKS.yaml [ALERTS.jsonl]
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pbcheck PLAYBOOKS.yaml [ALERTS.jsonl]")
		return 2
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pbs, err := rules.LoadPlaybooks(os.Args[1], data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	known := map[string]rules.FalcoRule{}
	files, _ := filepath.Glob("internal/rules/testdata/falco-rules/*.yaml")
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		frs, err := rules.ParseFalcoRules(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, f, err)
			return 1
		}
		for _, fr := range frs {
			known[fr.Rule] = fr
		}
	}
	failed := 0
	t := rules.NewTable(rules.Generic)
	for _, pb := range pbs {
		t.AddPlaybook(pb, os.Args[1])
		fr, ok := known[pb.Spec.Rule]
		if !ok {
			fmt.Printf("LINT %s: not a rule of the testdata rules files\n", pb.Spec.Rule)
			failed++
			continue
		}
		for _, e := range rules.Lint(pb, fr) {
			fmt.Println("LINT", e)
			failed++
		}
	}
	fmt.Printf("%d playbooks loaded, %d lint problems\n", len(pbs), failed)
	if len(os.Args) > 2 {
		f, err := os.Open(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			a, err := event.ParseJSON(sc.Bytes())
			if err != nil {
				fmt.Printf("ALERT line %d: %v\n", n, err)
				failed++
				continue
			}
			if _, ok := t.Lookup(a.Source, a.Rule); !ok {
				fmt.Printf("ALERT line %d: no playbook in this file for %q (source %q)\n", n, a.Rule, a.Source)
				failed++
			}
			r, err := t.Build(&a)
			if err != nil {
				fmt.Printf("ALERT line %d: %v\n", n, err)
				failed++
			}
			r.ID = "example"
			fmt.Printf("\n==================== line %d: %s\n", n, a.Rule)
			os.Stdout.Write(render.Markdown(&r))
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}
