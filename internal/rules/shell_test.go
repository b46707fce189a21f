package rules_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// Every command of every report, rendered from realistic and hostile
// alerts, is checked here:
//   - shellcheck finds nothing but the checks listed in shellcheckExcluded;
//   - run in bash and in dash with every program replaced by a stub that
//     records its arguments, it parses (no syntax error), each hostile
//     value arrives whole, as one
//     argument (or inside one), no program runs that the command does not
//     name, a value that looks like an option comes after "--" or as the
//     argument of an option, and no investigation command calls a program
//     that changes the system.

// shellcheckExcluded are the shellcheck checks that do not apply to the
// commands of a report, and why.
var shellcheckExcluded = map[string]string{
	"SC2009": "ps | grep is deliberate: it shows the whole process line an engineer reads",
	"SC2016": "single quotes around $ are deliberate: awk programs and crictl's Go templates",
	"SC2126": "grep | wc -l reads more plainly than grep -c to most engineers",
	"SC2010": "ls | grep on a directory listing is shown for reading, not parsed by a script",
	"SC1003": "a value that holds a backslash before a quote is quoted correctly; the note is a guess about hand-written quoting",
}

// TestCommandsPassShellcheck lints every distinct command of every variant
// with shellcheck as POSIX sh. (That each parses in bash and dash is checked
// by TestCommandsCannotBeInjected, which runs them all in both.)
func TestCommandsPassShellcheck(t *testing.T) {
	t.Parallel() // the three command checks overlap: one waits on the disk while another runs shells
	sc := need(t, "shellcheck")
	cmds := uniqueCommands(t)
	dir := t.TempDir()
	var files []string
	for i, c := range cmds {
		f := filepath.Join(dir, fmt.Sprintf("%05d.sh", i))
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"+c.cmd+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var excl []string
	for code := range shellcheckExcluded {
		excl = append(excl, code)
	}
	for len(files) > 0 {
		batch := files[:min(len(files), 500)]
		files = files[len(batch):]
		args := append([]string{"-s", "sh", "-f", "gcc", "-e", strings.Join(excl, ",")}, batch...)
		out, _ := exec.Command(sc, args...).CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" {
				continue
			}
			// "DIR/00042.sh:2:5: warning: ..." (the message itself may
			// hold slashes and colons).
			name, msg, _ := strings.Cut(strings.TrimPrefix(line, dir+"/"), ":")
			var n int
			if _, err := fmt.Sscanf(name, "%05d.sh", &n); err != nil || n >= len(cmds) {
				t.Errorf("shellcheck: %s", line)
				continue
			}
			t.Errorf("%s: shellcheck: %s\n%s", cmds[n].where, msg, cmds[n].cmd)
		}
	}
}

