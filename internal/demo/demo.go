// Package demo holds the built-in alerts that `falco-reporter demo`
// replays through a fake Falco. They are invented, realistic alerts in
// Falco's JSON format, one per line.
package demo

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

//go:embed alerts.jsonl
var alertsJSONL []byte

// Alerts returns the built-in demo alerts.
func Alerts() ([]event.Alert, error) {
	var out []event.Alert
	sc := bufio.NewScanner(bytes.NewReader(alertsJSONL))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		a, err := event.ParseJSON(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("demo alert %d: %w", n, err)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}
