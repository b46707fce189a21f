package rules

import (
	"sort"
	"strconv"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// SyscallEventDrop reports Falco's "syscall event drop" alert: the kernel
// ring buffer was full and events were lost before Falco could see them.
// It is an operational report on Falco's health, not a security incident,
// though an attacker can cause drops on purpose to slip past detection.
func SyscallEventDrop(a *event.Alert) report.Report {
	c := &Ctx{a: a}
	drops, evts := num(a, "n_drops"), num(a, "n_evts")
	r := report.Report{
		Handler: report.HandlerDedicated,
		Title:   report.Plain("Falco dropped " + strconv.FormatInt(drops, 10) + " system call events"),
		Summary: spans("Falco on this host could not keep up: the kernel's ring buffer was full and " + c.V("n_drops") +
			" system call events were dropped (out of " + c.V("n_evts") + " counted in the same interval" + percent(drops, evts) +
			"). Falco did not see them, so it could not alert on them. This is a report on Falco's health, not an attack by itself."),
		Why: report.Plain("While events are dropped, Falco is partly blind: an attack during that second may leave no alert. " +
			"Drops that line up with a burst of activity can also be deliberate: flooding the host with cheap system calls is a known way to evade Falco (MITRE ATT&CK T1562, Impair Defenses)."),
		MITRE: []report.Technique{{ID: "T1562", Name: "Impair Defenses", Tactic: "Defense Evasion"}},
	}
	keys := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		if strings.HasPrefix(k, "n_") || k == "ebpf_enabled" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v, ok := a.Fields.Get(k); ok && (v != "0" || k == "n_drops" || k == "n_evts") {
			r.Facts = append(r.Facts, report.Fact{Label: dropLabel(k), Value: v})
		}
	}
	r.Investigation = []report.Step{
		{Text: report.Plain("Check how often drops happen and whether they are growing: Falco logs its drop alerts (rate-limited by syscall_event_drops.rate and max_burst in falco.yaml), so a steady stream of these lines means sustained loss."),
			Command: "journalctl -t falco --since " + c.Since() + " --until " + c.Until() + " -o cat | grep -F 'syscall event drop'"},
		{Text: report.Plain("Look at the breakdown above: n_drops_buffer_* count events lost because the buffer was full, by system call family; n_drops_scratch_map and n_drops_page_faults (n_drops_pf in older versions) point at the driver; n_drops_bug at a driver bug. A single family (e.g. open or connect) dominating suggests one noisy workload.")},
		{Text: report.Plain("Find what was busy on the host at the time: CPU saturation or a process making huge numbers of system calls starves Falco."),
			Command: "top -b -n 1 -o %CPU | head -n 20"},
		{Text: report.Plain("Check Falco's driver (modern_ebpf, ebpf or kmod) and buffer settings, and its CPU and memory limits, which decide how fast it can drain the buffer. Falco's packaged units are named after the driver (falco-modern-bpf, falco-kmod, falco-bpf); the first command shows which one runs here."),
			Command: "systemctl list-units --all --no-pager 'falco*'\ngrep -nE 'kind:|buf_size_preset|cpus_for_each_buffer' /etc/falco/falco.yaml"},
		{Text: report.Plain("Look for security alerts in the same minutes: drops during an intrusion mean some of its steps went unseen, so treat the surrounding alerts as a partial picture.")},
	}
	r.FalsePositives = []report.Step{
		{Text: report.Plain("Occasional small drops during load spikes (builds, backups, log rotation, container image pulls) are common and harmless to the host. Sustained drops, or drops with no load to explain them, are not.")},
	}
	r.Remediation = []report.Step{
		{Text: report.Plain("Give the ring buffer more room: raise engine.<kind>.buf_size_preset in /etc/falco/falco.yaml by one step (the default, 4, is 8 MiB per buffer; each step doubles it), then restart Falco."),
			Changes: report.Plain("Falco's per-CPU kernel buffers grow, using more locked memory.")},
		{Text: report.Plain("Reduce what Falco has to process: with base_syscalls.repair: true Falco only collects the system calls its loaded rules need; disabling rules you do not use helps as well."),
			Changes: report.Plain("The set of system calls Falco collects; rules that relied on a dropped system call stop matching.")},
		{Text: report.Plain("Make sure Falco is not CPU-starved: lift a too-tight CPU limit or CPUQuota on Falco, and find the workload that floods the host with system calls.")},
	}
	return r
}

