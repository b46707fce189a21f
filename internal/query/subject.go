package query

import (
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// subject says where an alert happened: the container (id and name), the
// host, or the plugin source's own subject (a Kubernetes user, a cloud
// principal); "" when the alert does not say.
func subject(source string, field func(string) string) string {
	if id := field("container.id"); id != "" {
		if id == "host" {
			return "host"
		}
		name := field("container.name")
		if pod := field("k8s.pod.name"); pod != "" {
			name = pod
			if ns := field("k8s.ns.name"); ns != "" {
				name = ns + "/" + pod
			}
		}
		if name == "" || name == "<NA>" {
			return id
		}
		return id + " " + name // the id first: a narrow column cuts the name
	}
	if source == event.SourceInternal {
		return "falco"
	}
	if s, ok := report.SubjectFields[source]; ok {
		who, where := field(s[0]), field(s[1])
		switch {
		case who != "" && where != "":
			return who + " (" + where + ")"
		case who != "":
			return who
		}
		return where
	}
	return ""
}
