// Command falco-reporter turns Falco alerts into incident reports.
//
//	falco-reporter run --config FILE         the daemon
//	falco-reporter demo [--dir DIR]          a self-contained demo, no Falco needed
//	falco-reporter list [FILTERS] [--json] [--limit N]
//	falco-reporter show ID|PATH [--format markdown|json]
//	falco-reporter list|show|follow|summary --fleet URL ...   every host's reports, from VictoriaLogs
//	falco-reporter follow [FILTERS] [--json]
//	falco-reporter summary [--since 24h] [FILTERS] [--json]
//	falco-reporter render [--format F] [FILE|-]
//	falco-reporter ingest --config FILE [FILE|-]
//	falco-reporter check-config --config FILE [--as-service [--user NAME]]
//	falco-reporter rules [--falco-rules FILE...]
//	falco-reporter bench [--binary FILE] [--dir DIR]
//	falco-reporter version
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

const usage = `usage: falco-reporter COMMAND [FLAGS]

commands:
  run           run the daemon (--config FILE)
  demo          replay built-in alerts through a fake Falco and write reports (--dir DIR)
  list          list reports, newest first (--since 1h --priority warning --rule GLOB --host H
                --container ID --exe PATH --source S --grep TEXT --json --limit N; --dir DIR or --config FILE,
                or --fleet URL: every host's reports from a VictoriaLogs, see docs/fleet.md)
  show          print one report by id, id prefix or path (--format markdown|json; --fleet URL [--host H])
  follow        print a line per report as it is written or updated (the same filters as list)
  summary       counts, top incidents, storms and a chart per hour (--since 24h and the filters of list)
  render        print the report for one Falco JSON alert ([--format markdown|json] [FILE|-])
  ingest        report every JSON alert of a file or stdin, then exit (--config FILE [FILE|-])
  check-config  validate a configuration file (--config FILE); with --as-service, also check as
                the service's user that every path it names can be used (run as root)
  rules         print the handler table; with --falco-rules FILE..., list rules without a playbook
  bench         measure the daemon against its references and print the table (see README)
  version       print the version
`

// run dispatches a sub-command and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "list":
		return cmdList(rest, stdout, stderr)
	case "show":
		return cmdShow(rest, stdout, stderr)
	case "follow":
		return cmdFollow(rest, stdout, stderr)
	case "summary":
		return cmdSummary(rest, stdout, stderr)
	case "render":
		return cmdRender(rest, stdin, stdout, stderr)
	case "ingest":
		return cmdIngest(rest, stdin, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(rest, stdout, stderr)
	case "rules":
		return cmdRules(rest, stdout, stderr)
	case "bench":
		return cmdBench(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "falco-reporter", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "falco-reporter: unknown command %q\n\n%s", cmd, usage)
	return 2
}
