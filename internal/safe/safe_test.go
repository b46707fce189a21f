package safe

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestDisplay(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain /etc/shadow", "plain /etc/shadow"},
		{"a\x1b[31mb", `a\x1b[31mb`},
		{"line1\nline2\r\t", `line1\nline2\r\t`},
		{"bidi\u202eoverride", `bidi\u202eoverride`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1\u0085", `c1\x85`},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"日本語", "日本語"},
		{"tag\U000E0041", `tag\U000e0041`},
		{"zwj\u200d", `zwj\u200d`},
	}
	for _, tt := range tests {
		if got := Display(tt.in, 0); got != tt.want {
			t.Errorf("Display(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := Display(strings.Repeat("a", 5000), 100)
	if !strings.Contains(long, "truncated: 100 of 5000 bytes shown") || len(long) > 200 {
		t.Errorf("cap: %q", long)
	}
}

// shells are the shells a report's command may meet: pasted into bash or
// zsh, or run by a machine with /bin/sh (dash on Debian, busybox sh in
// small images).
var shells = [][]string{{"bash", "-c"}, {"dash", "-c"}, {"zsh", "-c"}, {"busybox", "sh", "-c"}}

// TestShellWordRoundTrip checks with every real shell that each quoted
// word reads back as the original value and runs nothing.
func TestShellWordRoundTrip(t *testing.T) {
	values := []string{"/etc/shadow", "", "-rf", "=ls", "it's", `a"b$c`, "$(touch /tmp/pwned)", "`id`", "a b\tc",
		"x\ny", "\x1b[31m", "back\\slash", "bidi\u202e", "日本", "*?[]", "a'b\x01c",
		"/tmp/x\n';touch /tmp/p;#", "tag\U000E0041\U000E0042", "a[$(touch /tmp/p)]", "%s%n\\c\\0",
		"\u2028line\u2029", "\x7fdel\u0085c1", "~root", "{a,b}", "!!"}
	for _, sh := range shells {
		path, err := exec.LookPath(sh[0])
		if err != nil {
			if os.Getenv("FALCO_REPORTER_REQUIRE_SHELLS") != "" {
				t.Fatalf("%s is not installed", sh[0])
			}
			t.Logf("skipping %s: not installed", sh[0])
			continue
		}
		for _, v := range values {
			q, ok := ShellWord(v)
			if !ok {
				t.Fatalf("ShellWord(%q) refused a representable value", v)
			}
			if strings.ContainsFunc(q, NeedsEscape) {
				t.Errorf("ShellWord(%q) = %q holds a raw control character", v, q)
			}
			args := append(append([]string{}, sh[1:]...), "printf %s "+q)
			cmd := exec.Command(path, args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %q: %v", sh[0], q, err)
			}
			if string(out) != v {
				t.Errorf("%s: ShellWord(%q) = %s reads back as %q", sh[0], v, q, out)
			}
		}
	}
}

func TestShellWordRefuses(t *testing.T) {
	for _, v := range []string{"ends with a newline\n", "nul\x00inside", "\n"} {
		if q, ok := ShellWord(v); ok {
			t.Errorf("ShellWord(%q) = %s, want it refused", v, q)
		}
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Create Hardlink Over Sensitive Files", "create-hardlink-over-sensitive-files"},
		{"../../etc/passwd", "etc-passwd"},
		{"\x1b[31m;rm -rf /", "31m-rm-rf"},
		{"", "alert"},
		{"日本", "alert"},
	}
	for _, tt := range tests {
		if got := Slug(tt.in, 48); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if len(Slug(strings.Repeat("ab ", 100), 48)) > 48 {
		t.Error("slug longer than max")
	}
}
