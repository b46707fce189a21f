package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// headerSize is the size of a record's length, checksum and sequence number.
const headerSize = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the encoded record to buf and returns it.
func appendRecord(buf []byte, seq uint64, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	binary.LittleEndian.PutUint32(h[4:8], checksum(h[:], payload))
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// checksum is the CRC-32C of the length, the sequence number and the payload.
func checksum(h, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	return crc32.Update(c, castagnoli, payload)
}

// scanResult says how far a segment could be read.
type scanResult struct {
	end     int64  // offset just after the last good record
	last    uint64 // sequence number of the last good record, 0 if none
	damaged bool   // bytes after end are not a good record
}

// scan reads the records of a segment of size bytes from r, whose sequence
// numbers must increase and lie in [first, next), and calls fn for each good
// one. It stops at the first damaged record. Its error is an I/O error or
// fn's error; damage is reported in the result.
func scan(r io.Reader, size int64, first, next uint64, fn func(seq uint64, payload []byte) error) (scanResult, error) {
	var res scanResult
	var h [headerSize]byte
	prev := uint64(0)
	for res.end < size {
		if size-res.end < headerSize {
			res.damaged = true
			return res, nil
		}
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return res, fmt.Errorf("read record header: %w", err)
		}
		n := int64(binary.LittleEndian.Uint32(h[0:4]))
		seq := binary.LittleEndian.Uint64(h[8:16])
		if n > MaxPayload || n > size-res.end-headerSize || seq < first || seq >= next || (prev != 0 && seq <= prev) {
			res.damaged = true
			return res, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return res, fmt.Errorf("read record payload: %w", err)
		}
		if checksum(h[:], payload) != binary.LittleEndian.Uint32(h[4:8]) {
			res.damaged = true
			return res, nil
		}
		prev = seq
		res.end += headerSize + n
		res.last = seq
		if fn != nil {
			if err := fn(seq, payload); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}
