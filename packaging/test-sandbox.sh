#!/bin/sh
# test-sandbox.sh runs the packaged service under a real systemd, with the
# unit's full sandbox, and checks that the daemon lives in it: Type=notify
# readiness, a report written from an alert, SIGHUP reload, watchdog pings
# over more than WatchdogSec, a clean SIGTERM stop, and the online
# `systemd-analyze security` score.
#
# How: the .deb is installed into a throw-away copy of this machine's own
# root (an overlay on tmpfs, nothing on the host changes), which is then
# booted with systemd-nspawn into a small target that runs the checks and
# powers off. Needs root, overlayfs and systemd-nspawn (Debian package
# systemd-container, installed when missing). Takes about a minute.
#
# Variables: FALCO_REPORTER_BIN (binary to package instead of `make build`),
# EXPECT_REPORT=0 (skip the report check, for a stand-in binary),
# SANDBOX_TIMEOUT (seconds for the boot, default 240), VERBOSE=1 (print the
# daemon's journal also when the checks pass).
set -eu

cd "$(dirname "$0")/.."

say() { echo "test-sandbox.sh: $*" >&2; }
fail() {
	say "FAIL: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root"
if ! command -v systemd-nspawn >/dev/null; then
	say "installing systemd-container (for systemd-nspawn)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd-container >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd-container >/dev/null; }
fi
[ -x /lib/systemd/systemd ] || fail "/lib/systemd/systemd missing: the copied root must be able to boot"

# --- build ---------------------------------------------------------------
set --
[ -n "${FALCO_REPORTER_BIN:-}" ] && set -- BIN="$FALCO_REPORTER_BIN"
rm -f dist/falco-reporter_*.deb
make --no-print-directory deb "$@" >/dev/null
deb=$(ls dist/falco-reporter_*.deb)
say "built $deb"

# --- a throw-away root ---------------------------------------------------
# A copy taken while apt or dpkg works on this machine holds a half-done
# dpkg state that apt refuses to install into: wait for them first.
i=0
while lslocks -n -o PATH 2>/dev/null | grep -q '^/var/lib/dpkg/lock'; do
	[ $i -gt 0 ] || say "waiting for apt or dpkg on this machine to finish"
	i=$((i + 1))
	[ $i -le 600 ] || fail "dpkg still busy after 10 minutes"
	sleep 1
done
work=$(mktemp -d /tmp/frsandbox.XXXXXX)
root=$work/root
cleanup() {
	umount "$root" 2>/dev/null || true
	umount "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mount -t tmpfs tmpfs "$work"
mkdir -p "$work/upper" "$work/work" "$root" "$work/result" "$work/pkg"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/work" "$root"
cp "$deb" "$work/pkg/"

nspawn() {
	systemd-nspawn -q -D "$root" --register=no --keep-unit --link-journal=no "$@"
}

# Install with apt inside the copy, as an admin would.
nspawn --bind-ro="$work/pkg:/frtest-pkg" sh -c \
	'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /frtest-pkg/*.deb' \
	>"$work/result/install.log" 2>&1 || {
	cat "$work/result/install.log" >&2
	fail "apt-get install inside the copy"
}

# A config reading Falco's JSON file output; incidents flush fast.
cat >"$root/etc/falco-reporter/falco-reporter.yaml" <<'YAML'
falco:
  file:
    path: /var/log/falco/events.json
state_dir: /var/lib/falco-reporter
reports:
  dir: /var/lib/falco-reporter/reports
incidents:
  window: 1s
  update_interval: 1s
YAML
chown root:falco-reporter "$root/etc/falco-reporter/falco-reporter.yaml" 2>/dev/null ||
	chgrp "$(awk -F: '$1 == "falco-reporter" { print $3 }' "$root/etc/group")" \
		"$root/etc/falco-reporter/falco-reporter.yaml"
chmod 0640 "$root/etc/falco-reporter/falco-reporter.yaml"
mkdir -p "$root/var/log/falco"
: >"$root/var/log/falco/events.json"
chmod 0644 "$root/var/log/falco/events.json"

# The checks, run by frtest.service inside the booted copy.
cat >"$root/usr/local/sbin/frtest-inside.sh" <<'INSIDE'
#!/bin/sh
set -u
out=/frtest-result
trap 'systemctl --no-block poweroff' EXIT
fail() { echo "FAIL: $*"; echo FAIL >$out/status; journalctl -b -u falco-reporter.service -o cat --no-pager >$out/journal.log 2>&1; exit 1; }
ok() { echo "ok: $*"; }
prop() { systemctl show -p "$1" --value falco-reporter.service; }

systemctl start falco-reporter.service || fail "systemctl start (no READY=1, or the daemon exited)"
[ "$(prop ActiveState)" = active ] || fail "not active after start: $(prop ActiveState)/$(prop SubState)"
pid=$(prop MainPID)
ok "started, READY=1 received (pid $pid)"

if [ "${EXPECT_REPORT:-1}" = 1 ]; then
	# READY=1 may come before the file input has opened the file and gone
	# to its end; an alert appended before that could be skipped.
	sleep 2
	printf '%s\n' '{"hostname":"sandbox","output":"10:00:01.000000000: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow)","output_fields":{"evt.time":1775124001123456789,"fd.name":"/etc/shadow","proc.name":"cat","proc.cmdline":"cat /etc/shadow","user.name":"root"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","filesystem"],"time":"2026-04-02T10:00:01.123456789Z"}' >>/var/log/falco/events.json
	# A report about this alert names its rule.
	i=0
	until f=$(grep -rl --include='*.md' 'Read sensitive file untrusted' /var/lib/falco-reporter/reports 2>/dev/null | head -n 1) && [ -n "$f" ]; do
		i=$((i + 1))
		[ $i -le 60 ] || fail "no report naming the rule within 30 s of the alert"
		sleep 0.5
	done
	[ "$(stat -c '%a %U:%G' "$f")" = "640 falco-reporter:falco-reporter" ] ||
		fail "report $f is $(stat -c '%a %U:%G' "$f"), want 640 falco-reporter:falco-reporter"
	ok "report written: $f"
fi

systemctl reload falco-reporter.service || fail "systemctl reload"
sleep 1
[ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$pid" ] || fail "not running the same process after reload"
ok "reloaded (SIGHUP) in place"

sleep 35
[ "$(prop ActiveState)" = active ] && [ "$(prop NRestarts)" = 0 ] && [ "$(prop MainPID)" = "$pid" ] ||
	fail "after 35 s (WatchdogSec=30s): $(prop ActiveState), NRestarts=$(prop NRestarts), pid $(prop MainPID)"
ok "alive after 35 s: watchdog pings arrive"

score=$(systemd-analyze security --no-pager falco-reporter.service | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
# 1.0: AF_NETLINK (sock_diag, for falco.http.allowed_uids) costs 0.1 over 0.9.
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.0) }' || fail "security exposure '$score' above 1.0"
ok "systemd-analyze security (online): $score"

start=$(date +%s)
systemctl stop falco-reporter.service
took=$(($(date +%s) - start))
[ "$(prop Result)" = success ] && [ "$(prop ExecMainStatus)" = 0 ] ||
	fail "stop: Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus)"
[ "$took" -le 6 ] || fail "stop took ${took}s"
ok "stopped on SIGTERM in ${took}s, exit status 0"

if [ "${EXPECT_REPORT:-1}" = 1 ]; then
	state=/var/lib/falco-reporter
	# not_owned lists what in the state tree is not falco-reporter's.
	not_owned() { find "$state" ! -user falco-reporter -o ! -group falco-reporter; }
	# alert appends one Falco alert about file $1 and waits for its report.
	alert() {
		printf '{"hostname":"sandbox","output":"o","output_fields":{"evt.time":1775124001123456789,"fd.name":"%s","proc.name":"cat","proc.cmdline":"cat %s","user.name":"root"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555"],"time":"2026-04-02T10:00:01.123456789Z"}\n' "$1" "$1" >>/var/log/falco/events.json
		i=0
		until grep -rqsF --include='*.md' "$1" $state/reports; do
			i=$((i + 1))
			[ $i -le 60 ] || fail "no report about $1 within 30 s"
			sleep 0.5
		done
	}

	# An admin runs the daemon by hand as root (issue 17): it runs as the
	# state's owner, so everything it writes stays usable by the service.
	printf '%s\n' '{"hostname":"sandbox","output":"o","output_fields":{"evt.time":1775124001123456789,"fd.name":"/etc/sudoers","proc.name":"cat","proc.cmdline":"cat /etc/sudoers","user.name":"root"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555"],"time":"2026-04-02T10:00:01.123456789Z"}' >/root/alert.json
	chmod 0600 /root/alert.json
	falco-reporter ingest --config /etc/falco-reporter/falco-reporter.yaml /root/alert.json >$out/ingest.log 2>&1 ||
		fail "falco-reporter ingest as root: $(cat $out/ingest.log)"
	grep -rqsF --include='*.md' /etc/sudoers $state/reports || fail "ingest as root wrote no report"
	[ -z "$(not_owned)" ] || fail "ingest as root left files falco-reporter does not own: $(not_owned)"
	ok "ingest as root wrote its report as falco-reporter"
	falco-reporter check-config --as-service --config /etc/falco-reporter/falco-reporter.yaml >$out/check.log 2>&1 ||
		fail "check-config --as-service: $(cat $out/check.log)"
	ok "check-config --as-service: every path usable"

	# State that a run as root of an older version left: the spool and
	# the read position belong to root, the spool is closed to others.
	chown -R root:root $state/spool $state/file-input.json
	chmod 0700 $state/spool
	systemctl start falco-reporter.service || fail "start with a root-owned spool (ExecStartPre should heal it)"
	[ -z "$(not_owned)" ] || fail "after start, still not falco-reporter's: $(not_owned)"
	alert /etc/gshadow
	ok "root-owned spool: ExecStartPre handed it back, the service started and wrote a report"
	systemctl stop falco-reporter.service

	# Without that heal, the daemon stops and the journal says why, and
	# how to repair it, in the one command README's troubleshooting shows.
	mkdir -p /run/systemd/system/falco-reporter.service.d
	printf '[Service]\nExecStartPre=\nRestart=no\n' >/run/systemd/system/falco-reporter.service.d/no-heal.conf
	systemctl daemon-reload
	chown -R root:root $state/spool
	chmod 0700 $state/spool
	systemctl start falco-reporter.service 2>/dev/null && fail "started with a root-owned spool and no heal"
	[ "$(prop ExecMainStatus)" = 1 ] || fail "exit status $(prop ExecMainStatus), want 1"
	want="falco-reporter stopped: state directory $state/spool: cannot create files in it: permission denied (owner root:root, mode 0700); repair: sudo chown -R falco-reporter:falco-reporter -- $state"
	i=0
	until journalctl -u falco-reporter -n 20 --no-pager >$out/why.log 2>&1 && grep -qF "$want" $out/why.log; do
		i=$((i + 1))
		[ $i -le 20 ] || fail "journalctl -u falco-reporter -n 20 does not say why: want '$want' in: $(cat $out/why.log)"
		sleep 0.5
	done
	ok "journalctl -u falco-reporter -n 20 says why: $want"
	# The repair it names works.
	sh -c "${want#*repair: sudo }" || fail "the repair failed"
	rm -r /run/systemd/system/falco-reporter.service.d
	systemctl daemon-reload
	systemctl start falco-reporter.service || fail "start after the repair"
	alert /etc/master.passwd
	systemctl stop falco-reporter.service
	ok "after the repair the service started and wrote a report"
fi

if [ "${EXPECT_REPORT:-1}" = 1 ]; then
	# Evidence at alert time (issue 16): the collector, started by its
	# socket, takes a snapshot of another user's process for the
	# unprivileged daemon, and answers no one else.
	systemctl start falco-reporter-evidence.socket || fail "start falco-reporter-evidence.socket"
	[ "$(stat -c '%a %U' /run/falco-reporter-evidence/evidence.sock)" = "600 falco-reporter" ] ||
		fail "collector socket is $(stat -c '%a %U' /run/falco-reporter-evidence/evidence.sock), want 600 falco-reporter"
	printf 'evidence:\n  enabled: true\n' >>/etc/falco-reporter/falco-reporter.yaml
	systemctl start falco-reporter.service || fail "start with evidence.enabled"
	runuser -u nobody -- sleep 300 >/dev/null 2>&1 &
	i=0
	until victim=$(pgrep -u nobody -x sleep) && [ -n "$victim" ]; do
		i=$((i + 1)); [ $i -le 60 ] || fail "no sleep process"; sleep 0.5
	done
	sleep 2 # the file input at the end of the file, as above
	printf '{"hostname":"sandbox","output":"o","output_fields":{"proc.pid":%s,"fd.name":"/etc/shadow","proc.name":"sleep","proc.exepath":"/usr/bin/sleep","proc.cmdline":"sleep 300","container.id":"host","user.name":"nobody"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555"],"time":"%s"}\n' \
		"$victim" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" >>/var/log/falco/events.json
	i=0
	until f=$(grep -rlF --include='*.json' '"evidence":{"status":"taken","pid":'"$victim"',' $state/reports) && [ -n "$f" ]; do
		i=$((i + 1))
		[ $i -le 60 ] || fail "no report with evidence taken of pid $victim within 30 s: $(grep -rhoF --include='*.json' '"evidence":{"status":' $state/reports | sort | uniq -c) $(journalctl -u falco-reporter-evidence -n 20 --no-pager)"
		sleep 0.5
	done
	grep -qF '"exe":"/usr/bin/sleep"' "$f" && grep -qF "\"sha256\":\"$(sha256sum /usr/bin/sleep | cut -d' ' -f1)\"" "$f" ||
		fail "the snapshot has not the right executable and hash: $f"
	grep -qF '"path":"/etc/shadow","type":"file"' "$f" || fail "the snapshot has no lstat of /etc/shadow: $f"
	kill "$victim"
	ok "evidence taken of a process of another user: executable, its sha256, lstat of /etc/shadow"
	score=$(systemd-analyze security --no-pager falco-reporter-evidence.service | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.1) }' || fail "collector exposure '$score' above 1.1"
	ok "systemd-analyze security falco-reporter-evidence.service (online): $score"
	# Root may open the socket file; the collector still refuses its uid,
	# at once, before reading a request (sending one could meet a closed
	# socket: EPIPE).
	answer=$(python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect("/run/falco-reporter-evidence/evidence.sock"); print(s.recv(4096).decode())')
	case $answer in *'uid 0 may not ask'*) ;; *) fail "root was not refused: $answer" ;; esac
	runuser -u nobody -- python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect("/run/falco-reporter-evidence/evidence.sock")' 2>/dev/null &&
		fail "nobody could connect to the collector socket"
	ok "the collector refuses root (SO_PEERCRED) and nobody (socket mode)"
	systemctl stop falco-reporter.service falco-reporter-evidence.socket falco-reporter-evidence.service
