package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// A suggested Falco exception must satisfy three things, or it is worse than
// none:
//
//   - Falco must read it back. Falco's rule loader turns an exception into
//     condition text ("(f1 = v1 and f2 = v2)") and parses it. A value with a
//     space is wrapped in double quotes, and nothing inside is escaped
//     (quote_item in Falco's rule_loader_compiler.cpp), so a quote, a
//     backslash or a parenthesis in a value breaks the condition, and Falco
//     refuses all of its rules at the next restart. Before parsing, Falco
//     also replaces every blank-delimited word that names a list with the
//     list's items. falcoValue refuses every value that could do either.
//   - It must be narrow. It pins the context that made the event benign
//     (the parent, the login user, the container image), never only the
//     program and its target, which would silence the attack itself.
//   - Two of them must paste one after the other. Appending an exception
//     whose name already exists with fields again is an error ("Can not
//     append exception fields to existing exception, only values"), so each
//     field set gets its own name, and the report also shows the
//     values-only block for an exception that already exists.

// exceptionContext lists, per source, the fields that say in which context
// an event happened: who or what started it, from where. An exception must
// hold at least one of them. Fields written "proc.aname[" match any index.
// List fields (ka.user.groups, ka.sourceips) are not among them: Falco
// compares a list field only with in, intersects or exists, so the "="
// of a suggested exception would stop Falco from loading its rules.
// For CloudTrail and Okta they are the principal and its client; the
// source IP is not among them: it is where a call came from, part of what
// happened, not who did it. The cloudtrail plugin's evt.plugininfo ("USER
// via IP -> EVENT") names the principal too.
// For Cloud Audit Logs it is the authenticated principal only: the user
// agent is supplied by the caller and not authenticated (any client can
// claim to be Terraform), and a caller IP says where a call came from,
// often a shared NAT address or "private" (Google's own network).
var exceptionContext = map[string][]string{
	event.SourceSyscall: {"proc.pname", "proc.pexepath", "proc.pcmdline", "proc.aname[", "proc.aexepath[",
		"user.name", "user.loginuid", "user.loginname", "container.image.repository", "k8s.ns.name"},
	event.SourceK8sAudit: {"ka.user.name", "ka.useragent", "ka.impuser.name"},
	"aws_cloudtrail":     {"ct.user", "ct.user.arn", "ct.user.principalid", "ct.originaluser", "ct.useragent", "evt.plugininfo"},
	"gcp_auditlog":       {"gcp.user"},
	"github":             {"github.user"},
	"okta":               {"okta.actor.name", "okta.actor.id", "okta.actor.alternateid", "okta.useragent.raw"},
}

// IsContextField reports whether f pins the context of an event of
// source: who or what started it, from where.
func IsContextField(source, f string) bool { return isContextField(source, f) }

// isContextField reports whether f pins the context of an event of source.
func isContextField(source, f string) bool {
	for _, c := range exceptionContext[source] {
		if f == c || strings.HasSuffix(c, "[") && strings.HasPrefix(f, c) {
			return true
		}
	}
	return false
}

// checkException checks a playbook's exception fields at load: at least one
// field that says what happened and one that pins its context.
func checkException(s *PlaybookSpec) error {
	if len(s.Exception) == 0 {
		return nil
	}
	var ctx, what int
	for _, f := range s.Exception {
		if isContextField(s.Source, f) {
			ctx++
		} else {
			what++
		}
	}
	if ctx == 0 || what == 0 {
		return s.errf(0, "exception %v must pin both what happened (the program, the file, the object) and the context that made it benign (one of %s); an exception on only one of them silences the attack too",
			s.Exception, strings.Join(exceptionContext[s.Source], ", "))
	}
	return nil
}

