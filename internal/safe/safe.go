// Package safe makes attacker-controlled strings harmless wherever they are
// shown: in reports, file names, terminals and the journal.
//
// Every string from an alert (command lines, file names, container names,
// even rule names) can carry control characters, terminal escapes, bidi
// overrides, Markdown or HTML, or megabytes of text.
package safe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxValue is the default cap, in bytes, for a value shown in a report.
const MaxValue = 2048

// Display returns s with every control or invisible formatting character
// escaped (\n, \t, \x1b, \u202e, ...) and, if it is longer than max bytes,
// cut with a visible marker. Invalid UTF-8 becomes U+FFFD. The result
// contains no byte below 0x20, no DEL and no C1 control.
func Display(s string, max int) string {
	if (max <= 0 || len(s) <= max) && printableASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max) + 16)
	for i, r := range s {
		if max > 0 && b.Len() >= max {
			fmt.Fprintf(&b, "…[truncated: %d of %d bytes shown]", i, len(s))
			break
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				b.WriteRune(utf8.RuneError)
				continue
			}
		}
		writeEscaped(&b, r)
	}
	return b.String()
}

// printableASCII reports whether s has only bytes 0x20 to 0x7e, the
// common case that needs no escaping.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// Line is Display with the default cap, for one-line contexts.
func Line(s string) string { return Display(s, MaxValue) }

// NeedsEscape reports whether r would be escaped by Display.
func NeedsEscape(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
		unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

func writeEscaped(b *strings.Builder, r rune) {
	if !NeedsEscape(r) {
		b.WriteRune(r)
		return
	}
	switch {
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case r < 0x100:
		fmt.Fprintf(b, `\x%02x`, r)
	case r <= 0xffff:
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		// \u takes exactly four digits; a code point above U+FFFF
		// (tag characters U+E0000 and up) written as \u%04x would read
		// back as a different, visible character.
		fmt.Fprintf(b, `\U%08x`, r)
	}
}

// ShellQuote returns s as one shell word that bash, dash, busybox sh and
// zsh all read back as s; for a value ShellWord cannot write (see there)
// it returns an empty quoted word. Callers that can leave a command out should use ShellWord.
func ShellQuote(s string) string {
	w, _ := ShellWord(s)
	return w
}

// ShellWord returns s as one shell word that every POSIX shell (and bash and
// zsh) reads back as exactly s, whether the command is pasted into a
// terminal or run with /bin/sh -c:
//
//   - words of only safe characters are left bare;
//   - printable text is single-quoted; a single quote inside is written
//     as close-quote, backslash-quote, reopen;
//   - text with control or invisible characters becomes
//     "$(printf '%b' '...')", every such character written as \0ooo octal
//     bytes, so that no raw control byte reaches a terminal and the reader
//     sees where the characters are. ($'...' is not POSIX: dash reads it as
//     a $ followed by a quoted string.)
//
// ok is false for a value no shell word can carry: one with a NUL byte, or
// one that ends in a line break (command substitution drops trailing line
// breaks). The returned word is then an empty quoted word. A bare word
// never starts with "=" (zsh expands =cmd to a path) or "-".
func ShellWord(s string) (word string, ok bool) {
	if s == "" {
		return "''", true
	}
	plain, printable := true, true
	for _, r := range s {
		if NeedsEscape(r) {
			printable = false
		}
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:,@%+=", r)) {
			plain = false
		}
	}
	switch {
	case plain && s[0] != '-' && s[0] != '=':
		return s, true
	case printable:
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", true
	case strings.ContainsRune(s, 0) || strings.HasSuffix(s, "\n"):
		return "''", false
	}
	var b strings.Builder
	b.WriteString(`"$(printf '%b' '`)
	var buf [utf8.UTFMax]byte
	for _, r := range s {
		if r == '\'' || r == '\\' || NeedsEscape(r) {
			n := utf8.EncodeRune(buf[:], r)
			for _, c := range buf[:n] {
				fmt.Fprintf(&b, `\0%03o`, c)
			}
			continue
		}
		b.WriteRune(r)
	}
	b.WriteString(`')"`)
	return b.String(), true
}

// Slug returns a file-name-safe form of s: lower-case ASCII letters, digits
// and single dashes, at most max bytes, never empty.
func Slug(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if b.Len() >= max {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "alert"
	}
	return out
}

// Cap returns s cut to at most max bytes on a rune boundary, with a
// visible marker when it was cut. Nothing is escaped.
func Cap(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[truncated: %d of %d bytes shown]", cut, len(s))
}
