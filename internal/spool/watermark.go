package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// Watermark file names in the spool directory.
const (
	watermarkFile = "watermark"
	watermarkTemp = "watermark.tmp"
)

// errBadWatermark means the watermark file exists but cannot be trusted.
var errBadWatermark = errors.New("damaged watermark file")

// readWatermark returns the trimmed sequence number stored in dir, 0 if
// there is none.
func readWatermark(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, watermarkFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, errBadWatermark
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}

// writeWatermark stores seq atomically and durably: a temporary file is
// written and fsynced, renamed over the old one, and the directory d fsynced.
func writeWatermark(d *os.File, seq uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], seq)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	tmp := filepath.Join(d.Name(), watermarkTemp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	err = f.Chmod(fileMode)
	if err == nil {
		_, err = f.Write(b[:])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(d.Name(), watermarkFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write watermark: %w", err)
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync spool directory: %w", err)
	}
	return nil
}
