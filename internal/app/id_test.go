package app

import "testing"

// TestReportID: the id is a function of position and checksum, never the
// same for two of them, and neighbouring positions differ in their first
// digits, so that `show` can take a short prefix.
func TestReportID(t *testing.T) {
	if reportID(42, 7) != reportID(42, 7) {
		t.Fatal("the id of one position is not stable")
	}
	seen := map[string]uint64{}
	prefixes := map[string]bool{}
	for seq := uint64(0); seq < 20000; seq += 97 {
		for _, sum := range []uint64{0, 1, 0xffff} {
			id := reportID(seq, sum)
			if len(id) != 16 {
				t.Fatalf("id %q is not 16 hex digits", id)
			}
			if other, ok := seen[id]; ok {
				t.Fatalf("positions %d and %d share id %s", other, seq, id)
			}
			seen[id] = seq
			prefixes[id[:4]] = true
		}
	}
	if len(prefixes) < len(seen)*9/10 {
		t.Errorf("%d distinct 4-digit prefixes for %d ids", len(prefixes), len(seen))
	}
}
