package attack

import "testing"

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		id, name string
		tactics  []string
	}{
		{"T1003.008", "OS Credential Dumping: /etc/passwd and /etc/shadow", []string{"Credential Access"}},
		{"T1613", "Container and Resource Discovery", []string{"Discovery"}},
		{"T1053.003", "Scheduled Task/Job: Cron", []string{"Execution", "Persistence", "Privilege Escalation"}},
		{"T1611", "Escape to Host", []string{"Privilege Escalation"}},
	} {
		got, ok := Lookup(c.id)
		if !ok || got.Name != c.name || len(got.Tactics) != len(c.tactics) {
			t.Errorf("Lookup(%s) = %+v, %v; want %s %v", c.id, got, ok, c.name, c.tactics)
			continue
		}
		for i := range c.tactics {
			if got.Tactics[i] != c.tactics[i] {
				t.Errorf("Lookup(%s).Tactics = %v, want %v", c.id, got.Tactics, c.tactics)
			}
		}
	}
	for _, id := range []string{"T9999", "T1003.999", "TA0006", ""} {
		if _, ok := Lookup(id); ok {
			t.Errorf("Lookup(%q) found a technique", id)
		}
	}
}

func TestEveryTacticIsKnown(t *testing.T) {
	for id, tech := range catalogue {
		for _, tc := range tech.Tactics {
			if _, ok := Tactics[tc]; !ok {
				t.Errorf("%s: tactic %q is not in Tactics", id, tc)
			}
		}
	}
	if len(catalogue) < 600 {
		t.Errorf("catalogue has %d techniques; the embedded table looks truncated", len(catalogue))
	}
}

func TestTacticByShortName(t *testing.T) {
	for in, want := range map[string]string{
		"mitre_credential_access": "Credential Access",
		"command-and-control":     "Command and Control",
		"Defense Evasion":         "Defense Evasion",
	} {
		if got, ok := TacticByShortName(in); !ok || got != want {
			t.Errorf("TacticByShortName(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := TacticByShortName("mitre_data_destruction"); ok {
		t.Error("mitre_data_destruction is not an ATT&CK tactic")
	}
}
