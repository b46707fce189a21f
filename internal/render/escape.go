package render

import (
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// mdEscaper backslash-escapes every ASCII punctuation character that
// Markdown or HTML could read as structure. CommonMark allows a backslash
// before any ASCII punctuation, so over-escaping is harmless.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `{`, `\{`, `}`, `\}`,
	`[`, `\[`, `]`, `\]`, `<`, `\<`, `>`, `\>`, `(`, `\(`, `)`, `\)`,
	`#`, `\#`, `+`, `\+`, `-`, `\-`, `.`, `\.`, `!`, `\!`, `|`, `\|`,
	`~`, `\~`, `&`, `\&`, `=`, `\=`, `:`, `\:`, `"`, `\"`, `'`, `\'`,
	"\n", " ", "\r", " ",
)

// text returns prose safe to place in Markdown: control characters
// escaped, Markdown and HTML punctuation backslash-escaped.
func text(s string) string {
	return mdEscaper.Replace(safe.Display(s, 0))
}

// prose is text without escaping '.', ',', ':' and the like that never
// start structure in the middle of a line. It is used for trusted prose
// from playbooks, which still must not carry HTML.
func prose(s string) string {
	lead, trail := "", ""
	if s != strings.TrimLeftFunc(s, unicode.IsSpace) {
		lead = " "
	}
	if s != strings.TrimRightFunc(s, unicode.IsSpace) {
		trail = " "
	}
	s = lead + strings.Join(strings.Fields(s), " ") + trail
	return proseEscaper.Replace(safe.Display(s, 0))
}

var proseEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `&`, `\&`,
)

// code returns s as an inline code span that nothing inside can close: the
// fence is one backtick longer than the longest run of backticks in s.
// For table cells, pipes are escaped too (GFM splits cells on them even
// inside code spans).
func code(s string, inTable bool) string {
	s = safe.Display(s, safe.MaxValue)
	if inTable {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// fenced returns a fenced code block holding s, with a fence longer than
// any run of backticks in s. s must already be free of raw control
// characters; invisible formatting characters are escaped here.
func fenced(lang, s, indent string) string {
	s = escapeInvisible(strings.TrimRight(s, "\n"))
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	var b strings.Builder
	b.WriteString(indent + fence + lang + "\n")
	for _, line := range strings.Split(s, "\n") {
		b.WriteString(indent + line + "\n")
	}
	b.WriteString(indent + fence + "\n")
	return b.String()
}

// escapeInvisible escapes control and invisible formatting characters but
// keeps newlines, for multi-line blocks.
func escapeInvisible(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r != '\n' && safe.NeedsEscape(r) }) < 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = safe.Display(l, 0)
	}
	return strings.Join(lines, "\n")
}

func longestRun(s string, c rune) int {
	best, cur := 0, 0
	for _, r := range s {
		if r == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// jsonInvisible escapes, in encoded JSON, the invisible formatting
// characters (bidi overrides, zero-width) that encoding/json leaves raw,
// so that a report shown in a terminal cannot be visually reordered.
func jsonInvisible(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return b
	}
	s := string(b)
	if strings.IndexFunc(s, isInvisible) < 0 {
		return b
	}
	var out strings.Builder
	for _, r := range s {
		if !isInvisible(r) {
			out.WriteRune(r)
			continue
		}
		// JSON's \u takes four hex digits: a code point above U+FFFF
		// is written as its UTF-16 surrogate pair, as RFC 8259 says.
		if r > 0xffff {
			hi, lo := utf16.EncodeRune(r)
			out.WriteString(`\u` + hex4(hi) + `\u` + hex4(lo))
			continue
		}
		out.WriteString(`\u` + hex4(r))
	}
	return []byte(out.String())
}

func isInvisible(r rune) bool {
	return r == 0x7f || r >= 0x80 && (unicode.Is(unicode.Cf, r) || safe.NeedsEscape(r))
}

func hex4(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf]})
}
