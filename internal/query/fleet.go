package query

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// FleetOptions say how to reach a VictoriaLogs that holds the journal
// entries of many hosts (docs/fleet.md).
type FleetOptions struct {
	// URL is VictoriaLogs' address, e.g. https://logs.example.com:9428,
	// with the path prefix of a proxy in front of it if there is one. It
	// must not hold credentials.
	URL string
	// User and Password are sent with HTTP basic authentication when User
	// is set; only over https, or to a loopback address.
	User, Password string
	// CA is a PEM file of the CAs to trust instead of the system's; Cert
	// and Key are a client certificate, for mutual TLS.
	CA, Cert, Key string
	// Tenant is VictoriaLogs' AccountID:ProjectID; empty: 0:0.
	Tenant string
	// Filter is a LogsQL filter that only genuine falco-reporter entries
	// pass; empty: DefaultFleetFilter.
	Filter string
	// Timeout bounds each query; 0: one minute.
	Timeout time.Duration
}

// Fleet is the Backend over VictoriaLogs' LogsQL query API
// (/select/logsql/query), fed with the journal entries of many hosts by
// systemd-journal-upload. Each report is read from REPORT_JSON in the
// latest entry of its host (the highest OCCURRENCES), and filtered by the
// same code as Local, so that a fleet's listing and a host's agree.
type Fleet struct {
	base              *url.URL
	client            *http.Client
	user, password    string
	account, project  string
	filter            string
	timeout           time.Duration
	now               func() time.Time
	poll, followSlack time.Duration
}

// NewFleet checks o and returns the backend. It does not connect.
func NewFleet(o FleetOptions) (*Fleet, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("fleet URL %q: want http:// or https://, a host and an optional port", safe.Line(o.URL))
	}
	if u.User != nil {
		return nil, errors.New("fleet URL: credentials in a URL show in the process list and in logs; give the user with --fleet-user and the password in FALCO_REPORTER_FLEET_PASSWORD or --fleet-password-file")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("fleet URL %q: no query or fragment, please", safe.Line(o.URL))
	}
	if o.User != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("fleet URL %s: basic authentication over http:// would send the password in clear; use https://", u.Redacted())
	}
	f := &Fleet{base: u, user: o.User, password: o.Password, filter: o.Filter, timeout: o.Timeout,
		now: time.Now, poll: 2 * time.Second, followSlack: 10 * time.Minute}
	if f.filter == "" {
		f.filter = DefaultFleetFilter
	}
	if f.timeout <= 0 {
		f.timeout = time.Minute
	}
	if o.Tenant != "" {
		a, p, ok := strings.Cut(o.Tenant, ":")
		if !ok || !digits(a) || !digits(p) {
			return nil, fmt.Errorf("fleet tenant %q: want AccountID:ProjectID, two numbers", safe.Line(o.Tenant))
		}
		f.account, f.project = a, p
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, fmt.Errorf("fleet CA: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("fleet CA %s: no PEM certificate in it", o.CA)
		}
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, errors.New("fleet client certificate: give both the certificate and its key")
	}
	if o.Cert != "" {
		c, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("fleet client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	f.client = &http.Client{Transport: tr}
	return f, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// String names the store for messages: its URL, without credentials.
func (f *Fleet) String() string { return f.base.Redacted() }

// fleetRecord is a record read from the store, with where it came from.
type fleetRecord struct {
	record
	machine string // _MACHINE_ID of the host
	path    string // REPORT_PATH on the host
	cut     bool   // REPORT_TRUNCATED
	occ     int    // OCCURRENCES
	data    []byte // REPORT_JSON, when asked for
	time    time.Time
}

// key tells reports apart across hosts: report ids are unique on one
// host only.
func (r *fleetRecord) key() string { return r.machine + "/" + r.entry.ID }

// newer reports whether r is a later entry of its report than o.
func (r *fleetRecord) newer(o *fleetRecord) bool {
	return r.occ > o.occ || r.occ == o.occ && r.time.After(o.time)
}

// query runs the LogsQL for flt (and an id prefix) and returns the latest
// entry of each report, decoded; with full, with its REPORT_JSON (which a
// grep needs).
func (f *Fleet) query(ctx context.Context, flt Filter, idPrefix string, full bool) ([]*fleetRecord, error) {
	full = full || flt.Grep != ""
	latest := map[string]*fleetRecord{}
	var p, q fastjson.Parser
	grep := []byte(strings.ToLower(flt.Grep))
	err := f.run(ctx, logsQL(f.filter, flt, idPrefix, full), func(v *fastjson.Value) {
		str := func(k string) string { return string(v.GetStringBytes(k)) }
		r := &fleetRecord{machine: str(vlMachine), path: str(vlReportPath), cut: str(vlReportCut) == "1"}
		r.occ, _ = strconv.Atoi(str(vlOccurs))
		r.time, _ = time.Parse(time.RFC3339Nano, str("_time"))
		var rec record
		var err error
		if full {
			r.data = append([]byte(nil), v.GetStringBytes(vlReportJSON)...)
			rec, err = decode(&q, r.data, grep)
		} else {
			rec, err = decodeUnpacked(v, "r.")
		}
		if err != nil {
			return // not a report: a forged or damaged entry that passed the filter
		}
		r.record = rec
		r.entry.Files = filesAt(r.path)
		if prev := latest[r.key()]; prev == nil || r.newer(prev) {
			latest[r.key()] = r
		}
	}, &p)
	if err != nil {
		return nil, err
	}
	out := make([]*fleetRecord, 0, len(latest))
	for _, r := range latest {
		out = append(out, r)
	}
	return out, nil
}

// run posts a LogsQL query and calls fn with each line of the answer.
func (f *Fleet) run(ctx context.Context, logsql string, fn func(*fastjson.Value), p *fastjson.Parser) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	form := url.Values{"query": {logsql}}
	u := f.base.JoinPath("select/logsql/query")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if f.user != "" {
		req.SetBasicAuth(f.user, f.password)
	}
	if f.account != "" {
		req.Header.Set("AccountID", f.account)
		req.Header.Set("ProjectID", f.project)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("query the fleet at %s: %w", f, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		msg := strings.TrimSpace(string(body))
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			msg = "authentication refused (check --fleet-user and the password, or the client certificate): " + msg
		}
		return fmt.Errorf("query the fleet at %s: %s: %s", f, resp.Status, safe.Line(msg))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 8<<20) // a line holds one REPORT_JSON of at most 32 KiB, escaped
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		v, err := p.ParseBytes(line)
		if err != nil {
			return fmt.Errorf("query the fleet at %s: malformed answer: %w", f, err)
		}
		fn(v)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("query the fleet at %s: %w", f, err)
	}
	return nil
}

