#!/usr/bin/env bash
# journald.sh makes sure a real systemd-journald is listening on
# /run/systemd/journal/socket, so the journal tests run against the real
# daemon instead of skipping. It is idempotent: a journald that already
# answers is left alone.
#
# Steps: install Debian's systemd package if systemd-journald is missing
# (needs root), create /etc/machine-id if it is empty, and, unless a live
# journald answers on its stream socket, start one by hand in the
# background (no systemd as PID 1 needed) and wait at most
# JOURNALD_WAIT seconds (default 20) for it to answer.
set -euo pipefail

journald=/lib/systemd/systemd-journald
socket=/run/systemd/journal/socket
log=/run/falco-reporter-journald.log
wait_s=${JOURNALD_WAIT:-20}

say() { echo "journald.sh: $*" >&2; }

# alive reports whether a journald accepts connections. The socket file
# alone proves nothing: it outlives a killed daemon. systemd-cat connects to
# the stream socket before running the command and fails if nobody listens;
# `true` prints nothing, so no entry is written.
alive() {
	[ -S "$socket" ] && systemd-cat -t journald-probe true 2>/dev/null
}

if [ ! -x "$journald" ] || ! command -v journalctl >/dev/null || ! command -v systemd-cat >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		say "systemd-journald is missing and installing it needs root"
		exit 1
	fi
	say "installing systemd (for systemd-journald and journalctl)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends systemd >/dev/null ||
		{ apt-get update -qq && apt-get install -y --no-install-recommends systemd >/dev/null; }
fi

if alive; then
	say "journald already running on $socket"
	exit 0
fi

if [ ! -s /etc/machine-id ]; then
	systemd-machine-id-setup >/dev/null
fi

mkdir -p /run/systemd/journal
say "starting $journald (log: $log)"
setsid "$journald" </dev/null >>"$log" 2>&1 &
pid=$!

deadline=$((SECONDS + wait_s))
until alive; do
	if ! kill -0 "$pid" 2>/dev/null; then
		say "systemd-journald exited; its log follows"
		cat "$log" >&2 || true
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		say "no journald answer on $socket after ${wait_s}s"
		exit 1
	fi
	sleep 0.2
done
say "journald running (pid $pid) on $socket"
