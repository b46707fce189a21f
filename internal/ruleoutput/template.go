package ruleoutput

import (
	"regexp"
	"strings"
)

// template is an output template split at its fields:
// lits[0] %fields[0] lits[1] ... %fields[n-1] lits[n].
type template struct {
	lits   []string
	fields []string
}

// fieldRef is a field in an output template, as Falco's rules write them:
// %proc.cmdline, %proc.aname[2], %jevt.value[/user/name].
var fieldRef = regexp.MustCompile(`%([a-zA-Z0-9_]+(?:\.[a-zA-Z0-9_]+)+(?:\[[^\]\s]*\])?)`)

// openValue finds what looks like one more name=value pair inside a value.
var openValue = regexp.MustCompile(`\s[A-Za-z0-9_.\[\]/]+=`)

func parse(s string) template {
	var t template
	last := 0
	for _, m := range fieldRef.FindAllStringSubmatchIndex(s, -1) {
		t.lits = append(t.lits, s[last:m[0]])
		t.fields = append(t.fields, s[m[2]:m[3]])
		last = m[1]
	}
	t.lits = append(t.lits, s[last:])
	return t
}

// span is where one value lies in the text.
type span struct{ start, end int }

// match matches text against the whole template and returns the values
// whose place in the text is certain. Values sit between the template's
// literal pieces, but a value may itself contain the piece that follows
// it (a command line with " user=" in it). So the text is split twice:
// each piece as early as possible, and each as late as possible. Every
// possible split lies between these two; where they agree on a value, all
// do, and the value is kept. Where they differ, the value is left out.
//
// A value at the very end of the template has nothing after it to end it;
// if it holds another name=value pair, the text probably has fields
// appended that the template does not know, and the value is left out.
func (t template) match(text string) (map[string]string, bool) {
	n := len(t.fields)
	first, end := t.lits[0], t.lits[n]
	if n == 0 || !strings.HasPrefix(text, first) || !strings.HasSuffix(text, end) || len(first)+len(end) > len(text) {
		return nil, false
	}
	lo, hi := len(first), len(text)-len(end)
	early := make([]span, n)
	pos := lo
	for i := 0; i < n-1; i++ {
		j := strings.Index(text[pos:hi], t.lits[i+1])
		if j < 0 {
			return nil, false
		}
		early[i] = span{pos, pos + j}
		pos += j + len(t.lits[i+1])
	}
	early[n-1] = span{pos, hi}
	late := make([]span, n)
	stop := hi
	for i := n - 1; i > 0; i-- {
		j := strings.LastIndex(text[lo:stop], t.lits[i])
		if j < 0 {
			return nil, false
		}
		late[i] = span{lo + j + len(t.lits[i]), stop}
		stop = lo + j
	}
	late[0] = span{lo, stop}
	values := make(map[string]string, n)
	for i, f := range t.fields {
		if early[i] != late[i] || early[i].start > early[i].end {
			continue
		}
		v := text[early[i].start:early[i].end]
		if i == n-1 && end == "" && openValue.MatchString(v) {
			continue
		}
		if _, seen := values[f]; !seen {
			values[f] = v
		}
	}
	return values, true
}
