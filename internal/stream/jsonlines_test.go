package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// tapSink records what inputs deliver. When full, Offer refuses and Put
// waits for ctx, like a pipeline that has no room.
type tapSink struct {
	mu     sync.Mutex
	alerts []event.Alert
	full   bool
}

func (s *tapSink) Put(ctx context.Context, a event.Alert) error {
	s.mu.Lock()
	full := s.full
	if !full {
		s.alerts = append(s.alerts, a)
	}
	s.mu.Unlock()
	if full {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *tapSink) Offer(a event.Alert) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		return false
	}
	s.alerts = append(s.alerts, a)
	return true
}

func (s *tapSink) got() []event.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.alerts)
}

// waitN waits up to 30 s (the machine may be loaded) for at least n
// alerts and returns them.
func (s *tapSink) waitN(t *testing.T, n int) []event.Alert {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.got()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d alerts after 30s, want %d: %v", len(got), n, tapNums(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tapLine returns one alert line in Falco's file_output format, told apart
// by its evt.num.
func tapLine(n int) string {
	return fmt.Sprintf(`{"hostname":"web-1","output":"2026-04-02T10:00:01.000000000+0000: Warning Sensitive file opened for reading by non-trusted program | file=/etc/shadow","output_fields":{"evt.num":%d,"evt.time":1775124001000000000,"fd.name":"/etc/shadow","proc.name":"cat"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["filesystem","mitre_credential_access"],"time":"2026-04-02T10:00:01.000000000Z"}`+"\n", n)
}

// tapNums returns the evt.num of each alert, sorted.
func tapNums(alerts []event.Alert) []int {
	var nums []int
	for _, a := range alerts {
		n, err := strconv.Atoi(a.Fields["evt.num"].Text)
		if err != nil {
			n = -1
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums
}

// tapRange returns from, from+1, ..., to.
func tapRange(from, to int) []int {
	var r []int
	for i := from; i <= to; i++ {
		r = append(r, i)
	}
	return r
}

// tapDrops counts OnDrop reasons.
type tapDrops struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *tapDrops) add(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[string]int{}
	}
	d.n[reason]++
}

func (d *tapDrops) get(reason string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[reason]
}

func TestLineScanner(t *testing.T) {
	tests := []struct {
		name  string
		input string
		max   int
		want  []string // "!" marks an overlong line
		rest  string
	}{
		{"complete lines", "a\nbb\n\nccc\n", 100, []string{"a", "bb", "", "ccc"}, ""},
		{"partial last line waits", "a\nbb", 100, []string{"a"}, "bb"},
		{"overlong line skipped", "a\n" + strings.Repeat("x", 50) + "\nb\n", 10, []string{"a", "!", "b"}, ""},
		{"line of exactly max", strings.Repeat("y", 10) + "\nb\n", 10, []string{strings.Repeat("y", 10), "b"}, ""},
		{"overlong last line", "a\n" + strings.Repeat("x", 50), 10, []string{"a"}, "!"},
	}
	for _, tt := range tests {
		for _, one := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/onebyte=%v", tt.name, one), func(t *testing.T) {
				var r io.Reader = strings.NewReader(tt.input)
				if one {
					r = iotest.OneByteReader(r)
				}
				sc := newLineScanner(r, tt.max)
				var got []string
				var consumed int64
				for {
					line, size, err := sc.next()
					if err == io.EOF {
						break
					}
					switch {
					case errors.Is(err, errLineTooLong):
						got = append(got, "!")
					case err != nil:
						t.Fatal(err)
					default:
						got = append(got, string(line))
					}
					consumed += size
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("lines = %q, want %q", got, tt.want)
				}
				if consumed+sc.pending() != int64(len(tt.input)) {
					t.Errorf("consumed %d + pending %d != input %d", consumed, sc.pending(), len(tt.input))
				}
				rest, _, tooLong := sc.rest()
				if tooLong {
					rest = []byte("!")
				}
				if string(rest) != tt.rest {
					t.Errorf("rest = %q, want %q", rest, tt.rest)
				}
			})
		}
	}
}

func TestLineScannerGrowingInput(t *testing.T) {
	var buf bytes.Buffer
	sc := newLineScanner(&buf, 100)
	buf.WriteString("one\ntw")
	if line, _, err := sc.next(); err != nil || string(line) != "one" {
		t.Fatalf("next = %q, %v", line, err)
	}
	if _, _, err := sc.next(); err != io.EOF {
		t.Fatalf("partial line: err = %v, want io.EOF", err)
	}
	buf.WriteString("o\n")
	if line, size, err := sc.next(); err != nil || string(line) != "two" || size != 4 {
		t.Fatalf("completed line = %q (%d), %v", line, size, err)
	}
}

