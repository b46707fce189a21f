package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"

	"gopkg.in/yaml.v3"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// PlaybookFile is the YAML form of a file of playbooks. The README
// documents every key; unknown keys are errors.
type PlaybookFile struct {
	Playbooks []PlaybookSpec `yaml:"playbooks"`
}

// PlaybookSpec is one playbook as written in YAML. Text values are Go
// templates evaluated against Ctx: {{.V "fd.name"}} shows a value,
// {{.Q "fd.name"}} quotes it for a shell command.
type PlaybookSpec struct {
	Rule           string     `yaml:"rule"`
	Source         string     `yaml:"source"`
	Desc           string     `yaml:"desc"`
	Tags           []string   `yaml:"tags"`
	Fields         []string   `yaml:"fields"`
	Key            []string   `yaml:"key"`
	Title          src        `yaml:"title"`
	Summary        src        `yaml:"summary"`
	Why            src        `yaml:"why"`
	Facts          []FactSpec `yaml:"facts"`
	Investigation  []StepSpec `yaml:"investigation"`
	FalsePositives []StepSpec `yaml:"false_positives"`
	Remediation    []StepSpec `yaml:"remediation"`
	Exception      []string   `yaml:"exception"`
	// MITRE lists the ATT&CK techniques this playbook's activity maps
	// to, curated by its author: "T1003.008", or {id: T1053.003,
	// tactic: Persistence} for a technique of several tactics.
	MITRE []MitreSpec `yaml:"mitre"`

	line int
	file string
}

// FactSpec labels one output field for the facts table.
type FactSpec struct {
	Label string `yaml:"label"`
	Field string `yaml:"field"`
}

// StepSpec is one investigation, false-positive or remediation step.
type StepSpec struct {
	Text    src    `yaml:"text"`
	Cmd     src    `yaml:"cmd"`
	When    string `yaml:"when"`    // "", "container", "host" or "k8s"
	Changes src    `yaml:"changes"` // what a remediation command changes
}

// src is a template's source with the line it starts on.
type src struct {
	S    string
	Line int
}

// UnmarshalYAML accepts a scalar and keeps its line for error messages.
func (s *src) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected text, got a %s", n.Line, kindName(n.Kind))
	}
	s.S, s.Line = n.Value, n.Line
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// ContainerFields are the fields Falco's container plugin appends to every
// syscall alert; any playbook may refer to them.
var ContainerFields = []string{
	"container.id", "container.name", "container.image.repository", "container.image.tag",
	"k8s.ns.name", "k8s.pod.name",
}

