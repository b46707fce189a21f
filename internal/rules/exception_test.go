package rules_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// A model of what Falco's rule loader does with an exception, from its
// source (userspace/engine/rule_loader_compiler.cpp, rule_loader_collector.cpp
// and libsinsp's filter parser):
//
//   - build_rule_exception_infos writes "(f1 = v1 and f2 = v2)", each value
//     passed through quote_item: a value holding a space, not starting with
//     a quote, is wrapped in double quotes; nothing inside is escaped.
//   - resolve_list then replaces every list name bounded by blanks or any
//     of "(),=" with the list's items, before parsing.
//   - The parser reads a value as a quoted string (up to the same quote not
//     preceded by a backslash, then unescaped) or a bare string
//     ([^()"'[:space:]=,]+).
//   - Appending to a rule: an exception whose name is new must carry fields
//     and values; one whose name exists may carry only values.

// falcoQuote is Falco's quote_item.
func falcoQuote(v string) string {
	if strings.Contains(v, " ") && v[0] != '"' && v[0] != '\'' {
		return `"` + v + `"`
	}
	return v
}

// falcoResolveLists is Falco's resolve_list for every list name.
func falcoResolveLists(cond string, lists []string) string {
	const delims = " \t\n\r(),="
	for _, l := range lists {
		for start := strings.Index(cond, l); start >= 0; {
			end := start + len(l)
			if (start == 0 || strings.ContainsRune(delims, rune(cond[start-1]))) && (end >= len(cond) || strings.ContainsRune(delims, rune(cond[end]))) {
				cond = cond[:start] + "LIST(" + l + ")" + cond[end:]
				end = start + len("LIST(") + len(l) + 1
			}
			next := strings.Index(cond[end:], l)
			if next < 0 {
				break
			}
			start = end + next
		}
	}
	return cond
}

var (
	fieldRe  = regexp.MustCompile(`^[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+(\[[^\]"'\s]+\])?`)
	bareRe   = regexp.MustCompile(`^[^()"'\s=,]+`)
	blankRe  = regexp.MustCompile(`^[ \t\r\n\x08]*`)
	errFalco = errors.New("Falco cannot parse the condition")
)

// falcoParseTuple parses "(f1 = v1 and f2 = v2)" as libsinsp's parser
// does and returns the values it reads.
func falcoParseTuple(cond string) ([]string, error) {
	s := cond
	eat := func(tok string) bool {
		s = s[len(blankRe.FindString(s)):]
		if strings.HasPrefix(s, tok) {
			s = s[len(tok):]
			return true
		}
		return false
	}
	if !eat("(") {
		return nil, errFalco
	}
	var values []string
	for {
		s = s[len(blankRe.FindString(s)):]
		f := fieldRe.FindString(s)
		if f == "" {
			return nil, fmt.Errorf("%w: expected a field at %q", errFalco, s)
		}
		s = s[len(f):]
		if !eat("=") {
			return nil, fmt.Errorf("%w: expected = at %q", errFalco, s)
		}
		s = s[len(blankRe.FindString(s)):]
		var v string
		switch {
		case s != "" && (s[0] == '"' || s[0] == '\''):
			q := s[0]
			i := 1
			for ; i < len(s) && !(s[i] == q && s[i-1] != '\\'); i++ {
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%w: unterminated string", errFalco)
			}
			var err error
			if v, err = falcoUnescape(s[1:i]); err != nil {
				return nil, err
			}
			s = s[i+1:]
		default:
			v = bareRe.FindString(s)
			if v == "" {
				return nil, fmt.Errorf("%w: expected a value at %q", errFalco, s)
			}
			s = s[len(v):]
		}
		values = append(values, v)
		if eat(")") {
			if strings.TrimSpace(s) != "" {
				return nil, fmt.Errorf("%w: trailing %q", errFalco, s)
			}
			return values, nil
		}
		if !eat("and ") {
			return nil, fmt.Errorf("%w: expected 'and' at %q", errFalco, s)
		}
	}
}

// falcoUnescape is libsinsp's unescape_str for the inside of a quoted
// string.
func falcoUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", fmt.Errorf("%w: trailing backslash", errFalco)
		}
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case ' ', '\\', '/', '"', '\'':
			b.WriteByte(s[i])
		default:
			return "", fmt.Errorf("%w: unknown escape \\%c", errFalco, s[i])
		}
	}
	return b.String(), nil
}

// falcoReadsBack reports whether Falco reads the tuple of values back
// unchanged for the fields.
func falcoReadsBack(fields, values []string, lists []string) error {
	var parts []string
	for i, f := range fields {
		parts = append(parts, f+" = "+falcoQuote(values[i]))
	}
	cond := falcoResolveLists("("+strings.Join(parts, " and ")+")", lists)
	got, err := falcoParseTuple(cond)
	if err != nil {
		return fmt.Errorf("%v in %s", err, cond)
	}
	if !slices.Equal(got, values) {
		return fmt.Errorf("Falco reads back %q, not %q, from %s", got, values, cond)
	}
	return nil
}

// listNames reads the names of the lists in Falco's rules files.
func listNames(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("testdata/falco-rules/*.yaml")
	plugins, _ := filepath.Glob("testdata/falco-rules/plugins/*.yaml")
	var names []string
	for _, f := range append(files, plugins...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var items []map[string]any
		if err := yaml.Unmarshal(data, &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if l, ok := it["list"].(string); ok {
				names = append(names, l)
			}
		}
	}
	if len(names) < 100 {
		t.Fatalf("only %d lists in Falco's rules files", len(names))
	}
	return names
}

