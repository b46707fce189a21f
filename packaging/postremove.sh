#!/bin/sh
# postremove (dpkg postrm) for falco-reporter.
#
# remove: keeps everything in /var/lib/falco-reporter and /etc/falco-reporter.
# purge:  deletes the spool and state under /var/lib/falco-reporter but KEEPS
#         the reports (incident records may be evidence; delete them by hand:
#         rm -r /var/lib/falco-reporter). dpkg deletes the config file; TLS
#         files the admin put in /etc/falco-reporter/tls stay. The
#         falco-reporter user and group stay too, as Debian does for system
#         users: kept files are still owned by them.
set -e

UNIT=falco-reporter.service
STATE=/var/lib/falco-reporter

if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi

case "$1" in
purge)
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper purge "$UNIT" >/dev/null || true
		deb-systemd-helper unmask "$UNIT" >/dev/null || true
	fi
	if [ -d "$STATE" ]; then
		find "$STATE" -mindepth 1 -maxdepth 1 ! -name reports -exec rm -rf {} +
		rmdir "$STATE/reports" 2>/dev/null || true
		if rmdir "$STATE" 2>/dev/null; then
			:
		else
			echo "falco-reporter: reports kept in $STATE/reports" >&2
		fi
	fi
	rmdir /etc/falco-reporter/tls /etc/falco-reporter 2>/dev/null || true
	;;
esac
exit 0
