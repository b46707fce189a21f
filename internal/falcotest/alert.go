package falcotest

import (
	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/falcosecurity/client-go/pkg/api/schema"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// AlertToResponse encodes an alert as Falco's gRPC output sends it: every
// field value a string, a null one as "null". A zero Time is left out.
func AlertToResponse(a event.Alert) *outputs.Response {
	r := &outputs.Response{
		Priority: schema.Priority(a.Priority),
		Rule:     a.Rule,
		Output:   a.Output,
		Hostname: a.Hostname,
		Source:   a.Source,
	}
	if !a.Time.IsZero() {
		r.Time = timestamppb.New(a.Time)
	}
	if len(a.Tags) > 0 {
		r.Tags = append([]string(nil), a.Tags...)
	}
	if len(a.Fields) > 0 {
		r.OutputFields = make(map[string]string, len(a.Fields))
		for k, v := range a.Fields {
			if v.Kind == event.Null {
				r.OutputFields[k] = "null"
			} else {
				r.OutputFields[k] = v.Text
			}
		}
	}
	return r
}
