package rules_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// usageError matches what a program prints when a command is written
// wrong, as opposed to an object that no longer exists or a tool that is
// not installed.
var usageError = regexp.MustCompile(`(?i)usage:|invalid option|unrecognized option|illegal option|unknown option|` +
	`option requires an argument|requires an argument|must follow|syntax error|missing operand|missing argument|` +
	`unexpected|try '[^']*--help'|invalid (argument|number|process id|pid|field|format)|not a valid|bad (option|argument|pattern)|` +
	`extra operand|too many arguments|no such option`)

// TestHostCommandsRunForReal runs every investigation command of every
// report for an alert on the host, filled in with the sample's realistic
// values, in bash on this machine (Debian, with the tools .ci/run
// installs). A command may fail because a tool is not installed (rpm,
// crictl, kubectl on Debian) or the object is gone (the process exited, the
// file was deleted), but never with a usage or syntax error.
//
// It runs only when FALCO_REPORTER_RUN_COMMANDS is set (.ci/run sets it):
// the commands read the machine's files and processes.
func TestHostCommandsRunForReal(t *testing.T) {
	t.Parallel() // the three command checks overlap: one waits on the disk while another runs shells
	if os.Getenv("FALCO_REPORTER_RUN_COMMANDS") == "" {
		t.Skip("set FALCO_REPORTER_RUN_COMMANDS=1 to run every host investigation command on this machine")
	}
	bash := need(t, "bash")
	var cmds []command
	seen := map[string]bool{}
	for _, v := range allVariants(t) {
		if v.name != "host" {
			continue
		}
		for _, c := range commands(v) {
			if c.investigate && !seen[c.cmd] {
				seen[c.cmd] = true
				cmds = append(cmds, c)
			}
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var timedOut, failed int
	work := make(chan command)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				cmd := exec.CommandContext(ctx, bash, "-c", c.cmd)
				cmd.Env = append(os.Environ(), "LC_ALL=C", "PAGER=cat", "SYSTEMD_PAGER=cat")
				cmd.Stdin = nil
				cmd.WaitDelay = 2 * time.Second
				out, err := cmd.CombinedOutput()
				expired := ctx.Err() == context.DeadlineExceeded
				cancel()
				mu.Lock()
				switch {
				case expired:
					timedOut++
					t.Logf("%s: timed out after 20 s: %s", c.where, clip(c.cmd))
				case err != nil:
					failed++
				}
				if m := usageError.FindString(string(out)); m != "" {
					t.Errorf("%s: %q in the output: the command is written wrong\n%s\n--- output:\n%s", c.where, m, c.cmd, clip(string(out)))
				}
				mu.Unlock()
			}
		}()
	}
	for _, c := range cmds {
		work <- c
	}
	close(work)
	wg.Wait()
	t.Logf("%d host investigation commands run: %d failed as they may (tool absent, object gone), %d timed out after 20 s", len(cmds), failed, timedOut)
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return strings.TrimSpace(s)
}