var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+(\[[^\]\s]+\])?$`)

// LoadPlaybooks decodes and validates a file of playbooks. name is used in
// error messages, which give the file and line.
func LoadPlaybooks(name string, data []byte) ([]*Playbook, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f PlaybookFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty playbook file", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	lines := playbookLines(&root)
	var out []*Playbook
	for i := range f.Playbooks {
		spec := &f.Playbooks[i]
		spec.file = name
		if i < len(lines) {
			spec.line = lines[i]
		}
		pb, err := compile(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, pb)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no playbooks (expected a top-level \"playbooks:\" list)", name)
	}
	return out, nil
}

// playbookLines returns the line of each item of the top-level playbooks list.
func playbookLines(root *yaml.Node) []int {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "playbooks" {
			var lines []int
			for _, item := range m.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

func (s *PlaybookSpec) errf(line int, format string, args ...any) error {
	if line == 0 {
		line = s.line
	}
	return fmt.Errorf("%s:%d: playbook %q: %s", s.file, line, s.Rule, fmt.Sprintf(format, args...))
}

// compile validates a spec and parses its templates.
func compile(s *PlaybookSpec) (*Playbook, error) {
	if s.Rule == "" {
		return nil, s.errf(0, "missing \"rule\"")
	}
	if s.Source == "" {
		s.Source = event.SourceSyscall
	}
	if len(s.Fields) == 0 {
		return nil, s.errf(0, "missing \"fields\": list the rule's output fields")
	}
	known := map[string]bool{}
	for _, f := range append(append([]string{}, s.Fields...), ContainerFields...) {
		if !fieldName.MatchString(f) {
			return nil, s.errf(0, "%q is not a Falco field name", f)
		}
		known[f] = true
	}
	pb := &Playbook{Spec: s}
	check := func(line int, fields []string, what string) error {
		for _, f := range fields {
			if !known[f] {
				return s.errf(line, "%s refers to field %q, which is not among the rule's fields (fields:) or the container fields", what, f)
			}
		}
		return nil
	}
	if err := check(0, s.Key, "key"); err != nil {
		return nil, err
	}
	if err := check(0, s.Exception, "exception"); err != nil {
		return nil, err
	}
	var err error
	parseOne := func(what string, t src, required bool) *template.Template {
		if err != nil {
			return nil
		}
		if strings.TrimSpace(t.S) == "" {
			if required {
				err = s.errf(t.Line, "%s is empty", what)
			}
			return nil
		}
		var tp *template.Template
		tp, err = template.New(what).Option("missingkey=error").Parse(t.S)
		if err != nil {
			err = s.errf(t.Line, "%s: %v", what, err)
			return nil
		}
		refs, rerr := fieldRefs(tp)
		if rerr != nil {
			err = s.errf(t.Line, "%s: %v", what, rerr)
			return nil
		}
		if cerr := check(t.Line, refs, what); cerr != nil {
			err = cerr
		}
		return tp
	}
	parseCmd := func(what string, t src) *template.Template {
		tp := parseOne(what, t, false)
		if tp != nil && err == nil {
			if line, cerr := checkCommand(tp); cerr != nil {
				err = s.errf(t.Line+line, "%s: %v", what, cerr)
			}
		}
		return tp
	}
	pb.title = parseOne("title", s.Title, true)
	pb.summary = parseOne("summary", s.Summary, true)
	pb.why = parseOne("why", s.Why, true)
	steps := func(what string, specs []StepSpec) []step {
		if len(specs) == 0 && err == nil {
			err = s.errf(0, "%s has no steps", what)
		}
		var out []step
		for i, st := range specs {
			switch st.When {
			case "", "container", "host", "k8s":
			default:
				if err == nil {
					err = s.errf(st.Text.Line, "%s step %d: when must be container, host or k8s, not %q", what, i+1, st.When)
				}
			}
			out = append(out, step{
				text:    parseOne(fmt.Sprintf("%s step %d text", what, i+1), st.Text, true),
				cmd:     parseCmd(fmt.Sprintf("%s step %d cmd", what, i+1), st.Cmd),
				changes: parseOne(fmt.Sprintf("%s step %d changes", what, i+1), st.Changes, false),
				when:    st.When,
			})
		}
		return out
	}
	pb.investigation = steps("investigation", s.Investigation)
	pb.falsePositives = steps("false_positives", s.FalsePositives)
	pb.remediation = steps("remediation", s.Remediation)
	if err != nil {
		return nil, err
	}
	if len(s.Facts) == 0 {
		return nil, s.errf(0, "facts is empty")
	}
	for _, f := range s.Facts {
		if f.Label == "" {
			return nil, s.errf(0, "a fact has no label")
		}
		if err := check(0, []string{f.Field}, "fact "+f.Label); err != nil {
			return nil, err
		}
	}
	for i, st := range s.Remediation {
		if st.Cmd.S != "" && !ReadOnly(st.Cmd.S) && strings.TrimSpace(st.Changes.S) == "" {
			return nil, s.errf(st.Cmd.Line, "remediation step %d changes something but does not say what (changes:)", i+1)
		}
	}
	for i, st := range s.Investigation {
		if st.Cmd.S != "" && !ReadOnly(st.Cmd.S) {
			return nil, s.errf(st.Cmd.Line, "investigation step %d is not read-only: %q", i+1, st.Cmd.S)
		}
	}
	if err := checkException(s); err != nil {
		return nil, err
	}
	if pb.mitre, err = resolveMITRE(s); err != nil {
		return nil, err
	}
	if err := checkProse(s, pb); err != nil {
		return nil, err
	}
	if err := dryRun(pb); err != nil {
		return nil, s.errf(0, "%v", err)
	}
	return pb, nil
}

// fieldRefs lists the string arguments of every call in t: the fields it
// refers to through .V, .Q, .Has and the like.
func fieldRefs(t *template.Template) ([]string, error) {
	var refs []string
	var bad error
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode, *parse.WithNode, *parse.TemplateNode:
			bad = fmt.Errorf("range, with and template are not supported in playbooks")
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			// .Is, .HasPrefix and .Contains take a field, then a value;
			// the other methods take only fields.
			// .Is, .HasPrefix, .Contains and .VOr take a field, then a
			// value; .Opt takes a format, then fields; the other
			// methods take only fields.
			first, last := 1, len(n.Args)
			if f, ok := n.Args[0].(*parse.FieldNode); ok && len(f.Ident) == 1 {
				switch f.Ident[0] {
				case "Is", "HasPrefix", "Contains", "VOr":
					last = 2
				case "Opt":
					first = 2
				case "ContainerPath":
					last = 1 // a literal path, not a field
				}
			}
			for i, a := range n.Args {
				switch a := a.(type) {
				case *parse.StringNode:
					if i >= first && i < last {
						refs = append(refs, a.Text)
					}
				case *parse.PipeNode:
					walk(a)
				}
			}
		}
	}
	walk(t.Tree.Root)
	return refs, bad
}

// ReadOnly reports whether a shell command only reads: no redirection into
// a file and none of the commands that change files, processes or
// settings. It is a lint, deliberately strict.
func ReadOnly(cmd string) bool {
	return !writeCmd.MatchString(devNull.ReplaceAllString(singleQuoted.ReplaceAllString(cmd, "''"), " "))
}

// singleQuoted matches a single-quoted shell string: what is inside (a jq or
// awk program's ">", a Go template) is data, not a redirection.
var singleQuoted = regexp.MustCompile(`'[^']*'`)

// devNull matches the redirections a read-only command may use: discarding
// output, and joining or swapping standard output and error (2>&1, >&2).
var devNull = regexp.MustCompile(`[0-9]?>\s*/dev/null|[0-9]?>&[0-9]`)

var writeCmd = regexp.MustCompile(`(^|[;|&(` + "`" + `]|\bsudo|\bxargs|\bnohup|\bexec|\btimeout\s+\S+)\s*(rm|rmdir|chmod|chown|chgrp|chattr|kill|pkill|killall|mv|cp|dd|tee|truncate|shred|ln|mkdir|touch|install|useradd|userdel|usermod|passwd|setfacl|mount|umount|iptables|nft|ip6tables|reboot|shutdown|sysctl\s+-w|crontab\s+-r|sed\s+-i)(\s|$)` +
	`|\b(systemctl|kubectl|crictl|docker|ctr|podman)\b[^|;&]*\s(stop|start|restart|disable|enable|mask|kill|delete|apply|patch|edit|scale|cordon|drain|label|annotate|exec|cp|create|replace|set|rm|rmp|stopp|pause|run)(\s|$)|>`)
