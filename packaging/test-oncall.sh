#!/bin/sh
# test-oncall.sh checks, on an installed package, that a member of the
# falco-reporter group reads the reports without root: list, show,
# summary, follow and index.html; and that anyone else is refused with a
# message that says how to get access. test-deb.sh runs it after the
# install, as root; it adds two throw-away users and removes them.
set -eu

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() {
	echo "ok: $*"
}

reader=frtest-oncall
outsider=frtest-outsider
reports=/var/lib/falco-reporter/reports
tmp=$(mktemp -d)
cleanup() {
	userdel "$reader" >/dev/null 2>&1 || true
	userdel "$outsider" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# Reports as the daemon writes them: by its user, with its umask, in the
# packaged reports directory (the demo runs the real pipeline, html too).
setpriv --reuid=falco-reporter --regid=falco-reporter --clear-groups \
	sh -c "umask 0027; /usr/bin/falco-reporter demo --dir $reports" >/dev/null ||
	fail "writing reports as falco-reporter"
[ "$(stat -c '%a %U:%G' "$reports/index.html")" = "640 falco-reporter:falco-reporter" ] ||
	fail "index.html is $(stat -c '%a %U:%G' "$reports/index.html")"

useradd --no-create-home --shell /usr/sbin/nologin --groups falco-reporter "$reader"
useradd --no-create-home --shell /usr/sbin/nologin "$outsider"
as() {
	user=$1
	shift
	(cd "$tmp" && setpriv --reuid="$user" --regid="$user" --init-groups "$@")
}

# The reader uses the packaged config (root:falco-reporter 0640) to find
# the reports.
out=$(as "$reader" falco-reporter list) || fail "list as a member of falco-reporter"
echo "$out" | grep -q "Write below binary dir" || fail "list shows no report: $out"
pass "list as an unprivileged member of the falco-reporter group"

id=$(as "$reader" falco-reporter list --json --rule 'Write below binary dir' | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
[ -n "$id" ] || fail "list --json gave no id"
as "$reader" falco-reporter show "$id" | grep -q '^# Error: .Write below binary dir. on .node-7.$' || fail "show $id"
as "$reader" falco-reporter show --format json "$id" | grep -q "\"id\":\"$id\"" || fail "show --format json $id"
pass "show by id, Markdown and JSON"

as "$reader" falco-reporter summary --since 2026-04-01 --until 2026-04-03 | grep -q "13 incidents" || fail "summary"
pass "summary"

# follow runs until interrupted, then exits 0.
as "$reader" timeout --preserve-status -s INT 5 falco-reporter follow --since 2026-04-01 >"$tmp/follow.out" ||
	fail "follow did not exit 0 on SIGINT"
[ "$(wc -l <"$tmp/follow.out")" -eq 13 ] || fail "follow printed $(wc -l <"$tmp/follow.out") lines, want 13"
pass "follow"

as "$reader" cat "$reports/index.html" | grep -q "Falco incident reports" || fail "index.html not readable by the group"
pass "index.html readable by the group"

if as "$outsider" falco-reporter list --dir "$reports" >"$tmp/out" 2>"$tmp/err"; then
	fail "a user outside the group listed the reports"
fi
if ! grep -q "permission denied" "$tmp/err" || ! grep -q "usermod -aG falco-reporter" "$tmp/err"; then
	fail "refusal does not say how to get access: $(cat "$tmp/err")"
fi
pass "a user outside the group is refused, and told how to get access"

rm -rf "${reports:?}"/* "$reports"/.lock
echo "PASS: test-oncall.sh"
