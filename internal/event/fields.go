package event

// Kind tells how Falco encoded a field value.
type Kind uint8

// Value kinds. Falco's JSON keeps the type of each field; gRPC sends every
// value as a string, with non-strings JSON-encoded.
const (
	String Kind = iota // a JSON string
	Number             // an integer or float, kept as its exact decimal text
	Bool               // true or false
	Null               // JSON null: the field had no value
	JSON               // a nested object or array, kept as compact JSON text
)

// Value is one output field as Falco sent it.
type Value struct {
	Text string
	Kind Kind
	// Recovered marks a value that Falco did not send in output_fields but
	// that was read back from the alert's output text (see
	// internal/ruleoutput). It is what Falco printed, but its boundaries
	// were inferred from the rule's output template.
	Recovered bool
}

// Str returns a string Value.
func Str(s string) Value { return Value{Text: s, Kind: String} }

// Missing reports whether v is one of the three forms in which Falco says a
// field has no value: null, "<NA>" and "".
func (v Value) Missing() bool {
	return v.Kind == Null || v.Text == "" || v.Text == "<NA>"
}

// Fields maps Falco field names (e.g. "proc.cmdline") to values.
type Fields map[string]Value

// Get returns the value of a field and whether it has one. Missing values
// (null, "<NA>", "") report false.
func (f Fields) Get(name string) (string, bool) {
	v, ok := f[name]
	if !ok || v.Missing() {
		return "", false
	}
	return v.Text, true
}

// Or returns the value of the first of names that has one, or "".
func (f Fields) Or(names ...string) string {
	for _, n := range names {
		if s, ok := f.Get(n); ok {
			return s
		}
	}
	return ""
}
