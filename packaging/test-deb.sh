#!/bin/sh
# test-deb.sh builds the falco-reporter .deb and checks, with apt and dpkg,
# that it installs, works, upgrades in place, removes and purges cleanly.
#
# Run as root on Debian 12 (or a derivative); systemd need not be PID 1, which
# is how CI runs it. It installs the package on THIS machine, so it refuses to
# run where falco-reporter is already installed, and at the end it purges the
# package and deletes the user, group and kept reports it created.
#
# Variables (all optional):
#   FALCO_REPORTER_BIN  use this binary instead of `make build` (a stub while
#                       cmd/falco-reporter is unfinished)
#   CONFIG_SRC, README_SRC  passed to make (default: the repository's files)
#   VERSION             package version (default: from git, see Makefile)
#   KEEP=1              leave the installed package in place for inspection
set -eu

cd "$(dirname "$0")/.."

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() {
	echo "ok: $*"
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs a package)"
command -v apt-get >/dev/null || fail "apt-get not found: Debian-based system needed"
# dpkg_status prints the package's dpkg state word ("installed",
# "config-files", "not-installed", ...) or nothing when dpkg never knew it.
dpkg_status() {
	dpkg-query -W -f '${db:Status-Status}' falco-reporter 2>/dev/null || true
}
case "$(dpkg_status)" in
"" | not-installed) ;;
*) fail "falco-reporter is already on this machine ($(dpkg_status)); refusing to touch it" ;;
esac
user_existed=no
if getent passwd falco-reporter >/dev/null; then
	user_existed=yes
fi

cleanup() {
	[ "${KEEP:-0}" = 1 ] && return
	apt-get purge -y -q falco-reporter >/dev/null 2>&1 || true
	rm -rf /var/lib/falco-reporter
	if [ "$user_existed" = no ]; then
		userdel falco-reporter >/dev/null 2>&1 || true
		groupdel falco-reporter >/dev/null 2>&1 || true
	fi
}

# --- build ---------------------------------------------------------------
set --
if [ -n "${FALCO_REPORTER_BIN:-}" ]; then
	set -- "$@" BIN="$FALCO_REPORTER_BIN"
fi
[ -n "${CONFIG_SRC:-}" ] && set -- "$@" CONFIG_SRC="$CONFIG_SRC"
[ -n "${README_SRC:-}" ] && set -- "$@" README_SRC="$README_SRC"
version=${VERSION:-$(make -s --no-print-directory version)}
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

# A second package with a higher version, to test an upgrade in place.
rm -rf dist
make --no-print-directory deb "$@" VERSION="$version+upgradetest"
mv dist/falco-reporter_*.deb "$tmp/"
upgrade=$(ls "$tmp"/falco-reporter_*.deb)

make --no-print-directory deb "$@" VERSION="$version"
deb=$(ls dist/falco-reporter_*.deb)
[ "$(echo "$deb" | wc -l)" -eq 1 ] || fail "expected one .deb in dist/, got: $deb"
pass "built $deb"

dpkg-deb --field "$deb" Package | grep -qx falco-reporter || fail "bad Package field"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | grep -qx /etc/falco-reporter/falco-reporter.yaml ||
	fail "config is not a conffile"
pass "control data (conffiles)"

# --- install -------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "./$deb" ||
	fail "apt-get install"
pass "apt-get install"

getent passwd falco-reporter >/dev/null || fail "user falco-reporter missing"
getent group falco-reporter >/dev/null || fail "group falco-reporter missing"
[ "$(getent passwd falco-reporter | cut -d: -f6)" = /var/lib/falco-reporter ] ||
	fail "home of falco-reporter is not /var/lib/falco-reporter"
pass "user and group falco-reporter"

# check_path PATH MODE OWNER:GROUP
check_path() {
	[ -e "$1" ] || fail "$1 missing"
	got=$(stat -c '%a %U:%G' "$1")
	[ "$got" = "$2 $3" ] || fail "$1 is '$got', want '$2 $3'"
	pass "$1 $2 $3"
}
check_path /usr/bin/falco-reporter 755 root:root
check_path /lib/systemd/system/falco-reporter.service 644 root:root
check_path /usr/bin/falco-reporter-evidence 755 root:root
check_path /lib/systemd/system/falco-reporter-evidence.service 644 root:root
check_path /lib/systemd/system/falco-reporter-evidence.socket 644 root:root
check_path /usr/lib/sysusers.d/falco-reporter.conf 644 root:root
check_path /usr/lib/tmpfiles.d/falco-reporter.conf 644 root:root
check_path /usr/share/doc/falco-reporter/README.md 644 root:root
check_path /usr/share/doc/falco-reporter/falco-socket-access.conf 644 root:root
check_path /etc/falco-reporter 750 root:falco-reporter
check_path /etc/falco-reporter/tls 750 root:falco-reporter
check_path /etc/falco-reporter/falco-reporter.yaml 640 root:falco-reporter
check_path /var/lib/falco-reporter 750 falco-reporter:falco-reporter
check_path /var/lib/falco-reporter/reports 750 falco-reporter:falco-reporter