func dropLabel(k string) string {
	switch k {
	case "n_drops":
		return "Events dropped"
	case "n_evts":
		return "Events seen"
	case "ebpf_enabled":
		return "eBPF driver"
	}
	return k
}

func num(a *event.Alert, f string) int64 {
	v, _ := a.Fields.Get(f)
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func percent(part, whole int64) string {
	if whole <= 0 {
		return ""
	}
	return ", " + strconv.FormatFloat(float64(part)*100/float64(part+whole), 'f', 1, 64) + "% lost"
}

// MetricsSnapshot reports Falco's periodic metrics snapshot: what Falco
// processed and dropped since the previous snapshot.
func MetricsSnapshot(a *event.Alert) report.Report {
	c := &Ctx{a: a}
	r := report.Report{
		Handler: report.HandlerDedicated,
		Title:   report.Plain("Falco metrics snapshot"),
		Summary: spans("Falco " + c.First("falco.version") + " on this host published its periodic metrics snapshot (driver " + c.First("scap.engine_name") +
			"). It is not a security alert; it tells whether Falco is healthy and seeing every event."),
		Why: report.Plain("Falco can only alert on what it sees. Kernel-side drops (scap.n_drops) or output-queue drops (falco.outputs_queue_num_drops) mean some events were never evaluated or some alerts never delivered."),
	}
	if drops := num(a, "scap.n_drops") + num(a, "falco.outputs_queue_num_drops"); drops > 0 {
		r.Title = report.Plain("Falco metrics snapshot: " + strconv.FormatInt(drops, 10) + " events or alerts lost")
	}
	for _, f := range []struct{ label, field string }{
		{"Falco version", "falco.version"}, {"Driver", "scap.engine_name"}, {"Kernel", "falco.kernel_release"},
		{"Events processed", "falco.num_evts"}, {"Event rate per second", "falco.evts_rate_sec"},
		{"Kernel events", "scap.n_evts"}, {"Kernel drops", "scap.n_drops"}, {"Kernel drop percentage", "scap.n_drops_perc"},
		{"Buffer-full drops", "scap.n_drops_buffer_total"}, {"Output queue drops", "falco.outputs_queue_num_drops"},
		{"Memory RSS", "falco.memory_rss"}, {"CPU usage", "falco.cpu_usage_perc"}, {"Uptime in seconds", "falco.duration_sec"},
	} {
		if v, ok := a.Fields.Get(f.field); ok {
			r.Facts = append(r.Facts, report.Fact{Label: f.label, Value: v})
		}
	}
	r.Investigation = []report.Step{
		{Text: spans(dropCounters(c))},
		{Text: report.Plain("Snapshots are periodic (metrics.interval in falco.yaml). If you do not want one report per snapshot, set metrics.output_rule: false in falco.yaml and scrape Falco's Prometheus endpoint instead.")},
	}
	r.FalsePositives = []report.Step{{Text: report.Plain("This alert is expected whenever metrics.output_rule is enabled in falco.yaml.")}}
	r.Remediation = []report.Step{
		{Text: report.Plain("If drops are above zero, follow the guidance for the \"Falco internal: syscall event drop\" report: raise engine.<kind>.buf_size_preset, enable base_syscalls.repair, and make sure Falco is not CPU-starved."),
			Changes: report.Plain("Falco's configuration in /etc/falco/falco.yaml; it takes effect when Falco restarts.")},
	}
	return r
}

// dropCounters describes the snapshot's drop counters: kernel drops as a
// count and as the share of kernel events Falco reports in
// scap.n_drops_perc, and alerts dropped from the output queue.
func dropCounters(c *Ctx) string {
	var b strings.Builder
	b.WriteString("Check the drop counters, which count since the previous snapshot. ")
	if c.Has("scap.n_drops") {
		b.WriteString("The kernel dropped " + c.V("scap.n_drops") + " events")
		if c.Has("scap.n_drops_perc") {
			b.WriteString(" (" + c.V("scap.n_drops_perc") + " percent of the kernel's events)")
		}
		b.WriteString(" that Falco never evaluated. ")
	}
	if c.Has("falco.outputs_queue_num_drops") {
		b.WriteString("Falco's output queue dropped " + c.V("falco.outputs_queue_num_drops") + " alerts that matched a rule but were never delivered. ")
	}
	b.WriteString("Anything above 0 means lost events or alerts; even a fraction of a percent is thousands of events on a busy host. Compare with earlier snapshots to see whether it is a spike or a trend.")
	return b.String()
}
