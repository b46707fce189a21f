package rules

import (
	"strings"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// A frame is what every report of one source shares, whatever the rule:
// the facts that identify where the event happened, the summary the
// generic handler writes, the fields of its exception, and the step that
// finds related alerts. "Host", "container", process lineage and /proc
// belong to the syscall frame only: a Kubernetes API call or a CloudTrail
// event has no host in that sense.
type frame struct {
	// facts are shown, when the alert has them, after a playbook's own.
	facts []labelled
	// where describes where the event happened, for the facts table; ""
	// for none.
	where func(c *Ctx) string
	// actor and object name who acted and on what, for the generic
	// summary; "" when the source has no such field.
	actor, action, object string
	// exception lists the fields of the generic handler's exception.
	exception []string
	// needle is the field whose value finds related alerts.
	needle []string
}

type labelled struct{ label, field string }

var frames = map[string]frame{
	event.SourceSyscall: {
		facts: []labelled{
			{"Process", "proc.name"}, {"Executable", "proc.exepath"}, {"Command line", "proc.cmdline"},
			{"Process id", "proc.pid"}, {"Parent", "proc.pname"}, {"Parent command line", "proc.pcmdline"},
			{"User", "user.name"}, {"User id", "user.uid"}, {"Login user id", "user.loginuid"},
			{"Terminal", "proc.tty"}, {"Container id", "container.id"}, {"Container name", "container.name"},
			{"Image", "container.image.repository"}, {"Image tag", "container.image.tag"},
			{"Kubernetes namespace", "k8s.ns.name"}, {"Kubernetes pod", "k8s.pod.name"},
		},
		where: func(c *Ctx) string {
			if c.Container() {
				return ""
			}
			return "the host (not a container)"
		},
		exception: []string{"proc.exepath", "proc.pname"},
		needle:    []string{"proc.exepath", "proc.name"},
	},
	// Field names from the k8saudit plugin (plugins/k8saudit/pkg/k8saudit/fields.go
	// in falcosecurity/plugins); the cluster's name is set only by the managed
	// variants (k8saudit-eks, -gke, ...) or an audit annotation.
	event.SourceK8sAudit: {
		facts: []labelled{
			{"Cluster", "ka.cluster.name"},
			{"User", "ka.user.name"}, {"Groups", "ka.user.groups"}, {"Impersonated user", "ka.impuser.name"},
			{"Verb", "ka.verb"}, {"Resource", "ka.target.resource"}, {"Subresource", "ka.target.subresource"},
			{"Namespace", "ka.target.namespace"}, {"Name", "ka.target.name"}, {"Request URI", "ka.uri"},
			{"Source IPs", "ka.sourceips"}, {"User agent", "ka.useragent"},
			{"Response code", "ka.response.code"}, {"Response reason", "ka.response.reason"},
			{"Authorization decision", "ka.auth.decision"}, {"Authorization reason", "ka.auth.reason"},
			{"Audit event id", "ka.auditid"},
		},
		where:     func(c *Ctx) string { return "the Kubernetes API server (audit log)" },
		actor:     "ka.user.name",
		action:    "ka.verb",
		object:    "ka.target.resource",
		exception: []string{"ka.verb", "ka.target.resource", "ka.user.name"},
		needle:    []string{"ka.user.name"},
	},
	"aws_cloudtrail": {
		// ct.user is the IAM user's name, or the role's name for an
		// assumed role; ct.originaluser is then the session's name.
		facts: []labelled{
			{"Principal", "ct.user"}, {"Session or user name", "ct.originaluser"}, {"Principal ARN", "ct.user.arn"},
			{"Principal id", "ct.user.principalid"}, {"Identity type", "ct.user.identitytype"},
			{"Account", "ct.user.accountid"}, {"Event", "ct.name"}, {"Event source", "ct.src"}, {"Region", "ct.region"},
			{"Source IP", "ct.srcip"}, {"User agent", "ct.useragent"}, {"Error", "ct.error"},
			{"Error message", "ct.errormessage"}, {"Event id", "ct.id"},
		},
		where:     func(c *Ctx) string { return "the AWS control plane (CloudTrail)" },
		actor:     "ct.user",
		action:    "ct.name",
		exception: []string{"ct.name", "ct.user"},
		needle:    []string{"ct.user.arn", "ct.user"},
	},
	"gcp_auditlog": {
		// The gcpaudit plugin's fields (plugins/gcpaudit/pkg/gcpaudit/
		// extract.go). gcp.request, gcp.authorizationInfo and
		// gcp.policyDelta are JSON documents: shown as facts, never
		// placed in a command.
		facts: []labelled{
			{"Principal", "gcp.user"}, {"Method", "gcp.methodName"}, {"Service", "gcp.serviceName"},
			{"Project", "gcp.projectId"}, {"Caller IP", "gcp.callerIP"}, {"User agent", "gcp.userAgent"},
			{"Resource", "gcp.resourceName"}, {"Resource type", "gcp.resourceType"}, {"Location", "gcp.location"},
			{"Bucket", "gcp.storage.bucket"}, {"Cloud SQL database", "gcp.cloudsql.databaseId"},
			{"Function", "gcp.cloudfunctions.function"}, {"Service account", "gcp.iam.serviceAccount"},
			{"Logging sink", "gcp.logging.sink"}, {"Policy change (binding deltas)", "gcp.policyDelta"},
			{"Authorization", "gcp.authorizationInfo"}, {"Request", "gcp.request"}, {"Event time", "gcp.time"},
		},
		where:     func(c *Ctx) string { return "the Google Cloud control plane (Cloud Audit Logs)" },
		actor:     "gcp.user",
		action:    "gcp.methodName",
		exception: []string{"gcp.methodName", "gcp.user"},
		needle:    []string{"gcp.user"},
	},
	// Field names from the github plugin (plugins/github/pkg/github/extract.go
	// in falcosecurity/plugins). The plugin installs a webhook on each
	// repository it watches, not on the organisation.
	"github": {
		facts: []labelled{
			{"Actor", "github.user"}, {"Organisation", "github.org"}, {"Owner", "github.owner"},
			{"Repository", "github.repo.name"}, {"Repository URL", "github.repo.url"},
			{"Public repository", "github.repo.public"}, {"Webhook event", "github.type"}, {"Action", "github.action"},
		},
		where:     func(c *Ctx) string { return "GitHub (repository webhook, received by Falco's github plugin)" },
		actor:     "github.user",
		object:    "github.repo.name",
		exception: []string{"github.repo.name", "github.user"},
		needle:    []string{"github.user", "github.repo.name"},
	},
	"okta": {
		// okta.actor.name and okta.target.user.name are display names,
		// which are not unique; the ids and alternate ids (logins) are.
		facts: []labelled{
			{"Actor", "okta.actor.name"}, {"Actor login", "okta.actor.alternateid"}, {"Actor id", "okta.actor.id"},
			{"Event type", "okta.evt.type"}, {"Message", "okta.message"},
			{"Target user", "okta.target.user.name"}, {"Target user login", "okta.target.user.alternateid"},
			{"Target user id", "okta.target.user.id"}, {"Target group", "okta.target.group.name"},
			{"Target app", "okta.target.app.alternateid"}, {"Client IP", "okta.client.ip"},
			{"Country", "okta.client.geo.country"}, {"User agent", "okta.useragent.raw"},
			{"Outcome", "okta.result"}, {"Reason", "okta.reason"}, {"Session id", "okta.authentication.sessionid"},
			{"Organisation", "okta.org"},
		},
		where:     func(c *Ctx) string { return "Okta (System Log)" },
		actor:     "okta.actor.name",
		action:    "okta.evt.type",
		exception: []string{"okta.evt.type", "okta.actor.name"},
		needle:    []string{"okta.actor.id", "okta.actor.name"},
	},
}

// frameOf returns the frame of a's source; a source without one (a
// plugin falco-reporter does not know) gets an empty frame, which speaks
// of no host and no process.
func frameOf(a *event.Alert) frame { return frames[a.Source] }

// appendFacts adds the frame's facts not already shown, in order, for the
// fields a carries, then where the event happened.
func appendFacts(facts []report.Fact, a *event.Alert, shown []FactSpec) []report.Fact {
	done := map[string]bool{}
	for _, f := range shown {
		done[f.Field] = true
	}
	fr := frameOf(a)
	for _, l := range fr.facts {
		if done[l.field] {
			continue
		}
		if v, ok := a.Fields.Get(l.field); ok {
			facts = append(facts, report.Fact{Label: l.label, Value: factValue(l.field, v)})
		}
	}
	if fr.where != nil {
		if w := fr.where(&Ctx{a: a}); w != "" {
			facts = append(facts, report.Fact{Label: "Where", Value: w})
		}
	}
	return facts
}

// relatedAlerts is the step that looks for the other alerts about the same
// container, executable or actor in the hour around this one: in the
// reports falco-reporter keeps, and in Falco's own log. Falco's packaged
// units (falco-modern-bpf.service, falco-kmod.service, ...) are reached as
// falco.service only through an alias, which journalctl -u does not
// resolve; Falco's syslog identifier, falco, works on every install.
func relatedAlerts(c *Ctx) report.Step {
	since := c.a.Time.UTC().Add(-time.Hour).Format(time.RFC3339)
	until := c.a.Time.UTC().Add(time.Hour).Format(time.RFC3339)
	list := "falco-reporter list --since " + since + " --until " + until
	what, needle := "this rule", ""
	switch {
	case c.a.Source == event.SourceSyscall && c.Container():
		id, _ := c.a.Fields.Get("container.id")
		if checkValue("container.id", id) == "" {
			what, needle = "the same container", id
			list += " --container " + id
		}
	default:
		for _, f := range frameOf(c.a).needle {
			if v, ok := c.a.Fields.Get(f); ok {
				if w, ok := shellWord(v); ok {
					what, needle = "the same "+labelOf(c.a, f), w
					list += " --grep=" + w // attached, so that a value starting with "-" stays a value
				}
				break
			}
		}
	}
	if needle == "" {
		if w, ok := shellWord(c.a.Rule); ok {
			needle = w
			list += " --rule=" + w
		}
	}
	text := "List the other alerts about " + what + " in the hour around this one, first from the reports falco-reporter keeps, then from Falco's own log (Falco logs alerts to syslog as \"falco\"; journalctl -u falco finds nothing on a packaged Falco, whose unit is falco-modern-bpf, falco-kmod or falco-bpf). "
	if c.a.Source == event.SourceSyscall {
		text += "A chain of different rules (a shell, then a sensitive read, then an outbound connection) is the pattern of an intrusion; one isolated alert usually is not."
	} else {
		text += "Several rules fired by the same actor within the hour are the pattern of an intrusion; one isolated alert usually is not."
	}
	cmd := list + "\njournalctl -t falco --since " + c.Since() + " --until " + c.Until() + " -o cat"
	if needle != "" {
		cmd += " | grep -F -- " + needle
	}
	return report.Step{Text: report.Plain(text), Command: cmd}
}

// labelOf returns the frame's label of field f, lower-cased, for prose.
func labelOf(a *event.Alert, f string) string {
	for _, l := range frameOf(a).facts {
		if l.field == f {
			return strings.ToLower(l.label)
		}
	}
	return f
}

// shellWord quotes s for a search: a value longer than a command should
// hold is cut, which still finds every line that holds the whole value.
func shellWord(s string) (string, bool) {
	if len(s) > maxShellValue {
		s = strings.ToValidUTF8(s[:maxShellValue], "")
	}
	return safe.ShellWord(s)
}

// factValue shows a value as an engineer reads it where Falco sends a
// number: proc.tty is the terminal's device number, shown with its name.
func factValue(field, v string) string {
	if field != "proc.tty" {
		return v
	}
	if v == "0" {
		return "none (0)"
	}
	if name := (&Ctx{a: &event.Alert{Fields: event.Fields{"proc.tty": event.Str(v)}}}).TTY(); name != "''" {
		return name + " (device " + v + ")"
	}
	return v
}