// filesAt names a report's files on its host from the path of one.
func filesAt(path string) report.Files {
	var fs report.Files
	switch {
	case strings.HasSuffix(path, ".md"):
		fs.Markdown = path
	case strings.HasSuffix(path, ".json"):
		fs.JSON = path
	case strings.HasSuffix(path, ".html"):
		fs.HTML = path
	}
	return fs
}

// List implements Backend.
func (f *Fleet) List(ctx context.Context, flt Filter) ([]report.Entry, error) {
	m, err := compile(flt)
	if err != nil {
		return nil, err
	}
	rs, err := f.query(ctx, flt, "", false)
	if err != nil {
		return nil, err
	}
	recs := make([]*record, len(rs))
	for i, r := range rs {
		recs[i] = &r.record
	}
	return selectEntries(recs, m, flt.Limit), nil
}

// Get implements Backend. ref is an id or an id prefix; report ids are
// unique on one host only, so the same id on two hosts is ambiguous
// unless flt tells them apart (--host).
func (f *Fleet) Get(ctx context.Context, ref string, flt Filter) (*Doc, error) {
	if ref == "" || strings.ContainsAny(ref, "/\\") {
		return nil, fmt.Errorf("%w: %q is not a report id (a path names a file on one host; give the report's id)", ErrNotFound, safe.Line(ref))
	}
	flt.Grep = ""
	m, err := compile(flt)
	if err != nil {
		return nil, err
	}
	rs, err := f.query(ctx, Filter{}, ref, false)
	if err != nil {
		return nil, err
	}
	var found []*fleetRecord
	for _, r := range rs {
		if m.match(&r.record) {
			found = append(found, r)
		}
	}
	if exact := slices.DeleteFunc(slices.Clone(found), func(r *fleetRecord) bool { return r.entry.ID != ref }); len(exact) > 0 {
		found = exact
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("%w: no report id starts with %q in the fleet at %s", ErrNotFound, ref, f)
	case len(found) > 1:
		names := make([]string, 0, len(found))
		for _, r := range found {
			names = append(names, r.entry.ID+" on "+safe.Line(r.entry.Hostname))
		}
		return nil, fmt.Errorf("%w: %q is %s; give more of the id, or the host with --host", ErrAmbiguous, ref, someOf(names))
	}
	r, err := f.report(ctx, found[0])
	if err != nil {
		return nil, err
	}
	doc := &Doc{Entry: r.entry, JSON: r.data}
	if err := json.Unmarshal(r.data, &doc.Report); err != nil {
		return nil, fmt.Errorf("report %s in the fleet: %w: %v", r.entry.ID, errNotReport, err)
	}
	if r.cut {
		var cut struct {
			Cut string `json:"journal_cut"`
		}
		_ = json.Unmarshal(r.data, &cut)
		doc.Partial = fmt.Sprintf("the report was cut to fit its journal entry (left out: %s); the whole report is on %s at %s",
			orUnknown(cut.Cut), safe.Line(r.entry.Hostname), safe.Line(r.path))
	}
	return doc, nil
}

