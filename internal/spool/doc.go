// Package spool is a write-ahead log of received alerts, so that an alert
// the daemon has accepted survives kill -9 and, once fsynced, a power loss.
//
// Append writes a record to the current segment file with one write(2)
// before it returns, so the record is in the kernel's page cache and
// survives the death of the process. A background goroutine fsyncs the
// segment every Options.SyncEvery (group commit: one fdatasync covers every
// append since the last one); WaitSynced and Sync wait for it. Only records
// appended after the last finished fsync can be lost when the machine
// itself crashes.
//
// On disk, Options.Dir holds segment files named by the sequence number of
// their first record ("00000000000000000001.seg", zero-padded so that names
// sort in sequence order) and a file "watermark" holding the highest
// trimmed sequence number. A segment is a series of records:
//
//	offset 0   uint32 little-endian  payload length
//	offset 4   uint32 little-endian  CRC-32C of bytes 0-3, 8-15 and the payload
//	offset 8   uint64 little-endian  sequence number
//	offset 16  payload
//
// A payload is an alert (AppendEntry: a version byte, 2 to 4, or '{' for
// version 1) or an evidence snapshot for an incident (AppendEvidence: 'E').
//
// A damaged region (a torn write, garbage, a bad checksum, a sequence number
// out of order) ends what is readable of its segment: Open truncates the last
// segment there so that new records follow the good prefix, and Replay skips
// the rest of any other segment. Both count it in Stats.Corrupt; neither
// fails.
//
// The app opens the spool, replays it before its inputs start, appends
// each accepted alert before acknowledging it, and calls Trim with the
// highest sequence number below which every alert is in a written report
// (with alerts finishing out of order, the lowest unfinished one minus 1).
//
// Only one process may use a spool directory at a time, and Open does not
// lock it: the caller must hold a lock that covers it (falco-reporter holds
// the reports directory's lock for the life of the daemon).
package spool
