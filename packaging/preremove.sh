#!/bin/sh
# preremove (dpkg prerm) for falco-reporter: on removal, stop the service and
# disable it. An upgrade leaves both alone (postinstall restarts it instead).
set -e

UNIT=falco-reporter.service

case "$1" in
remove)
	if [ -d /run/systemd/system ]; then
		systemctl stop "$UNIT" >/dev/null 2>&1 || true
	fi
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper disable "$UNIT" >/dev/null || true
	elif command -v systemctl >/dev/null 2>&1; then
		systemctl disable "$UNIT" >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