// report reads the REPORT_JSON of r's entry.
func (f *Fleet) report(ctx context.Context, r *fleetRecord) (*fleetRecord, error) {
	q := "(" + f.filter + `) AND SYSLOG_IDENTIFIER:="falco-reporter" AND ` + vlMachine + ":=" + quote(r.machine) +
		" AND " + vlReportID + ":=" + quote(r.entry.ID) + " AND " + vlOccurs + ":=" + quote(strconv.Itoa(r.occ)) +
		" | fields _time, " + vlReportJSON
	var p fastjson.Parser
	var data []byte
	var at time.Time
	err := f.run(ctx, q, func(v *fastjson.Value) {
		t, _ := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("_time")))
		if data == nil || t.After(at) {
			data, at = append([]byte(nil), v.GetStringBytes(vlReportJSON)...), t
		}
	}, &p)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%w: report %s of %s is no longer in the fleet at %s", ErrNotFound, r.entry.ID, safe.Line(r.entry.Hostname), f)
	}
	out := *r
	out.data = data
	return &out, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Follow implements Backend by asking the store every few seconds for the
// entries of the last minutes (followSlack): entries reach the store when
// their host uploads them, which may be later than they were written.
// An entry that reaches the store more than followSlack after it was
// written (a host cut off for longer) is not shown; `list` has it.
func (f *Fleet) Follow(ctx context.Context, flt Filter, fn func(Change) error) error {
	m, err := compile(flt)
	if err != nil {
		return err
	}
	start := f.now()
	shown := map[string]report.Entry{}
	look := func(first bool) error {
		q := flt
		q.Since, q.Limit = f.now().Add(-f.followSlack), 0
		if first && !flt.Since.IsZero() {
			q.Since = flt.Since
		}
		rs, err := f.query(ctx, q, "", false)
		if err != nil {
			return err
		}
		var changed []*fleetRecord
		for _, r := range rs {
			if !m.match(&r.record) {
				continue
			}
			if first && flt.Since.IsZero() && r.time.Before(start) {
				shown[r.key()] = r.entry // history: not shown
				continue
			}
			changed = append(changed, r)
		}
		slices.SortFunc(changed, func(a, b *fleetRecord) int { return newestFirst(&b.entry, &a.entry) })
		for _, r := range changed {
			prev, seen := shown[r.key()]
			if seen && prev.Occurrences == r.entry.Occurrences && prev.LastSeen.Equal(r.entry.LastSeen.Time) && prev.Priority == r.entry.Priority {
				continue
			}
			shown[r.key()] = r.entry
			if err := fn(Change{Entry: r.entry, New: !seen}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := look(true); err != nil {
		return err
	}
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := look(false); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
