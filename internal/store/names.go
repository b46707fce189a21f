package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error about a name, extension or day that
// the store refuses to turn into a path.
var ErrInvalid = errors.New("invalid report entry")

const (
	// maxName bounds a report name so that the name, its extension and the
	// temporary-file decoration stay well below the 255-byte file name limit.
	maxName = 200
	// dayLayout names the day directories.
	dayLayout = "2006-01-02"
	// tmpPrefix starts every temporary file; report names never start with a
	// dot, so a temporary file can never be taken for a report.
	tmpPrefix = ".tmp-"
)

// checkName reports why name is not a valid report name. A valid name is
// 1 to 200 bytes of [A-Za-z0-9._-], does not start with a dot or a dash and
// does not contain "..".
func checkName(name string) error {
	if name == "" || len(name) > maxName {
		return fmt.Errorf("%w: name must be 1 to %d bytes long", ErrInvalid, maxName)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("%w: name %q starts with %q", ErrInvalid, name, name[0])
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("%w: name %q contains \"..\"", ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("%w: name %q contains byte %#x", ErrInvalid, name, name[i])
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// checkExt reports whether ext is one of the extensions the store manages.
// The store stores bytes and knows nothing of formats, but it deletes only
// files that match its own naming pattern, so the set is closed.
func checkExt(ext string) error {
	switch ext {
	case "md", "json", "html":
		return nil
	}
	return fmt.Errorf("%w: extension %q (want md, json or html)", ErrInvalid, ext)
}

// dayName returns the directory name for day, in day's own location.
func dayName(day time.Time) (string, error) {
	if day.IsZero() || day.Year() < 1000 || day.Year() > 9999 {
		return "", fmt.Errorf("%w: day %v out of range", ErrInvalid, day)
	}
	return day.Format(dayLayout), nil
}

// isDayName reports whether s is a directory name the store could have
// made: a day, or a day's fallback name (see fallbackDay).
func isDayName(s string) bool {
	if len(s) == len(dayLayout)+2 && s[len(dayLayout)] == '_' && s[len(dayLayout)+1] >= '1' && s[len(dayLayout)+1] <= '9' {
		s = s[:len(dayLayout)]
	}
	if len(s) != len(dayLayout) {
		return false
	}
	t, err := time.Parse(dayLayout, s)
	return err == nil && t.Format(dayLayout) == s
}

// maxFallbacks bounds the fallback names tried for one day.
const maxFallbacks = 9

// fallbackDay returns the i-th (1 to 9) other name for the directory of
// day, used when day's own name is taken by something that is not a
// directory of ours, such as a symlink or a file: 2026-04-02_1.
func fallbackDay(day string, i int) string { return day + "_" + string(rune('0'+i)) }

// priorities is the number of Falco priorities, Emergency (0) to Debug (7).
const priorities = 8

// defaultPriority ranks reports whose name carries no priority (those of
// older versions): Warning, the middle of Falco's scale.
const defaultPriority = 4

// priorityNames are Falco's priorities as report names spell them, most
// severe first.
var priorityNames = [priorities]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// priorityOf returns the priority a report name carries in its second
// dash-separated part (<time>-<priority>-<rule>-<id>), from 0 (emergency)
// to 7 (debug), or defaultPriority.
func priorityOf(name string) int {
	_, rest, ok := strings.Cut(name, "-")
	if !ok {
		return defaultPriority
	}
	word, _, _ := strings.Cut(rest, "-")
	for p, n := range priorityNames {
		if word == n {
			return p
		}
	}
	return defaultPriority
}

// PriorityName returns the word that report names carry for Falco's
// priority p (0 to 7), or "" for any other number.
func PriorityName(p int) string {
	if p < 0 || p >= priorities {
		return ""
	}
	return priorityNames[p]
}

// splitFile splits a file name into report name and extension, and reports
// whether it matches the store's naming pattern.
func splitFile(file string) (name, ext string, ok bool) {
	i := strings.LastIndexByte(file, '.')
	if i <= 0 {
		return "", "", false
	}
	name, ext = file[:i], file[i+1:]
	if checkExt(ext) != nil || checkName(name) != nil {
		return "", "", false
	}
	return name, ext, true
}

// checkEntry validates everything in e that becomes part of a path.
func checkEntry(e Entry) (day string, err error) {
	if err := checkName(e.Name); err != nil {
		return "", err
	}
	if day, err = dayName(e.Day); err != nil {
		return "", err
	}
	if len(e.Files) == 0 {
		return "", fmt.Errorf("%w: report %q has no files", ErrInvalid, e.Name)
	}
	for i, f := range e.Files {
		if err := checkExt(f.Ext); err != nil {
			return "", err
		}
		for _, g := range e.Files[:i] {
			if g.Ext == f.Ext {
				return "", fmt.Errorf("%w: report %q has two %q files", ErrInvalid, e.Name, f.Ext)
			}
		}
	}
	return day, nil
}
