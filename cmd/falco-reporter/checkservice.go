package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/pathcheck"
	"github.com/falco-reporter/falco-reporter/internal/runas"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// serviceUser is the unit's User=.
const serviceUser = "falco-reporter"

// checkAsService checks every path of cfg as the service's user: as root
// it becomes that user for good first (the command ends after the check).
// It prints each path the service cannot use, with the repair, and what
// the unit's sandbox does to paths a check outside it cannot see.
func checkAsService(cfg *config.Config, path, name string, stdout, stderr io.Writer) int {
	u, err := runas.Lookup(name)
	if err != nil {
		fmt.Fprintf(stderr, "falco-reporter: the service's user: %v (is the package installed? --user NAME names another)\n", err)
		return 1
	}
	switch euid := os.Geteuid(); {
	case euid == u.UID:
	case euid == 0:
		if err := runas.Switch(u); err != nil {
			fmt.Fprintln(stderr, "falco-reporter:", err)
			return 1
		}
	default:
		fmt.Fprintf(stderr, "falco-reporter: --as-service checks as %s: run it as root (sudo) or as %s\n", u.Name, u.Name)
		return 1
	}
	fmt.Fprintf(stdout, "checking as %s, the service's user\n", u)
	bad, quiet := 0, 0
	top := func(r pathcheck.Result) bool {
		return r.Root == "" || r.Path == filepath.Clean(cfg.StateDir) || r.Path == filepath.Clean(cfg.Reports.Dir)
	}
	for _, r := range pathcheck.Check(pathcheck.Service(cfg, path)) {
		switch {
		case !r.OK():
			bad++
			fmt.Fprintf(stdout, "FAIL  %s\n", safe.Line(r.Line()))
			if r.Fix != "" {
				fmt.Fprintf(stdout, "      repair: %s\n", safe.Line(r.Fix))
			}
		case !top(r):
			quiet++ // the state tree's contents: counted, not listed
		default:
			fmt.Fprintf(stdout, "ok    %s\n", safe.Line(r.Line()))
		}
		if note := pathcheck.SandboxNote(r.Item); note != "" && top(r) {
			fmt.Fprintf(stdout, "note  %s: %s\n", safe.Line(r.Path), safe.Line(note))
		}
	}
	if quiet > 0 {
		fmt.Fprintf(stdout, "ok    %d more files and directories in the state tree\n", quiet)
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "%s: %d paths the service (%s) cannot use\n", safe.Line(path), bad, u.Name)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK, every path usable by %s\n", safe.Line(path), u.Name)
	return 0
}
