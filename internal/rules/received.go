package rules

import (
	"sort"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Received adds to a built report what the input received beyond the
// alert's values: the raw alert, and which values were read back from the
// output text because Falco sent no output_fields. Those are named in a
// fact, so that the reader knows which values were inferred.
func Received(r *report.Report, a *event.Alert) {
	r.Raw = a.Raw
	var names []string
	for k, v := range a.Fields {
		if v.Recovered {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	r.Recovered = names
	r.Facts = append(r.Facts, report.Fact{
		Label: "Read back from the output text (Falco sent no output_fields)",
		Value: strings.Join(names, ", "),
	})
}