// TestFalcoModel checks the model itself on the values the issue reported.
func TestFalcoModel(t *testing.T) {
	lists := []string{"shell_binaries"}
	for _, tt := range []struct {
		values []string
		ok     bool
	}{
		{[]string{"/usr/bin/ln", "/etc/shadow"}, true},
		{[]string{"/usr/bin/python3 -m http.server"}, true},
		{[]string{`python3 -c import pty;pty.spawn("/bin/sh")`}, false},
		{[]string{"a (b) c"}, true}, // inside quotes: the parser takes it
		{[]string{"(b)"}, false},
		{[]string{"x shell_binaries y"}, false},
		{[]string{"shell_binaries"}, false},
		{[]string{`C:\dir name\`}, false},
		{[]string{"a,b"}, false},
	} {
		fields := make([]string, len(tt.values))
		for i := range fields {
			fields[i] = "proc.cmdline"
		}
		err := falcoReadsBack(fields, tt.values, lists)
		if (err == nil) != tt.ok {
			t.Errorf("%q: %v, want ok=%v", tt.values, err, tt.ok)
		}
	}
}

// exceptionBlock is one "- rule:" item of a suggested exception.
type exceptionBlock struct {
	Rule       string            `yaml:"rule"`
	Override   map[string]string `yaml:"override"`
	Exceptions []struct {
		Name   string     `yaml:"name"`
		Fields []string   `yaml:"fields"`
		Comps  []string   `yaml:"comps"`
		Values [][]string `yaml:"values"`
	} `yaml:"exceptions"`
}

// applyExceptions applies blocks to a rule as Falco's collector does and
// returns the first error Falco would report.
func applyExceptions(rule string, blocks []exceptionBlock) error {
	type ex struct{ fields []string }
	have := map[string]ex{}
	for _, b := range blocks {
		if b.Rule != rule {
			return fmt.Errorf("block for rule %q, not %q", b.Rule, rule)
		}
		if b.Override["exceptions"] != "append" {
			return fmt.Errorf("block does not append its exceptions: %v", b.Override)
		}
		for _, e := range b.Exceptions {
			prev, exists := have[e.Name]
			switch {
			case !exists && (len(e.Fields) == 0 || len(e.Values) == 0):
				return fmt.Errorf("Rule exception must have fields property with a list of fields (%s)", e.Name)
			case !exists:
				if len(e.Comps) != len(e.Fields) {
					return fmt.Errorf("%s: %d comps for %d fields", e.Name, len(e.Comps), len(e.Fields))
				}
				prev = ex{fields: e.Fields}
				have[e.Name] = prev
			case len(e.Fields) > 0:
				return fmt.Errorf("Can not append exception fields to existing exception, only values (%s)", e.Name)
			case len(e.Comps) > 0:
				return fmt.Errorf("Can not append exception comps to existing exception, only values (%s)", e.Name)
			}
			for _, v := range e.Values {
				if len(v) != len(prev.fields) {
					return fmt.Errorf("Fields and values lists must have equal length (%s)", e.Name)
				}
			}
		}
	}
	return nil
}

// TestExceptionsFalcoCanLoad checks every exception a report suggests, from
// realistic, hostile and partial alerts: the YAML parses, Falco reads every
// value back unchanged, the first-use block and the values-only block apply
// one after the other (twice the first-use block would not), and the
// exception pins context.
func TestExceptionsFalcoCanLoad(t *testing.T) {
	lists := listNames(t)
	table := rules.Default()
	withException := 0
	for _, v := range allVariants(t) {
		var blocks []exceptionBlock
		for _, s := range v.report.Remediation {
			if s.Config == "" {
				continue
			}
			var items []exceptionBlock
			if err := yaml.Unmarshal([]byte(s.Config), &items); err != nil || len(items) != 1 {
				t.Errorf("%s %s: exception YAML: %v\n%s", v.alert.Rule, v.name, err, s.Config)
				continue
			}
			blocks = append(blocks, items[0])
		}
		entry, _ := table.Lookup(v.alert.Source, v.alert.Rule)
		_ = entry
		if len(blocks) == 0 {
			continue
		}
		if v.name == "sample" {
			withException++
		}
		if len(blocks) != 2 {
			t.Errorf("%s %s: %d exception blocks, want the first-use and the values-only block", v.alert.Rule, v.name, len(blocks))
			continue
		}
		if err := applyExceptions(v.alert.Rule, blocks); err != nil {
			t.Errorf("%s %s: Falco would refuse the blocks in turn: %v", v.alert.Rule, v.name, err)
		}
		if applyExceptions(v.alert.Rule, []exceptionBlock{blocks[0], blocks[0]}) == nil {
			t.Errorf("%s %s: the model accepts the first-use block twice", v.alert.Rule, v.name)
		}
		ex := blocks[0].Exceptions[0]
		if ex.Name != rules.ExceptionName(ex.Fields) {
			t.Errorf("%s %s: exception name %q is not the name of its fields %v", v.alert.Rule, v.name, ex.Name, ex.Fields)
		}
		for _, vals := range ex.Values {
			if err := falcoReadsBack(ex.Fields, vals, lists); err != nil {
				t.Errorf("%s %s: %v", v.alert.Rule, v.name, err)
			}
		}
		if !slices.ContainsFunc(ex.Fields, func(f string) bool { return rules.IsContextField(v.alert.Source, f) }) {
			t.Errorf("%s %s: exception on %v pins no context (parent, user, image)", v.alert.Rule, v.name, ex.Fields)
		}
	}
	if withException < 80 && os.Getenv("HARNESS_ALERTS") == "" {
		t.Errorf("only %d of the sample alerts get an exception", withException)
	}
}

var _ = report.Step{}
