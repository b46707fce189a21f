package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// Checks a playbook must pass at load, whoever wrote it. They make safety a
// property of the mechanism: a playbook cannot place an alert value in a
// command except through a quoting method, and cannot contradict its own
// ATT&CK table.

// cmdValues are the methods that may place text in a command: each quotes
// its value as one shell word, after checking it, or yields a fixed form.
var cmdValues = map[string]bool{
	"Q": true, "QDir": true, "QBase": true, "QRule": true,
	"Since": true, "Until": true, "ContainerPID": true, "TTY": true,
	"QTwin": true, "PkgOwner": true, "ContainerFile": true, "ContainerDir": true, "ContainerPath": true, "SinceRFC": true, "UntilRFC": true, "Date": true, "Time": true,
}

// cmdConditions are the methods a command may test in {{if}}.
var cmdConditions = map[string]bool{
	"Has": true, "Is": true, "HasPrefix": true, "Contains": true, "Container": true, "K8s": true,
}

// checkCommand returns an error, and the line within the template, for
// anything in a command template other than literal text, the quoting
// methods, and {{if}} over the condition methods. {{.V "fd.name"}} in a
// command would paste an attacker's file name into a shell unquoted.
func checkCommand(t *template.Template) (int, error) {
	var bad error
	line := 0
	fail := func(n parse.Node, format string, args ...any) {
		if bad == nil {
			loc, _ := t.ErrorContext(n)
			if _, after, ok := strings.Cut(loc, ":"); ok {
				fmt.Sscanf(after, "%d", &line)
				line--
			}
			bad = fmt.Errorf(format, args...)
		}
	}
	method := func(n parse.Node) string {
		if c, ok := n.(*parse.CommandNode); ok && len(c.Args) > 0 {
			if f, ok := c.Args[0].(*parse.FieldNode); ok && len(f.Ident) == 1 {
				return f.Ident[0]
			}
		}
		return ""
	}
	var cond func(p *parse.PipeNode)
	cond = func(p *parse.PipeNode) {
		if len(p.Decl) > 0 || len(p.Cmds) != 1 {
			fail(p, "{{if %s}}: a condition must be one call of %s", p, keys(cmdConditions))
			return
		}
		c := p.Cmds[0]
		if id, ok := c.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "not" || id.Ident == "and" || id.Ident == "or") {
			for _, arg := range c.Args[1:] {
				if sub, ok := arg.(*parse.PipeNode); ok {
					cond(sub)
				} else if !cmdConditions[method(&parse.CommandNode{Args: []parse.Node{arg}})] {
					fail(p, "{{if %s}}: a condition must use %s", p, keys(cmdConditions))
				}
			}
			return
		}
		if !cmdConditions[method(c)] {
			fail(p, "{{if %s}}: a condition must use %s", p, keys(cmdConditions))
		}
	}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.TextNode:
		case *parse.ActionNode:
			if literal(n.Pipe) {
				return // {{"{{.info.pid}}"}}, {{$none := "-1"}}
			}
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || !cmdValues[method(n.Pipe.Cmds[0])] {
				fail(n, "%s places a value in a command without quoting it; in a command only %s may place values (e.g. {{.Q \"fd.name\"}})", n, keys(cmdValues))
			}
		case *parse.IfNode:
			cond(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		default:
			fail(n, "%s is not allowed in a command", n)
		}
	}
	walk(t.Tree.Root)
	return line, bad
}

// literal reports whether p is a constant string, such as {{"{{.info.pid}}"}}
// to write a Go template for crictl, or a variable set to one.
func literal(p *parse.PipeNode) bool {
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	_, ok := p.Cmds[0].Args[0].(*parse.StringNode)
	return ok
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, "."+k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// fieldWord matches a Falco field name written in prose.
var fieldWord = regexp.MustCompile(`\b(proc|evt|fd|user|group|container|k8s|ka|ct|gcp|github|okta|thread)\.[A-Za-z0-9_.]*[A-Za-z0-9_](\[[^\]\s]+\])?`)

// checkProse finds a field name written where its value belongs ("Deletes
// only the link name evt.arg.newpath") in the title, summary and each
// step's changes, and an ATT&CK id in any prose that the playbook's mitre
// list does not hold.
func checkProse(s *PlaybookSpec, pb *Playbook) error {
	known := map[string]bool{}
	for _, f := range append(append([]string{}, s.Fields...), ContainerFields...) {
		known[f] = true
	}
	for _, p := range []struct {
		what string
		src  src
	}{{"title", s.Title}, {"summary", s.Summary}} {
		if f := literalField(p.src.S, known); f != "" {
			return s.errf(p.src.Line, "%s names the field %s where its value belongs; write {{.V %q}}", p.what, f, f)
		}
	}
	for i, st := range s.Remediation {
		if f := literalField(st.Changes.S, known); f != "" {
			return s.errf(st.Changes.Line, "remediation step %d: changes names the field %s where its value belongs; write {{.V %q}}", i+1, f, f)
		}
	}
	if len(s.MITRE) == 0 {
		return nil
	}
	texts := []src{s.Title, s.Summary, s.Why}
	for _, list := range [][]StepSpec{s.Investigation, s.FalsePositives, s.Remediation} {
		for _, st := range list {
			texts = append(texts, st.Text, st.Changes)
		}
	}
	for _, t := range texts {
		if err := checkMentions(t.S, pb.mitre); err != nil {
			return s.errf(t.Line, "%v", err)
		}
	}
	return nil
}

// literalField returns the first of the playbook's own field names (known)
// written in the literal text of a template (outside {{ }}), or "". Words
// that only look like fields (an Okta event type user.session.start) are
// not the playbook's fields and pass.
func literalField(tmpl string, known map[string]bool) string {
	var lit strings.Builder
	for tmpl != "" {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			lit.WriteString(tmpl)
			break
		}
		lit.WriteString(tmpl[:i] + " ")
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			break
		}
		tmpl = tmpl[i+j+2:]
	}
	for _, w := range fieldWord.FindAllString(lit.String(), -1) {
		if known[w] {
			return w
		}
	}
	return ""
}
