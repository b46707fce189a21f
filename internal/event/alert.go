// Package event defines the Alert that every input produces and every
// later stage of the pipeline consumes.
package event

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Alert is one Falco alert, whichever input it came from.
//
// Every string in an Alert is valid UTF-8: inputs build alerts with New or
// Normalize, which replace invalid bytes with U+FFFD. Strings are otherwise
// exactly what Falco sent and must be treated as attacker-controlled.
type Alert struct {
	Time     time.Time
	Priority Priority
	Rule     string
	Source   string
	Hostname string
	Output   string
	Tags     []string
	Fields   Fields

	// Message is Falco's "message" property (json_include_message_property:
	// true): the rule's output without the time and priority in front.
	// Alerts that carry no output get it as their Output too.
	Message string

	// Raw is the alert exactly as the input received it, for the report's
	// raw-alert section: the JSON text for the HTTP and file inputs, the
	// gRPC message's set fields as JSON for gRPC. It is capped at MaxRaw
	// bytes and made valid UTF-8.
	Raw string
}

// MaxRaw caps Alert.Raw. Reports show the raw alert for reference; the
// values themselves are kept whole (up to the input's limit) in Fields.
const MaxRaw = 64 << 10

// MaxAlertBytes is the largest alert every input accepts: the gRPC message,
// the HTTP body (the default of falco.http.max_body) and the line of a file.
// A Falco alert can carry several copies of a command line of up to 2 MiB,
// which JSON escaping of control characters can make six times larger.
const MaxAlertBytes = 64 << 20

// RawText returns data as Alert.Raw keeps it: valid UTF-8, cut at MaxRaw
// bytes with a marker saying how much was received.
func RawText(data []byte) string {
	if len(data) <= MaxRaw {
		return validUTF8(string(data))
	}
	cut := strings.ToValidUTF8(string(data[:MaxRaw]), "")
	return fmt.Sprintf("%s… [cut: %d of %d bytes shown]", validUTF8(cut), MaxRaw, len(data))
}

// Normalize replaces invalid UTF-8 in every string of a with U+FFFD and
// fills Source for old Falco versions that did not send one.
func (a *Alert) Normalize() {
	a.Rule = validUTF8(a.Rule)
	a.Source = validUTF8(a.Source)
	a.Hostname = validUTF8(a.Hostname)
	a.Output = validUTF8(a.Output)
	a.Message = validUTF8(a.Message)
	a.Raw = validUTF8(a.Raw)
	for i, t := range a.Tags {
		a.Tags[i] = validUTF8(t)
	}
	if a.Fields != nil {
		clean := make(Fields, len(a.Fields))
		for k, v := range a.Fields {
			v.Text = validUTF8(v.Text)
			clean[validUTF8(k)] = v
		}
		a.Fields = clean
	}
	switch a.Source {
	case "":
		a.Source = DefaultSource(a.Rule)
	case SourceSidekickSyscalls:
		a.Source = SourceSyscall
	}
	if a.Output == "" {
		a.Output = a.Message
	}
}

// DefaultSource guesses the source of an alert from an old Falco that sent
// none: internal alerts are named "Falco internal: ...", the rest were
// syscall alerts when the field did not exist yet.
func DefaultSource(rule string) string {
	if strings.HasPrefix(rule, InternalPrefix) {
		return SourceInternal
	}
	return SourceSyscall
}

// Source names used by Falco.
const (
	SourceSyscall  = "syscall"
	SourceInternal = "internal"
	SourceK8sAudit = "k8s_audit"
)

// SourceSidekickSyscalls is what falcosidekick puts in an alert that had
// no source; Falco itself calls that source "syscall".
const SourceSidekickSyscalls = "syscalls"

// InternalPrefix starts the name of every alert that Falco raises about itself.
const InternalPrefix = "Falco internal: "

// IsHost reports whether the alert came from the host rather than a container.
func (a *Alert) IsHost() bool {
	id, ok := a.Fields.Get("container.id")
	return !ok || id == "host"
}

// ContainerID returns the container id, or "" for the host.
func (a *Alert) ContainerID() string {
	if a.IsHost() {
		return ""
	}
	id, _ := a.Fields.Get("container.id")
	return id
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Capped returns a copy of a in which the output and every field value are
// cut to at most max bytes (on a rune boundary). Reports never show more
// than a few kilobytes of a value; this bounds what is kept of an alert
// carrying megabytes.
func (a Alert) Capped(max int) Alert {
	cut := func(s string) string {
		if len(s) <= max {
			return s
		}
		return strings.ToValidUTF8(s[:max], "")
	}
	a.Output = cut(a.Output)
	a.Message = cut(a.Message)
	a.Raw = cut(a.Raw)
	if a.Fields != nil {
		f := make(Fields, len(a.Fields))
		for k, v := range a.Fields {
			v.Text = cut(v.Text)
			f[cut(k)] = v
		}
		a.Fields = f
	}
	return a
}
