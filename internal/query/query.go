// Package query reads reports back: it lists, finds, follows and sums up
// the incident reports the daemon wrote. Backend hides where they are
// kept: Local reads a reports directory, Fleet a VictoriaLogs that holds
// the journal entries of many hosts. Turning what it returns into text or
// HTML is internal/render's job.
package query

import (
	"context"
	"errors"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Backend is a store of reports that can be queried: Local (a reports
// directory) or Fleet (VictoriaLogs). Every string in what it returns may
// come from an attacker and must be escaped for display.
type Backend interface {
	// List returns the reports that match f, newest (last seen) first.
	List(ctx context.Context, f Filter) ([]report.Entry, error)
	// Get returns the report that ref names among those f selects (f's
	// Grep and Limit are ignored): a path to one of its files (Local only), its id,
	// or a prefix of its id that no other such report shares.
	Get(ctx context.Context, ref string, f Filter) (*Doc, error)
	// Follow calls fn for each report that matches f as it is written or
	// updated with more occurrences, oldest first, until ctx ends or fn
	// returns an error. Reports written from the moment Follow is called
	// are never missed; with f.Since set, the reports since then come
	// first.
	Follow(ctx context.Context, f Filter, fn func(Change) error) error
}

// Doc is one report, as stored.
type Doc struct {
	Entry    report.Entry
	Report   report.Report // decoded from the JSON report
	JSON     []byte        // the JSON report as stored
	Markdown []byte        // the Markdown report as stored; nil if there is none
	// Partial, when set, says that this is not the whole report, what it
	// lacks and where the whole one is.
	Partial string
}

// Change is one report written or updated.
type Change struct {
	Entry report.Entry
	New   bool // false: an update of a report already seen
}

// ErrNotFound is wrapped by Get's error when nothing matches.
var ErrNotFound = errors.New("no such report")

// ErrAmbiguous is wrapped by Get's error when an id prefix names several
// reports.
var ErrAmbiguous = errors.New("ambiguous report id")