func TestIngest(t *testing.T) {
	alerts, err := os.ReadFile("testdata/alerts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := os.ReadFile("testdata/mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		input []byte
		want  IngestStats
		drops map[string]int
	}{
		{"falco file", alerts, IngestStats{Lines: 6, Alerts: 6}, nil},
		{"mixed lines", mixed, IngestStats{Lines: 5, Alerts: 2, Skipped: 3}, map[string]int{DropNotAlert: 3}},
		{"last line without newline", bytes.TrimSuffix(alerts, []byte("\n")), IngestStats{Lines: 6, Alerts: 6}, nil},
		{"crlf line ends", bytes.ReplaceAll(alerts, []byte("\n"), []byte("\r\n")), IngestStats{Lines: 6, Alerts: 6}, nil},
		{"empty", nil, IngestStats{}, nil},
		{"overlong line", []byte(tapLine(1) + `{"x":"` + strings.Repeat("a", 4096) + "\"}\n" + tapLine(2)),
			IngestStats{Lines: 3, Alerts: 2, Skipped: 1}, map[string]int{DropLineTooLong: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &tapSink{}
			drops := &tapDrops{}
			got, err := Ingest(context.Background(), bytes.NewReader(tt.input), sink,
				IngestOptions{Logger: zerolog.Nop(), OnDrop: drops.add, MaxLine: 1024})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("stats = %+v, want %+v", got, tt.want)
			}
			if n := len(sink.got()); n != tt.want.Alerts {
				t.Errorf("sink got %d alerts, want %d", n, tt.want.Alerts)
			}
			for reason, n := range tt.drops {
				if d := drops.get(reason); d != n {
					t.Errorf("drops[%s] = %d, want %d", reason, d, n)
				}
			}
		})
	}
}

func TestIngestAlertContent(t *testing.T) {
	f, err := os.Open("testdata/alerts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sink := &tapSink{}
	if _, err := Ingest(context.Background(), f, sink, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	got := sink.got()
	if len(got) != 6 {
		t.Fatalf("got %d alerts, want 6", len(got))
	}
	if v := got[0].Fields["evt.time"]; v.Text != "1775124001123456789" || v.Kind != event.Number {
		t.Errorf("evt.time = %+v, want exact 1775124001123456789", v)
	}
	if v := got[1].Fields["ka.user.groups"]; v.Kind != event.JSON || v.Text != `{"system:masters":true}` {
		t.Errorf("nested object = %+v", v)
	}
	if got[2].Priority != event.PriorityNotice {
		t.Errorf("priority NOTICE parsed as %v", got[2].Priority)
	}
	for _, k := range []string{"container.name", "k8s.ns.name", "k8s.pod.name"} {
		if _, ok := got[2].Fields.Get(k); ok {
			t.Errorf("%s should be missing", k)
		}
	}
	if a := got[3]; a.Output != "" || a.Tags != nil || a.Fields != nil || a.Rule != "Custom rule without output" {
		t.Errorf("alert without output = %+v", a)
	}
	if got[5].Source != "aws_cloudtrail" {
		t.Errorf("source = %q", got[5].Source)
	}
}

func TestIngestStdinLike(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		for i := 1; i <= 20; i++ {
			line := tapLine(i)
			// Write each line in two pieces, as a pipe may deliver it.
			pw.Write([]byte(line[:30]))
			pw.Write([]byte(line[30:]))
		}
		pw.Close()
	}()
	sink := &tapSink{}
	stats, err := Ingest(context.Background(), pr, sink, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats != (IngestStats{Lines: 20, Alerts: 20}) {
		t.Errorf("stats = %+v", stats)
	}
	if got := tapNums(sink.got()); !slices.Equal(got, tapRange(1, 20)) {
		t.Errorf("nums = %v", got)
	}
}

func TestIngestErrors(t *testing.T) {
	t.Run("read error", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(tapLine(1)), iotest.ErrReader(errors.New("disk on fire")))
		stats, err := Ingest(context.Background(), r, &tapSink{}, IngestOptions{})
		if err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("err = %v", err)
		}
		if stats.Alerts != 1 {
			t.Errorf("alerts = %d, want 1", stats.Alerts)
		}
	})
	t.Run("context ends while the sink is full", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		stats, err := Ingest(ctx, strings.NewReader(tapLine(1)+tapLine(2)), &tapSink{full: true}, IngestOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if stats.Alerts != 0 || stats.Lines != 0 {
			t.Errorf("stats = %+v, want none", stats)
		}
	})
}

func TestBadLinesLogsOnceThenSummary(t *testing.T) {
	var out bytes.Buffer
	b := badLines{log: zerolog.New(&out), every: time.Minute}
	start := time.Unix(0, 0)
	for i := range 1000 {
		b.add(start.Add(time.Duration(i)*time.Millisecond), int64(i+1), 0, errors.New("bad"))
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d log lines for 1000 bad lines within a minute, want 1:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), `"line":1`) {
		t.Errorf("first entry lacks the line number: %s", out.String())
	}
	b.add(start.Add(2*time.Minute), 1001, 0, errors.New("bad"))
	b.flush(start.Add(3 * time.Minute))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"skipped":1000`) || !strings.Contains(lines[1], `"last_line":1001`) {
		t.Errorf("summary = %q", lines)
	}
}

func TestLogEvery(t *testing.T) {
	l := logEvery{every: time.Minute}
	start := time.Unix(0, 0)
	if ok, _ := l.allow(start); !ok {
		t.Fatal("first entry held back")
	}
	for i := 1; i <= 5; i++ {
		if ok, _ := l.allow(start.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("entry %d within the minute let through", i)
		}
	}
	if ok, n := l.allow(start.Add(time.Minute)); !ok || n != 5 {
		t.Fatalf("after a minute: ok=%v suppressed=%d, want true 5", ok, n)
	}
}
