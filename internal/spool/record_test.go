package spool

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

func TestScan(t *testing.T) {
	rec := func(seq uint64, p string) []byte { return appendRecord(nil, seq, []byte(p)) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	three := cat(rec(5, "a"), rec(6, "bb"), rec(7, "")) // 17 + 18 + 16 bytes
	tests := []struct {
		name        string
		data        []byte
		first, next uint64
		seqs        []uint64
		end         int64
		damaged     bool
	}{
		{"empty", nil, 1, math.MaxUint64, nil, 0, false},
		{"three", three, 5, 8, []uint64{5, 6, 7}, 51, false},
		{"gap in seqs", cat(rec(5, "a"), rec(9, "b")), 5, 10, []uint64{5, 9}, 34, false},
		{"seq below the segment", rec(4, "a"), 5, 10, nil, 0, true},
		{"seq of the next segment", cat(rec(5, "a"), rec(10, "b")), 5, 10, []uint64{5}, 17, true},
		{"seq repeated", cat(rec(5, "a"), rec(5, "a")), 5, 10, []uint64{5}, 17, true},
		{"seq going back", cat(rec(6, "a"), rec(5, "a")), 5, 10, []uint64{6}, 17, true},
		{"short header", cat(three, []byte{1, 0}), 5, 8, []uint64{5, 6, 7}, 51, true},
		{"short payload", cat(rec(5, "a"), rec(6, "bbbb")[:19]), 5, 8, []uint64{5}, 17, true},
		{"flipped length", flip(three, 0), 5, 8, nil, 0, true},
		{"flipped checksum", flip(three, 4), 5, 8, nil, 0, true},
		{"flipped seq", flip(three, 8), 5, 8, nil, 0, true},
		{"flipped payload", flip(three, headerSize), 5, 8, nil, 0, true},
		{"flipped second record", flip(three, 17+headerSize+1), 5, 8, []uint64{5}, 17, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seqs []uint64
			res, err := scan(bytes.NewReader(tt.data), int64(len(tt.data)), tt.first, tt.next, func(seq uint64, _ []byte) error {
				seqs = append(seqs, seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs, tt.seqs) || res.end != tt.end || res.damaged != tt.damaged {
				t.Fatalf("scan = %v end=%d damaged=%v, want %v end=%d damaged=%v",
					seqs, res.end, res.damaged, tt.seqs, tt.end, tt.damaged)
			}
		})
	}
}
