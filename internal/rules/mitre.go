package rules

import (
	"regexp"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// tactics maps Falco's mitre_* tags and ATT&CK tactic ids to tactic names.
var tactics = map[string]struct{ id, name string }{
	"mitre_reconnaissance":       {"TA0043", "Reconnaissance"},
	"mitre_resource_development": {"TA0042", "Resource Development"},
	"mitre_initial_access":       {"TA0001", "Initial Access"},
	"mitre_execution":            {"TA0002", "Execution"},
	"mitre_persistence":          {"TA0003", "Persistence"},
	"mitre_privilege_escalation": {"TA0004", "Privilege Escalation"},
	"mitre_defense_evasion":      {"TA0005", "Defense Evasion"},
	"mitre_credential_access":    {"TA0006", "Credential Access"},
	"mitre_discovery":            {"TA0007", "Discovery"},
	"mitre_lateral_movement":     {"TA0008", "Lateral Movement"},
	"mitre_collection":           {"TA0009", "Collection"},
	"mitre_exfiltration":         {"TA0010", "Exfiltration"},
	"mitre_command_and_control":  {"TA0011", "Command and Control"},
	"mitre_impact":               {"TA0040", "Impact"},
	"mitre_data_destruction":     {"TA0040", "Impact"}, // not an ATT&CK tactic; Falco uses it for T1485
}

// tacticByID maps a tactic id to its name.
var tacticByID = func() map[string]string {
	m := make(map[string]string)
	for _, t := range tactics {
		m[t.id] = t.name
	}
	return m
}()

// techniques holds the ATT&CK techniques that Falco's rule sets tag, with
// the tactics each belongs to (ATT&CK Enterprise).
var techniques = map[string]struct {
	name    string
	tactics []string
}{
	"T1005":     {"Data from Local System", []string{"Collection"}},
	"T1020":     {"Automated Exfiltration", []string{"Exfiltration"}},
	"T1046":     {"Network Service Discovery", []string{"Discovery"}},
	"T1053.003": {"Scheduled Task/Job: Cron", []string{"Execution", "Persistence", "Privilege Escalation"}},
	"T1055.008": {"Process Injection: Ptrace System Calls", []string{"Defense Evasion", "Privilege Escalation"}},
	"T1059":     {"Command and Scripting Interpreter", []string{"Execution"}},
	"T1059.004": {"Command and Scripting Interpreter: Unix Shell", []string{"Execution"}},
	"T1070":     {"Indicator Removal", []string{"Defense Evasion"}},
	"T1072":     {"Software Deployment Tools", []string{"Execution", "Lateral Movement"}},
	"T1083":     {"File and Directory Discovery", []string{"Discovery"}},
	"T1098":     {"Account Manipulation", []string{"Persistence", "Privilege Escalation"}},
	"T1098.004": {"Account Manipulation: SSH Authorized Keys", []string{"Persistence", "Privilege Escalation"}},
	"T1132":     {"Data Encoding", []string{"Command and Control"}},
	"T1190":     {"Exploit Public-Facing Application", []string{"Initial Access"}},
	"T1195.002": {"Supply Chain Compromise: Compromise Software Supply Chain", []string{"Initial Access"}},
	"T1204":     {"User Execution", []string{"Execution"}},
	"T1205.001": {"Traffic Signaling: Port Knocking", []string{"Defense Evasion", "Persistence", "Command and Control"}},
	"T1222.002": {"File and Directory Permissions Modification: Linux and Mac File and Directory Permissions Modification", []string{"Defense Evasion"}},
	"T1485":     {"Data Destruction", []string{"Impact"}},
	"T1490":     {"Inhibit System Recovery", []string{"Impact"}},
	"T1496":     {"Resource Hijacking", []string{"Impact"}},
	"T1498":     {"Network Denial of Service", []string{"Impact"}},
	"T1505":     {"Server Software Component", []string{"Persistence"}},
	"T1505.003": {"Server Software Component: Web Shell", []string{"Persistence"}},
	"T1543":     {"Create or Modify System Process", []string{"Persistence", "Privilege Escalation"}},
	"T1546.004": {"Event Triggered Execution: Unix Shell Configuration Modification", []string{"Privilege Escalation", "Persistence"}},
	"T1548.001": {"Abuse Elevation Control Mechanism: Setuid and Setgid", []string{"Privilege Escalation", "Defense Evasion"}},
	"T1548.003": {"Abuse Elevation Control Mechanism: Sudo and Sudo Caching", []string{"Privilege Escalation", "Defense Evasion"}},
	"T1552":     {"Unsecured Credentials", []string{"Credential Access"}},
	"T1552.001": {"Unsecured Credentials: Credentials In Files", []string{"Credential Access"}},
	"T1552.005": {"Unsecured Credentials: Cloud Instance Metadata API", []string{"Credential Access"}},
	"T1555":     {"Credentials from Password Stores", []string{"Credential Access"}},
	"T1556":     {"Modify Authentication Process", []string{"Credential Access", "Defense Evasion", "Persistence"}},
	"T1557.002": {"Adversary-in-the-Middle: ARP Cache Poisoning", []string{"Credential Access", "Collection"}},
	"T1562":     {"Impair Defenses", []string{"Defense Evasion"}},
	"T1564.001": {"Hide Artifacts: Hidden Files and Directories", []string{"Defense Evasion"}},
	"T1565":     {"Data Manipulation", []string{"Impact"}},
	"T1567":     {"Exfiltration Over Web Service", []string{"Exfiltration"}},
	"T1610":     {"Deploy Container", []string{"Defense Evasion", "Execution"}},
	"T1611":     {"Escape to Host", []string{"Privilege Escalation"}},
	"T1620":     {"Reflective Code Loading", []string{"Defense Evasion"}},
	"T1622":     {"Debugger Evasion", []string{"Defense Evasion", "Discovery"}},
}

var (
	techniqueTag = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	tacticTag    = regexp.MustCompile(`^TA[0-9]{4}$`)
)

// MITRE derives the ATT&CK mapping from a rule's tags: one entry per
// technique tag, its tactic taken from the rule's mitre_* tag where the
// technique belongs to it, and one entry per tactic no technique covers.
func MITRE(tags []string) []report.Technique {
	var ruleTactics []string
	for _, t := range tags {
		if tc, ok := tactics[t]; ok {
			ruleTactics = append(ruleTactics, tc.name)
		} else if name, ok := tacticByID[t]; ok {
			ruleTactics = append(ruleTactics, name)
		}
	}
	out := []report.Technique{}
	covered := map[string]bool{}
	for _, t := range tags {
		if !techniqueTag.MatchString(t) {
			continue
		}
		tech, ok := techniques[t]
		if !ok {
			parent, _, _ := strings.Cut(t, ".")
			tech = techniques[parent]
			if tech.name == "" {
				tech.name = "(technique not in falco-reporter's catalogue)"
			}
		}
		tactic := pickTactic(tech.tactics, ruleTactics)
		covered[tactic] = true
		out = append(out, report.Technique{ID: t, Name: tech.name, Tactic: tactic})
	}
	seen := map[string]bool{}
	for _, t := range tags {
		var id, name string
		if tc, ok := tactics[t]; ok {
			id, name = tc.id, tc.name
		} else if tacticTag.MatchString(t) {
			id, name = t, tacticByID[t]
		} else {
			continue
		}
		if name == "" || covered[name] || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, report.Technique{ID: id, Name: name, Tactic: name})
	}
	return out
}

func pickTactic(techTactics, ruleTactics []string) string {
	for _, rt := range ruleTactics {
		for _, tt := range techTactics {
			if rt == tt {
				return tt
			}
		}
	}
	if len(techTactics) > 0 {
		return strings.Join(techTactics, ", ")
	}
	if len(ruleTactics) > 0 {
		return ruleTactics[0]
	}
	return ""
}
