package query

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// hostileValues are rule names, host names, sources and container names
// an intruder or a careless rule author may choose, aimed at LogsQL:
// quotes and backslashes that would end a string, operators, pipes,
// comments, field filters, regular expressions, control characters and
// invalid UTF-8.
var hostileValues = []string{
	`"`, `\`, `\"`, `") OR _time:* OR ("`, `x" | delete | "`, `* | stats count() as n | "`,
	`'`, "`", `.*`, `(?i)a|b`, `$(id)`, "a\nb", "tab\there", "\x1b[31mred", `юникод ✓`,
	"bad\xffutf8", `# comment`, `AND`, `NOT`, `{{.V}}`, `_time:5m`, `a:=b`, `in(1,2)`,
	`\x41`, `%41`, " lead space", "\u202eRTL", `"*`, `) OR (`, `!~"."`,
}

// globLiteral returns a glob that matches s only.
func globLiteral(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("*?[", r) {
			b.WriteString("[" + string(r) + "]")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestFleetHostileFilterValues: hostile values as rule, host, source,
// container and grep filters are sent to a real VictoriaLogs without
// changing the LogsQL query. For each: VictoriaLogs accepts the query;
// what it returns is exactly the reports with that value (plus those whose
// journal field was escaped, which only the client can tell); and list
// shows the same as from the reports directory.
func TestFleetHostileFilterValues(t *testing.T) {
	rs, err := querytest.Reports(len(hostileValues)+9, end)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range hostileValues {
		r := &rs[i]
		r.Rule, r.Hostname, r.Source = v, v, v
		r.Fields = maps.Clone(r.Fields)
		name := v
		r.Fields["container.name"] = &name
	}
	fx := newFleetFixtureOf(t, rs)
	ctx := context.Background()
	all, err := fx.local.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(rs) {
		t.Fatalf("%d local reports, want %d", len(all), len(rs))
	}
	// The values as stored: the JSON report holds invalid UTF-8 as U+FFFD.
	for i := range hostileValues {
		e := all[slices.IndexFunc(all, func(e report.Entry) bool { return e.ID == rs[i].ID })]
		if e.Rule != strings.ToValidUTF8(hostileValues[i], "\uFFFD") {
			t.Fatalf("report %d: rule %q", i, e.Rule)
		}
		v := e.Rule
		// pushed is what VictoriaLogs must return for a filter on one of
		// the entry's own fields, given how to read that field.
		pushed := func(match func(string) bool, field func(report.Entry) string) []string {
			var ids []string
			for _, e := range all {
				if f := field(e); match(f) || strings.Contains(safe.Display(f, 0), `\`) {
					ids = append(ids, e.ID)
				}
			}
			return ids
		}
		glob := regexp.MustCompile(`(?is)\A` + regexp.QuoteMeta(v) + `\z`)
		for _, tt := range []struct {
			name   string
			f      Filter
			pushed []string // nil: not checked
		}{
			{"rule", Filter{Rule: globLiteral(v)}, pushed(glob.MatchString, func(e report.Entry) string { return e.Rule })},
			{"host", Filter{Host: globLiteral(v)}, pushed(glob.MatchString, func(e report.Entry) string { return e.Hostname })},
			{"source", Filter{Source: v}, pushed(func(s string) bool { return strings.EqualFold(s, v) }, func(e report.Entry) string { return e.Source })},
			{"container", Filter{Container: globLiteral(v)}, nil},
			{"grep", Filter{Grep: v}, nil},
			{"rule as a glob", Filter{Rule: v}, nil},
		} {
			t.Run(tt.name+" "+safe.Line(v), func(t *testing.T) {
				local, lerr := fx.local.List(ctx, tt.f)
				fleet, ferr := fx.fleet.List(ctx, tt.f)
				if (lerr != nil) != (ferr != nil) {
					t.Fatalf("local error %v, fleet error %v", lerr, ferr)
				}
				if lerr != nil {
					return // a glob both refuse, such as "[" without "]"
				}
				sameEntries(t, local, fleet)
				if tt.name != "rule as a glob" && !slices.ContainsFunc(local, func(e report.Entry) bool { return e.ID == rs[i].ID }) {
					t.Errorf("report %s with this value not listed: %v", rs[i].ID, local)
				}
				got, err := fx.fleet.query(ctx, tt.f, "", false)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range got {
					ids = append(ids, r.entry.ID)
				}
				slices.Sort(ids)
				if tt.pushed != nil {
					slices.Sort(tt.pushed)
					if !slices.Equal(ids, tt.pushed) {
						t.Errorf("VictoriaLogs returned %v, want %v", ids, tt.pushed)
					}
				}
			})
		}
		t.Run("show "+safe.Line(v), func(t *testing.T) {
			_, err := fx.fleet.Get(ctx, v, Filter{})
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("show %q: %v, want %v", v, err, ErrNotFound)
			}
		})
	}
}

// TestQuoteRoundTrips: quote's output is read back by the same functions
// LogsQL's lexer uses, whole and unchanged, even for values that are not
// valid UTF-8.
func TestQuoteRoundTrips(t *testing.T) {
	for _, v := range append(hostileValues, "", "\x00", "\xff\xfe", "\u2028", `"\"`) {
		q := quote(v) + ` OR x:*`
		prefix, err := strconv.QuotedPrefix(q)
		if err != nil || prefix != quote(v) {
			t.Errorf("%q: quoted prefix %q, %v", v, prefix, err)
			continue
		}
		if got, err := strconv.Unquote(prefix); err != nil || got != v {
			t.Errorf("%q: read back as %q, %v", v, got, err)
		}
	}
}