// listFields are fields whose values are lists. Falco compares a list
// field only with in, intersects or exists: an "=" exception on one stops
// Falco from loading its rules. (A list arrives as a JSON array, which the
// alert marks as such; this catches a forged string value too.)
var listFields = map[string]bool{
	"ka.user.groups": true, "ka.req.binding.subjects": true, "ka.req.pod.containers.image": true,
	"ka.req.pod.initContainers.image": true, "ka.req.pod.ephemeralContainers.image": true,
	"ka.req.pod.containers.privileged": true, "ka.req.pod.containers.host_port": true,
	"ka.req.pod.volumes.hostpath": true, "ka.req.pod.containers.add_capabilities": true,
	"ka.req.role.rules": true, "ka.req.role.rules.verbs": true, "ka.req.role.rules.resources": true,
	"ka.req.service.ports": true, "ka.sourceips": true, "ka.req.pod.volumes.volume_type": true,
	"ka.req.pod.containers.image.repository": true, "ka.req.pod.run_as_user": true,
	"ka.req.pod.containers.run_as_user": true, "ka.req.pod.containers.eff_run_as_user": true,
	"ka.req.pod.containers.read_only_fs": true, "ka.req.pod.containers.allow_privilege_escalation": true,
	"ka.req.pod.containers.proc_mount": true, "ka.req.pod.containers.eff_run_as_group": true,
	"ka.req.pod.containers.run_as_group": true, "ka.req.pod.supplemental_groups": true,
	"ka.req.pod.fs_group": true, "ka.req.pod.containers.add_capabilities.1": true,
}

// charNames names the characters falcoValue refuses, for the report.
var charNames = map[byte]string{'"': "a double quote", '\'': "a single quote", '(': "a parenthesis", ')': "a parenthesis",
	'=': "an equals sign", ',': "a comma", '\\': "a backslash"}