wants=/etc/systemd/system/multi-user.target.wants/falco-reporter.service
if command -v deb-systemd-helper >/dev/null || command -v systemctl >/dev/null; then
	[ -L "$wants" ] || fail "service not enabled ($wants missing)"
	pass "service enabled"
fi
if [ -d /run/systemd/system ]; then
	if systemctl is-active --quiet falco-reporter.service; then
		fail "service was started by the install"
	fi
	pass "service enabled but not started"
fi

out=$(/usr/bin/falco-reporter version) || fail "falco-reporter version failed"
[ -n "$out" ] || fail "falco-reporter version printed nothing"
pass "falco-reporter version: $out"
out=$(setpriv --reuid=falco-reporter --regid=falco-reporter --clear-groups \
	/usr/bin/falco-reporter version) || fail "falco-reporter version as falco-reporter failed"
pass "falco-reporter version as user falco-reporter"

out=$(/usr/bin/falco-reporter check-config --as-service --config /etc/falco-reporter/falco-reporter.yaml) ||
	fail "check-config --as-service on the installed package: $out"
pass "check-config --as-service: every path usable by falco-reporter"

# --- the reports, read by a member of the falco-reporter group -----------
sh packaging/test-oncall.sh || fail "test-oncall.sh"

# --- upgrade keeps a locally edited config (config|noreplace) ------------
# ...and heals state that a run as root left (issue 17): postinst applies
# tmpfiles.d's Z line.
echo "# local edit by test-deb.sh" >>/etc/falco-reporter/falco-reporter.yaml
install -d -m 0700 -o root -g root /var/lib/falco-reporter/spool
install -m 0600 -o root -g root /dev/null /var/lib/falco-reporter/spool/00000000000000000001.seg
out=$(/usr/bin/falco-reporter check-config --as-service --config /etc/falco-reporter/falco-reporter.yaml) &&
	fail "check-config --as-service passed with a root-owned spool"
echo "$out" | grep -q "FAIL  state directory /var/lib/falco-reporter/spool: cannot create files in it: permission denied" ||
	fail "check-config --as-service does not name the root-owned spool: $out"
pass "check-config --as-service names the root-owned spool"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confold "$upgrade" || fail "apt-get install (upgrade)"
[ "$(dpkg-query -W -f '${Version}' falco-reporter)" = "$version+upgradetest" ] ||
	fail "upgrade did not install $version+upgradetest"
grep -q "local edit by test-deb.sh" /etc/falco-reporter/falco-reporter.yaml ||
	fail "upgrade overwrote the edited config"
check_path /etc/falco-reporter/falco-reporter.yaml 640 root:falco-reporter
if command -v deb-systemd-helper >/dev/null || command -v systemctl >/dev/null; then
	[ -L "$wants" ] || fail "upgrade disabled the service"
fi
pass "upgrade kept the edited config and the enabled service"
check_path /var/lib/falco-reporter/spool 700 falco-reporter:falco-reporter
check_path /var/lib/falco-reporter/spool/00000000000000000001.seg 600 falco-reporter:falco-reporter
pass "upgrade gave the root-owned spool back to falco-reporter"
rm -rf /var/lib/falco-reporter/spool

# Reports and spool as the daemon would leave them, to see what purge keeps.
setpriv --reuid=falco-reporter --regid=falco-reporter --clear-groups \
	sh -c 'umask 0027; echo "# report" >/var/lib/falco-reporter/reports/test.md; mkdir /var/lib/falco-reporter/spool; echo x >/var/lib/falco-reporter/spool/1.json'

# --- remove --------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q falco-reporter || fail "apt-get remove"
[ ! -e /usr/bin/falco-reporter ] || fail "binary left after remove"
[ ! -e /lib/systemd/system/falco-reporter.service ] || fail "unit left after remove"
if [ -e "$wants" ] || [ -L "$wants" ]; then
	fail "service still enabled after remove"
fi
[ -e /etc/falco-reporter/falco-reporter.yaml ] || fail "remove deleted the config (only purge may)"
[ -e /var/lib/falco-reporter/reports/test.md ] || fail "remove deleted reports"
[ "$(dpkg_status)" = config-files ] || fail "state after remove is '$(dpkg_status)', want config-files"
pass "apt-get remove (config and reports kept, service disabled)"

# --- purge ---------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q falco-reporter || fail "apt-get purge"
case "$(dpkg_status)" in
"" | not-installed) ;;
*) fail "state after purge is '$(dpkg_status)'" ;;
esac
[ ! -e /etc/falco-reporter ] || fail "/etc/falco-reporter left after purge"
[ ! -e /var/lib/falco-reporter/spool ] || fail "spool left after purge"
[ -e /var/lib/falco-reporter/reports/test.md ] || fail "purge deleted the reports"
if [ -d /var/lib/systemd/deb-systemd-helper-enabled ]; then
	! grep -rqs falco-reporter /var/lib/systemd/deb-systemd-helper-enabled ||
		fail "deb-systemd-helper state left after purge"
fi
pass "apt-get purge (config, spool, state gone; reports kept)"

echo "PASS: test-deb.sh"
