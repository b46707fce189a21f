package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// TestQueueSpillsToSpool: with the queue full, Offer (the HTTP input)
// accepts into the spool; feed queues those alerts in spool order as the
// writer takes; Put (inputs that can wait) waits meanwhile; Offer refuses
// only when the spool is full.
func TestQueueSpillsToSpool(t *testing.T) {
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(t.TempDir(), "spool"), MaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	q := newQueue(1, sp, NewMetrics(), zerolog.Nop())
	accepted := 0
	for i := range 1000 {
		if !q.Offer(alert("Read sensitive file untrusted", i)) {
			break
		}
		accepted++
	}
	if accepted < 10 || accepted == 1000 {
		t.Fatalf("%d alerts accepted with a queue of 1 and a 64 KiB spool", accepted)
	}
	if q.spilled() != uint64(accepted-1) {
		t.Errorf("%d spilled, want %d", q.spilled(), accepted-1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := q.Put(ctx, alert("Read sensitive file untrusted", -1)); err == nil {
		t.Error("Put went past alerts waiting in the spool")
	}
	cancel()

	feedCtx, stopFeed := context.WithCancel(context.Background())
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); q.feed(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()
	for i := range accepted {
		select {
		case it := <-q.ch:
			if it.seq != uint64(i+1) || it.a.Fields["fd.name"].Text != alert("", i).Fields["fd.name"].Text {
				t.Fatalf("alert %d: seq %d, fd.name %v", i, it.seq, it.a.Fields["fd.name"])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("alert %d never queued", i)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for q.spilled() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d spilled", q.spilled())
		}
		time.Sleep(time.Millisecond)
	}
	if err := sp.Trim(uint64(accepted)); err != nil { // as the writer does once they are in reports
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Put(ctx, alert("Read sensitive file untrusted", accepted)); err != nil {
		t.Fatal(err)
	}
	if it := <-q.ch; it.seq != uint64(accepted+1) {
		t.Errorf("seq %d after catching up, want %d", it.seq, accepted+1)
	}
}