// uniqueCommands returns each distinct command once, from every variant.
func uniqueCommands(t *testing.T) []command {
	t.Helper()
	seen := map[string]bool{}
	var out []command
	for _, v := range allVariants(t) {
		for _, c := range commands(v) {
			if !seen[c.cmd] {
				seen[c.cmd] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// stubScript records its name and arguments, NUL-separated, in a file of
// its own under $STUB_LOG (named by its PID, unique while the command
// runs), then behaves just enough for the container
// prologue to find a process: grep -l names one /proc/PID/cgroup file,
// readlink prints a namespace that depends on its argument, and cut is the
// real cut.
const stubScript = `#!/bin/sh
printf '%s\0' "${0##*/}" "$@" > "$STUB_LOG/call.$$"
case "${0##*/}" in
grep) for a in "$@"; do case "$a" in -l*) echo /proc/4242/cgroup; exit 0;; esac; done; exit 1;;
readlink) for a in "$@"; do last=$a; done; echo "mnt:[$last]";;
cut) exec /usr/bin/cut "$@";;
esac
exit 0
`

// stubs creates a directory of stub programs, one per name.
func stubs(t *testing.T, names []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(stubScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// programs lists every program name a command calls, from its syntax tree,
// and reports whether the command refers to one by a name that is not a
// plain word (which the stub test could not follow).
func programs(cmd string) (names []string, err error) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		return nil, err
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			if lit := c.Args[0].Lit(); lit != "" {
				names = append(names, lit)
			} else {
				err = fmt.Errorf("a program is named by an expansion: %s", wordString(c.Args[0]))
			}
		}
		return true
	})
	return names, err
}

func wordString(w *syntax.Word) string {
	var b bytes.Buffer
	syntax.NewPrinter().Print(&b, w)
	return b.String()
}

// builtins are shell builtins (in bash and dash) that the stub test does
// not replace.
var builtins = map[string]bool{
	"echo": true, "printf": true, "test": true, "[": true, "read": true, "cd": true, "command": true,
	"true": true, "false": true, "set": true, "export": true, "local": true, "exit": true, "return": true,
	"break": true, "continue": true, "shift": true, "wait": true, "type": true, "umask": true, "trap": true,
	":": true, "unset": true, "eval": true, ".": true,
}

// mutating matches a program that changes the system whatever its
// arguments.
var mutating = regexp.MustCompile(`^(rm|rmdir|mv|cp|dd|tee|truncate|shred|ln|mkdir|touch|install|chmod|chown|chgrp|chattr|setfacl|setcap|kill|pkill|killall|reboot|shutdown|mount|umount|useradd|userdel|usermod|passwd|iptables|ip6tables|nft)$`)

// mutates reports whether a stub call changes the system: the program is
// one that writes, or one of its arguments (a whole argument, not a word
// inside a value) is a verb that changes something.
func mutates(args []string) bool {
	if mutating.MatchString(args[0]) {
		return true
	}
	verbs := mutatingVerbs[args[0]]
	for _, a := range args[1:] {
		if slices.Contains(verbs, a) {
			return true
		}
	}
	switch args[0] {
	case "sysctl":
		return slices.Contains(args, "-w")
	case "crontab":
		return slices.Contains(args, "-r") || slices.Contains(args, "-e")
	case "sed":
		return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-i") })
	case "aws":
		// aws SERVICE OPERATION [options]: only the operation says.
		var pos []string
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "-") {
				pos = append(pos, a)
			}
		}
		return len(pos) > 1 && awsWrite.MatchString(pos[1])
	case "curl":
		// -d and --data* send a POST, unless -G/--get turns them into a
		// query string.
		get := slices.Contains(args, "-G") || slices.Contains(args, "--get")
		return slices.ContainsFunc(args, func(a string) bool {
			return httpWrite.MatchString(a) || !get && (a == "-d" || strings.HasPrefix(a, "--data")) || a == "-F" || a == "--form" || a == "-T"
		})
	case "gh":
		// gh api sends POST as soon as a field is given (-f, -F), unless
		// the method is set to GET, which makes the fields a query.
		get := slices.Contains(args, "GET") || slices.Contains(args, "--method=GET") || slices.Contains(args, "-XGET")
		return slices.ContainsFunc(args, func(a string) bool {
			return httpWrite.MatchString(a) || !get && (a == "-f" || a == "-F" || a == "--field" || a == "--raw-field") || a == "--input"
		})
	}
	return false
}

var (
	awsWrite  = regexp.MustCompile(`^(delete|put|update|create|stop|start|disable|enable|attach|detach|remove|deactivate|modify|revoke|terminate|reset|set|tag|untag|restore|run|invoke)-`)
	httpWrite = regexp.MustCompile(`^(-X|--request|--method)?=?(POST|PUT|PATCH|DELETE)$`)
)

