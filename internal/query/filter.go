package query

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// Filter selects reports. Zero fields select everything.
type Filter struct {
	// Since and Until bound the time: a report is selected when its
	// incident (first_seen to last_seen) overlaps [Since, Until].
	Since, Until time.Time
	// Priority selects that priority or worse; nil: any.
	Priority *event.Priority
	// Rule and Host are globs (*, ?, [...]), matched regardless of case.
	Rule, Host string
	// Container is a container id (a prefix of at least 4 characters, or
	// the full 64-character id), a container name glob, or "host".
	Container string
	// Exe is a glob matched against the executable (proc.exepath, or
	// proc.exe when the alert has no exepath).
	Exe string
	// Source is an event source (syscall, k8s_audit, ...), any case.
	Source string
	// Grep is text searched, regardless of case, in the report's facts,
	// its title and the alert's fields.
	Grep string
	// Limit keeps the newest Limit reports; 0: all.
	Limit int
}

// matcher is a compiled Filter.
type matcher struct {
	f               Filter
	rule, host, exe *regexp.Regexp
	container       *regexp.Regexp
	grep            []byte
}

func compile(f Filter) (*matcher, error) {
	m := &matcher{f: f, grep: []byte(strings.ToLower(f.Grep))}
	var err error
	for _, g := range []struct {
		dst  **regexp.Regexp
		glob string
		name string
	}{{&m.rule, f.Rule, "--rule"}, {&m.host, f.Host, "--host"}, {&m.exe, f.Exe, "--exe"}, {&m.container, f.Container, "--container"}} {
		if g.glob == "" {
			continue
		}
		if *g.dst, err = Glob(g.glob); err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, fmt.Errorf("--until %s is before --since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	return m, nil
}

// match reports whether r passes every filter but Limit.
func (m *matcher) match(r *record) bool {
	f, e := &m.f, &r.entry
	switch {
	case !f.Since.IsZero() && e.LastSeen.Before(f.Since),
		!f.Until.IsZero() && e.FirstSeen.After(f.Until),
		f.Priority != nil && (!r.prioOK || r.prio > *f.Priority),
		f.Source != "" && !strings.EqualFold(e.Source, f.Source),
		m.rule != nil && !m.rule.MatchString(e.Rule),
		m.host != nil && !m.host.MatchString(e.Hostname),
		m.container != nil && !m.matchContainer(r),
		len(m.grep) > 0 && !r.grepHit:
		return false
	}
	if m.exe != nil {
		exe := r.exe[0]
		if exe == "" {
			exe = r.exe[1]
		}
		return m.exe.MatchString(exe)
	}
	return true
}

// matchContainer matches --container against the container's id (short
// or full, by prefix) or its name.
func (m *matcher) matchContainer(r *record) bool {
	want := strings.ToLower(m.f.Container)
	id, full := strings.ToLower(r.entry.ContainerID), strings.ToLower(r.containerFull)
	if id != "" && (id == want || len(want) >= 4 && (strings.HasPrefix(id, want) || strings.HasPrefix(full, want)) ||
		len(id) >= 12 && strings.HasPrefix(want, id)) {
		return true
	}
	return r.containerName != "" && m.container.MatchString(r.containerName)
}

// Glob compiles a shell-style pattern (* any text, ? one character, [abc]
// one of a set) into an anchored, case-insensitive regular expression. A
// pattern without these characters matches exactly that text.
func Glob(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?is)\A`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			end := strings.IndexByte(pattern[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("glob %q: [ without ]", pattern)
			}
			set := pattern[i+1 : i+1+end]
			if strings.HasPrefix(set, "!") {
				set = "^" + set[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(set, `\`, `\\`) + "]")
			i += end + 1
		default:
			// A whole character: string(c) of one byte of a multi-byte
			// character would be another character. An invalid byte
			// stands for U+FFFD, as it does in the JSON reports.
			r, size := utf8.DecodeRuneInString(pattern[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += size - 1
		}
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	return re, nil
}

// ParseTime reads a time given as RFC 3339 (2026-04-02T10:00:00Z), a date
// (2026-04-02, midnight UTC) or a duration before now (90m, 1h, 7d).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither a duration (1h, 30m, 7d) nor an RFC 3339 time (2026-04-02T10:00:00Z)", s)
	}
	return now.Add(-d), nil
}
