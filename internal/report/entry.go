package report

import (
	"maps"
	"slices"
	"time"
)

// SubjectFields name, per plugin source, the field that says who or what
// an alert is about and a field that places it (Entry.Subject). The field
// names are those of Falco's plugin rules files (k8s_audit,
// aws_cloudtrail, gcp_auditlog, github, okta).
var SubjectFields = map[string][2]string{
	"k8s_audit":      {"ka.user.name", "ka.target.namespace"},
	"aws_cloudtrail": {"ct.user", "ct.region"},
	"gcp_auditlog":   {"gcp.user", "gcp.projectId"},
	"github":         {"github.user", "github.repo.name"},
	"okta":           {"okta.actor.name", "okta.client.ip"},
}

// listingFields are the alert fields a listing reads besides the
// subject fields.
var listingFields = []string{"container.id", "container.full_id", "container.name", "k8s.pod.name", "k8s.ns.name", "proc.exepath", "proc.exe"}

// ListingFields returns the alert fields a listing reads: for the subject,
// the container, or the executable. A report cut to fit a small place
// keeps these fields.
func ListingFields() []string {
	out := append([]string(nil), listingFields...)
	for _, src := range slices.Sorted(maps.Keys(SubjectFields)) {
		out = append(out, SubjectFields[src][0], SubjectFields[src][1])
	}
	return out
}

// ListingField reports whether a listing reads the alert field name.
func ListingField(name string) bool {
	return slices.Contains(ListingFields(), name)
}

// Entry is what a listing shows of one stored report: enough to filter,
// sort and open it, without the playbook text. internal/query reads
// entries back from the reports; internal/render shows them.
type Entry struct {
	ID          string `json:"id"`
	Rule        string `json:"rule"`
	Source      string `json:"source"`
	Priority    string `json:"priority"`
	Hostname    string `json:"hostname"`
	FirstSeen   Time   `json:"first_seen"`
	LastSeen    Time   `json:"last_seen"`
	Occurrences int    `json:"occurrences"`
	Title       string `json:"title"`
	// Subject is where it happened, in the source's own terms: a container
	// ("web (c0ffee1234ab)"), "host", a Kubernetes user, a cloud account.
	Subject string `json:"subject"`
	// ContainerID is the alert's container.id, if it had one.
	ContainerID string `json:"container_id,omitempty"`
	Files       Files  `json:"files"`
}

// Files are the paths of a stored report's formats; empty when absent.
type Files struct {
	JSON     string `json:"json,omitempty"`
	Markdown string `json:"markdown,omitempty"`
	HTML     string `json:"html,omitempty"`
}

// Digest sums up the reports of a period (falco-reporter summary).
type Digest struct {
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Reports     int       `json:"reports"`     // incidents
	Occurrences int       `json:"occurrences"` // alerts folded into them
	ByPriority  []Count   `json:"by_priority"`
	ByRule      []Count   `json:"by_rule"`
	ByHost      []Count   `json:"by_host"`
	BySource    []Count   `json:"by_source"`
	Top         []Entry   `json:"top"` // the incidents with the most occurrences
	Storms      []Storm   `json:"storms"`
	// Timeline counts the incidents by when they began, one Count per
	// Bucket (an hour, or a day over long periods) from Since to Until;
	// Key is the bucket's start in RFC 3339.
	Timeline []Count       `json:"timeline"`
	Bucket   time.Duration `json:"-"` // render.DigestJSON gives it in seconds
}

// Count is the number of reports and alerts under one key.
type Count struct {
	Key         string `json:"key"`
	Reports     int    `json:"reports"`
	Occurrences int    `json:"occurrences"`
}

// Storm is a rule that opened many incidents in a short time.
type Storm struct {
	Rule    string        `json:"rule"`
	Reports int           `json:"reports"` // incidents in the busiest window
	From    time.Time     `json:"from"`    // first_seen of the window's first incident
	To      time.Time     `json:"to"`      // and of its last
	Window  time.Duration `json:"-"`
}
