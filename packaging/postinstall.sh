#!/bin/sh
# postinstall (dpkg postinst) for falco-reporter.
#
# Creates the falco-reporter user and directories (and gives back to that
# user any file in /var/lib/falco-reporter that a run as root left, so an
# upgrade heals such state), and enables the service
# WITHOUT starting it: the service must not run before the admin has set up
# /etc/falco-reporter/falco-reporter.yaml. On upgrade a running service is
# restarted. Works without systemd as PID 1 (containers, CI): enabling then
# only creates the symlinks, and nothing is started or reloaded.
set -e

SYSUSERS=/usr/lib/sysusers.d/falco-reporter.conf
TMPFILES=/usr/lib/tmpfiles.d/falco-reporter.conf
UNIT=falco-reporter.service

# create_user makes the system user and group, by systemd-sysusers when it is
# installed, otherwise by the same definition with useradd.
create_user() {
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers "$SYSUSERS"
	elif ! getent passwd falco-reporter >/dev/null 2>&1; then
		useradd --system --user-group --home-dir /var/lib/falco-reporter \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "falco-reporter daemon" falco-reporter
	fi
}

# create_dirs applies tmpfiles.d, or does by hand what it says.
create_dirs() {
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create "$TMPFILES"
	else
		install -d -m 0750 -o falco-reporter -g falco-reporter \
			/var/lib/falco-reporter /var/lib/falco-reporter/reports
		# tmpfiles.d's Z line: state a run as root left behind goes back to
		# the daemon. -h: symlinks themselves, never what they point to.
		chown -hR falco-reporter:falco-reporter /var/lib/falco-reporter
		install -d -m 0750 -o root -g falco-reporter \
			/etc/falco-reporter /etc/falco-reporter/tls
		if [ -e /etc/falco-reporter/falco-reporter.yaml ]; then
			chown root:falco-reporter /etc/falco-reporter/falco-reporter.yaml
			chmod 0640 /etc/falco-reporter/falco-reporter.yaml
		fi
	fi
}

# enable_unit enables the unit for the next boot; it never starts it.
enable_unit() {
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		# unmask undoes only a mask deb-systemd-helper itself set.
		deb-systemd-helper unmask "$UNIT" >/dev/null || true
		# was-enabled is true on a first install and when the admin left
		# the unit enabled; a unit the admin disabled stays disabled.
		if deb-systemd-helper --quiet was-enabled "$UNIT"; then
			deb-systemd-helper enable "$UNIT" >/dev/null || true
		else
			deb-systemd-helper update-state "$UNIT" >/dev/null || true
		fi
	elif command -v systemctl >/dev/null 2>&1; then
		# systemctl enable without --now does not start anything, and
		# works offline when systemd is not running.
		systemctl enable "$UNIT" >/dev/null 2>&1 || true
	fi
}

case "$1" in
configure | abort-upgrade | abort-deconfigure | abort-remove)
	create_user
	create_dirs
	enable_unit
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# $2 is the previously configured version: set on upgrade only.
		if [ -n "$2" ]; then
			systemctl try-restart "$UNIT" >/dev/null || true
		fi
	fi
	;;
esac
exit 0
