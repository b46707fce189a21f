// Package systemdunit holds the tests of the systemd unit and its companion
// files in systemd/ (sysusers.d, tmpfiles.d, the falco.service drop-in) and of
// `make install`. It has no code of its own: the files it checks are not Go.
//
// The tests run systemd-analyze, systemd-sysusers and systemd-tmpfiles when
// they are installed and skip otherwise; FALCO_REPORTER_REQUIRE_SYSTEMD=1 turns
// such a skip into a failure, so CI cannot pass by not having the tools.
package systemdunit
