package report

import "time"

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
	Since, Until time.Time
	Reports      int // incidents
	Occurrences  int // alerts folded into them
	ByPriority   []Count
	ByRule       []Count
	ByHost       []Count
	BySource     []Count
	Top          []Entry // the incidents with the most occurrences
	Storms       []Storm
	// Timeline counts the incidents by when they began, one Count per
	// Bucket (an hour, or a day over long periods) from Since to Until;
	// Key is the bucket's start in RFC 3339.
	Timeline []Count
	Bucket   time.Duration
}

// Count is the number of reports and alerts under one key.
type Count struct {
	Key         string
	Reports     int
	Occurrences int
}

// Storm is a rule that opened many incidents in a short time.
type Storm struct {
	Rule     string
	Reports  int           // incidents in the busiest window
	From, To time.Time     // first_seen of the window's first and last incident
	Window   time.Duration // the window the threshold applies to
}
