package safe

import (
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

// TestShellQuoteRoundTrip checks with a real bash that each quoted word
// reads back as the original value.
func TestShellQuoteRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	values := []string{"/etc/shadow", "", "-rf", "it's", `a"b$c`, "$(reboot)", "`id`", "a b\tc", "x\ny", "\x1b[31m", "back\\slash", "bidi\u202e", "日本", "*?[]", "a'b\x01c"}
	for _, v := range values {
		q := ShellQuote(v)
		if strings.ContainsFunc(q, func(r rune) bool { return NeedsEscape(r) }) {
			t.Errorf("ShellQuote(%q) = %q holds a raw control character", v, q)
		}
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if string(out) != v {
			t.Errorf("ShellQuote(%q) = %s reads back as %q", v, q, out)
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