// mutatingVerbs are the subcommands and options that change something, by
// program.
var mutatingVerbs = map[string][]string{
	"systemctl": {"stop", "start", "restart", "disable", "enable", "mask", "kill", "reload"},
	"kubectl": {"delete", "apply", "patch", "edit", "scale", "cordon", "drain", "label", "annotate", "exec", "cp",
		"create", "replace", "set", "rollout", "taint", "--force"},
	"crictl": {"stop", "rm", "rmp", "stopp", "exec", "run", "runp", "create", "start"},
	"docker": {"stop", "rm", "kill", "exec", "run", "pause", "cp", "create", "start", "restart"},
	"podman": {"stop", "rm", "kill", "exec", "run", "pause", "cp", "create", "start", "restart"},
	"ctr":    {"rm", "kill", "exec", "run", "create", "start", "delete"},
	"gh":     {"delete", "create", "edit", "archive", "transfer", "close", "merge"},
	"gcloud": {"delete", "update", "create", "disable", "enable", "remove", "set-iam-policy", "add-iam-policy-binding",
		"remove-iam-policy-binding", "reset", "stop", "start", "patch", "deploy", "undelete", "revoke"},
}

// call is one recorded stub invocation.
type call struct{ args []string }

func (c call) String() string { return strings.Join(c.args, " ") }

// runStubbed runs cmd in shell sh with PATH holding only stubs, and
// returns the recorded calls.
func runStubbed(t *testing.T, sh, stubDir, cmd string) ([]call, string) {
	t.Helper()
	logDir := t.TempDir()
	c := exec.Command(sh, "-c", cmd)
	c.Env = []string{"PATH=" + stubDir, "STUB_LOG=" + logDir, "HOME=/nonexistent", "LC_ALL=C"}
	c.Dir = t.TempDir()
	out, _ := c.CombinedOutput()
	files, _ := filepath.Glob(filepath.Join(logDir, "call.*"))
	var calls []call
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, call{args: strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")})
	}
	return calls, string(out)
}

// optionArgs are options that take the next word as their argument, by
// program: a value starting with "-" is safe there.
var optionArgs = map[string][]string{
	"find":       {"-samefile", "-name", "-path", "-newer", "-lname", "-inum", "-wholename", "-iname", "-user", "-uid"},
	"grep":       {"-e", "-f"},
	"ps":         {"-p", "-t", "-u", "-U", "-C", "--pid", "--ppid"},
	"journalctl": {"-t", "-u", "--since", "--until", "--identifier", "--unit", "-g", "--grep"},
	"nsenter":    {"-t", "--target"},
	"pgrep":      {"-P", "-t", "-u", "-f"},
	"stat":       {"-c", "--format"},
	"date":       {"-d"},
	"ss":         {"-o"},
	"ssh-keygen": {"-f", "-F", "-l"},
	"crontab":    {"-u"},
	"conntrack":  {"-p", "-s", "-d"},
	"getent":     {},
	"sudo":       {"-u", "-l", "-U"},
	"ls":         {},
}

// checkCalls applies the stub test's rules to the calls of one command.
func checkCalls(t *testing.T, c command, v variant, calls []call, named []string) {
	t.Helper()
	for _, cl := range calls {
		if len(cl.args) == 0 {
			continue
		}
		prog := cl.args[0]
		if !slices.Contains(named, prog) {
			t.Errorf("%s: the command ran %q, which it does not name: a value was executed\n%s", c.where, cl, c.cmd)
		}
		if c.readOnly && mutates(cl.args) {
			t.Errorf("%s: investigation command changes the system: %s\n%s", c.where, cl, c.cmd)
		}
		dashdash := false
		for i, arg := range cl.args[1:] {
			if arg == "--" {
				dashdash = true
				continue
			}
			for f, val := range v.values {
				marker := markerOf(val)
				if marker == "" || !strings.Contains(arg, marker) {
					continue
				}
				if !strings.Contains(arg, val) && !strings.Contains(arg, path.Dir(val)) && !strings.Contains(arg, path.Base(val)) {
					t.Errorf("%s: the value of %s was split: argument %q of %s\n%s", c.where, f, arg, prog, c.cmd)
				}
				if (arg == val || arg == path.Base(val)) && strings.HasPrefix(arg, "-") && !dashdash {
					prev := cl.args[i] // the argument before this one
					if !slices.Contains(optionArgs[prog], prev) {
						t.Errorf("%s: the value of %s reaches %s as an option (%q) without a \"--\" before it\n%s", c.where, f, prog, arg, c.cmd)
					}
				}
			}
		}
	}
}