// identLike matches words that follow Falco's naming of lists
// (shell_binaries, sensitive_file_names): a value word of that shape may
// name a list of the user's own that Falco would substitute.
var identLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*$`)

// falcoValue returns "" when v can be an exception value that Falco's rule
// loader reads back unchanged with the "=" comparison, or why it cannot.
func falcoValue(v string) string {
	switch {
	case v == "":
		return "is empty"
	case len(v) > 512:
		return "is longer than 512 bytes"
	case strings.IndexFunc(v, func(r rune) bool { return safe.NeedsEscape(r) || r == unicode.ReplacementChar }) >= 0:
		return "holds control, invisible or invalid characters"
	case v != strings.TrimSpace(v):
		return "starts or ends with a space"
	}
	if i := strings.IndexAny(v, "\"'()=,\\"); i >= 0 {
		return "holds " + charNames[v[i]] + ", which Falco's rule loader does not escape"
	}
	words := strings.Split(v, " ")
	if len(words) > 1 {
		// Falco wraps the value in double quotes; the first and last
		// words then touch a quote, which protects them from list
		// substitution, but the words between do not.
		words = words[1 : len(words)-1]
	}
	for _, w := range words {
		if slices.Contains(falcoListNames, w) || identLike.MatchString(w) {
			return fmt.Sprintf("holds the word %q, which Falco's rule loader would replace with the items of a list of that name", w)
		}
	}
	return ""
}

// ExceptionName is the name of the exception suggested for a set of
// fields: the same fields, in the same order, always give the same name,
// and different fields a different one.
func ExceptionName(fields []string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = strings.Trim(nonWord.ReplaceAllString(strings.ToLower(f), "_"), "_")
	}
	return "falco_reporter_" + strings.Join(parts, "__")
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// exceptionRule is one item of a Falco rules file that appends an
// exception to a rule.
type exceptionRule struct {
	Rule       string            `yaml:"rule"`
	Exceptions []exceptionItem   `yaml:"exceptions"`
	Override   map[string]string `yaml:"override"`
}

type exceptionItem struct {
	Name   string     `yaml:"name"`
	Fields []string   `yaml:"fields,omitempty,flow"`
	Comps  []string   `yaml:"comps,omitempty,flow"`
	Values [][]string `yaml:"values"`
}

// exceptionSteps proposes a Falco rule exception for the alert's values of
// fields, for use only once the activity is known to be benign: the block
// for a first use, and the values-only block for an exception of that name
// that already exists. A field whose value Falco could not read back is
// left out, and the text says so; when no context field or no other field
// is left, no exception is proposed and the one step says why.
func exceptionSteps(a *event.Alert, fields []string) []report.Step {
	if len(fields) == 0 {
		return nil
	}
	if a.Source == event.SourceSyscall && !a.IsHost() && !slices.Contains(fields, "container.image.repository") {
		fields = append(slices.Clone(fields), "container.image.repository")
	}
	var use, values, left []string
	ctx, what := 0, 0
	for _, f := range fields {
		v, ok := a.Fields.Get(f)
		if !ok {
			left = append(left, f+" is not in the alert")
			continue
		}
		if a.Fields[f].Kind == event.JSON || listFields[f] {
			left = append(left, f+" holds a list, which Falco compares only with in or intersects")
			continue
		}
		if why := falcoValue(v); why != "" {
			left = append(left, f+" "+why)
			continue
		}
		use, values = append(use, f), append(values, v)
		if isContextField(a.Source, f) {
			ctx++
		} else {
			what++
		}
	}
	if strings.IndexFunc(a.Rule, func(r rune) bool { return safe.NeedsEscape(r) || r == unicode.ReplacementChar }) >= 0 || len(a.Rule) > 512 {
		// The rule's name is only a YAML key, never part of the
		// condition; but a name with control characters is not one
		// Falco's own rules use, and would not paste as typed.
		return []report.Step{{Text: report.Plain("No Falco exception is suggested: the rule's name holds control or invisible characters, or is too long, so an exception naming it could not be written safely.")}}
	}
	if ctx == 0 || what == 0 {
		who := "the program, what it touched and the parent, user or image that make it legitimate"
		if a.Source != event.SourceSyscall {
			who = "what was done and the principal, client or address that make it legitimate"
		}
		return []report.Step{{Text: report.Plain("No Falco exception is suggested for this alert: " + strings.Join(left, "; ") +
			". Without those values an exception would match far more than this activity. If it is benign, write one by hand that names " + who + ".")}}
	}
	name := ExceptionName(use)
	comps := make([]string, len(use))
	for i := range comps {
		comps[i] = "="
	}
	first := exceptionRule{Rule: a.Rule, Override: map[string]string{"exceptions": "append"},
		Exceptions: []exceptionItem{{Name: name, Fields: use, Comps: comps, Values: [][]string{values}}}}
	more := exceptionRule{Rule: a.Rule, Override: map[string]string{"exceptions": "append"},
		Exceptions: []exceptionItem{{Name: name, Values: [][]string{values}}}}
	firstYAML, err1 := yaml.Marshal([]exceptionRule{first})
	moreYAML, err2 := yaml.Marshal([]exceptionRule{more})
	if err1 != nil || err2 != nil {
		return nil
	}
	changes := report.Text{{S: "Falco stops alerting on this rule when "}}
	for i, f := range use {
		sep := ", "
		if i == 0 {
			sep = ""
		}
		changes = append(changes, report.Span{S: sep + f + " is "}, report.Span{S: safe.Line(values[i]), Value: true})
	}
	changes = append(changes, report.Span{S: "; every other occurrence still alerts."})
	text := "Only once you have confirmed the activity is legitimate: tune the rule with an exception in /etc/falco/falco_rules.local.yaml (or the rules file your deployment loads after Falco's own). It matches only when all of " +
		strings.Join(use, ", ") + " have this alert's values. Prefer it to disabling the rule."
	if len(left) > 0 {
		text += " Left out, so the exception is broader by these fields: " + strings.Join(left, "; ") + "."
	}
	return []report.Step{
		{
			Text:    report.Text{{S: text}},
			Changes: changes,
			Config:  string(firstYAML),
		},
		{
			Text: report.Text{{S: "If that file already holds an exception named "}, {S: name, Value: true},
				{S: " for this rule (added from an earlier report), Falco refuses a second one with the same name and fields: add only the values instead, with this block."}},
			Config: string(moreYAML),
		},
		{
			Text:    report.Plain("Before restarting Falco, check that it still loads its rules and configuration; a rules error stops Falco from starting:"),
			Command: "falco --dry-run",
		},
	}
}
