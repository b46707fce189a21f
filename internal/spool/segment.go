package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// segExt ends the name of every segment file.
const segExt = ".seg"

// segment is one segment file.
type segment struct {
	first   uint64 // sequence number in the name; records are >= first
	size    int64  // bytes in the file
	damaged bool   // a damaged region was found and counted
	goodEnd int64  // when damaged, the offset where the damage starts
}

// segName returns the file name of the segment whose first record is first.
func segName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, segExt)
}

// parseSegName returns the first sequence number named by a segment file
// name, and false for any other name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segExt)
	if !ok || len(digits) != 20 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	first, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || first == 0 {
		return 0, false
	}
	return first, true
}

// listSegments returns the segment files of dir in sequence order.
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range entries {
		first, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		segs = append(segs, &segment{first: first, size: fi.Size()})
	}
	slices.SortFunc(segs, func(a, b *segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// createSegment creates the empty segment file for first, open for
// appending, with mode 0640 whatever the umask.
func createSegment(dir string, first uint64) (*os.File, error) {
	path := filepath.Join(dir, segName(first))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, fileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(fileMode); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return f, nil
}