// syntaxError matches what bash and dash print for a command they cannot
// parse.
var syntaxError = regexp.MustCompile(`(?i)syntax error|unexpected (EOF|end of file)|unterminated|bad substitution`)

var markerRe = regexp.MustCompile(`pwn[0-9]+x[0-9]+z`)

func markerOf(val string) string { return markerRe.FindString(val) }

func TestCommandsCannotBeInjected(t *testing.T) {
	t.Parallel() // the three command checks overlap: one waits on the disk while another runs shells
	shells := []string{need(t, "bash"), need(t, "dash")}
	vs := allVariants(t)
	var names []string
	seen := map[string]bool{}
	type job struct {
		c     command
		v     variant
		named []string
	}
	var jobs []job
	done := map[string]bool{}
	for _, v := range vs {
		for _, c := range commands(v) {
			if done[c.cmd] {
				continue // the same command from another variant: the same values
			}
			done[c.cmd] = true
			named, err := programs(c.cmd)
			if err != nil {
				t.Errorf("%s: %v\n%s", c.where, err, c.cmd)
				continue
			}
			for _, n := range named {
				if !seen[n] && !builtins[n] && !strings.Contains(n, "/") && !strings.Contains(n, "=") {
					seen[n] = true
					names = append(names, n)
				}
			}
			jobs = append(jobs, job{c, v, named})
		}
	}
	// Programs a payload would call, so that their calls are recorded.
	for _, n := range []string{"touch", "id", "sh", "bash"} {
		if !seen[n] {
			names = append(names, n)
		}
	}
	stubDir := stubs(t, append(names, "cut"))
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan job)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				for _, sh := range shells {
					calls, out := runStubbed(t, sh, stubDir, j.c.cmd)
					mu.Lock()
					checkCalls(t, j.c, j.v, calls, j.named)
					if syntaxError.MatchString(out) {
						t.Errorf("%s: %s: %s\n%s", j.c.where, filepath.Base(sh), out, j.c.cmd)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	t.Logf("%d commands run under %d shells with stubs for %d programs", len(jobs), len(shells), len(names))
}

func TestMutates(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"rm", "-f", "x"}, true},
		{[]string{"kubectl", "get", "pod", "--as=/srv/app run x"}, false},
		{[]string{"kubectl", "delete", "pod", "x"}, true},
		{[]string{"gh", "api", "repos/o/r"}, false},
		{[]string{"gh", "api", "-X", "DELETE", "repos/o/r/hooks/1"}, true},
		{[]string{"gh", "api", "repos/o/r/hooks", "-f", "x=y"}, true},
		{[]string{"gh", "api", "--method", "GET", "orgs/o/audit-log", "-f", "phrase=x"}, false},
		{[]string{"aws", "iam", "list-access-keys", "--user-name", "delete-me"}, false},
		{[]string{"aws", "iam", "delete-access-key"}, true},
		{[]string{"gcloud", "logging", "read", "x"}, false},
		{[]string{"gcloud", "iam", "service-accounts", "keys", "disable", "k"}, true},
		{[]string{"curl", "-sS", "https://x/api/v1/logs"}, false},
		{[]string{"curl", "-X", "POST", "https://x"}, true},
		{[]string{"curl", "-G", "--data-urlencode", "filter=x", "https://x"}, false},
		{[]string{"curl", "--data-urlencode", "filter=x", "https://x"}, true},
		{[]string{"sysctl", "fs.protected_hardlinks"}, false},
	} {
		if got := mutates(tt.args); got != tt.want {
			t.Errorf("mutates(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