fi

journalctl -b -u falco-reporter.service -o cat --no-pager >$out/journal.log 2>&1
echo PASS >$out/status
INSIDE
chmod 0755 "$root/usr/local/sbin/frtest-inside.sh"

cat >"$root/etc/systemd/system/frtest.service" <<UNIT
[Unit]
Description=falco-reporter sandbox checks
After=basic.target
[Service]
Type=oneshot
Environment=EXPECT_REPORT=${EXPECT_REPORT:-1}
ExecStart=/usr/local/sbin/frtest-inside.sh
StandardOutput=append:/frtest-result/checks.log
StandardError=append:/frtest-result/checks.log
UNIT
cat >"$root/etc/systemd/system/frtest.target" <<'UNIT'
[Unit]
Description=falco-reporter sandbox test
Requires=basic.target frtest.service
After=basic.target
AllowIsolate=yes
UNIT

# --- boot ----------------------------------------------------------------
say "booting the copy (about a minute)"
# script gives nspawn the terminal it wants for the container's console.
timeout "${SANDBOX_TIMEOUT:-240}" script -qfec \
	"systemd-nspawn -q -D '$root' --register=no --keep-unit --link-journal=no --machine=frtest --bind='$work/result:/frtest-result' -b --console=interactive -- systemd.unit=frtest.target" \
	"$work/result/console.log" </dev/null >/dev/null 2>&1 || say "nspawn exited with $?"

cat "$work/result/checks.log" 2>/dev/null || true
status=$(cat "$work/result/status" 2>/dev/null || echo "no result (boot failed?)")
if [ "$status" != PASS ]; then
	say "journal of falco-reporter.service:"
	cat "$work/result/journal.log" >&2 2>/dev/null || true
	say "console (last 40 lines):"
	tail -n 40 "$work/result/console.log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
	fail "$status"
fi
if [ "${VERBOSE:-0}" = 1 ]; then
	say "journal of falco-reporter.service:"
	cat "$work/result/journal.log" >&2 2>/dev/null || true
fi
echo "PASS: test-sandbox.sh"
