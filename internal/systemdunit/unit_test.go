package systemdunit

import (
	"slices"
	"strings"
	"testing"
)

// TestUnitDirectives checks the settings the daemon and the packaging rely
// on, which the security score alone would not notice going missing.
func TestUnitDirectives(t *testing.T) {
	u := parseUnit(t, readFile(t, unitPath))
	svc := u["Service"]
	if svc == nil {
		t.Fatal("unit has no [Service] section")
	}

	tests := []struct {
		key  string
		want string // the last value set wins in systemd; "" means "must be absent"
	}{
		{"Type", "notify"},
		{"NotifyAccess", "main"},
		{"WatchdogSec", "30s"},
		// Heals a state tree that a run as root left (issue 17); as root,
		// outside the sandbox, and never fatal.
		{"ExecStartPre", "-+systemd-tmpfiles --create --prefix=/var/lib/falco-reporter falco-reporter.conf"},
		{"ExecStart", "/usr/bin/falco-reporter run --config /etc/falco-reporter/falco-reporter.yaml"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Restart", "on-failure"},
		{"RestartSec", "2s"},
		{"TimeoutStopSec", "10s"},
		{"User", "falco-reporter"},
		{"Group", "falco-reporter"},
		{"StateDirectory", "falco-reporter"},
		{"StateDirectoryMode", "0750"},
		{"UMask", "0027"},
		// `check-config --as-service` notes what these three do to paths
		// (internal/pathcheck.SandboxNote).
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"NoNewPrivileges", "yes"},
		{"CapabilityBoundingSet", ""},
		{"RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"}, // netlink: sock_diag for falco.http.allowed_uids
		{"IPAddressDeny", "any"},
		{"IPAddressAllow", "localhost"},
		{"MemoryDenyWriteExecute", "yes"},
		{"SystemCallArchitectures", "native"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			values, ok := svc[tc.key]
			if !ok {
				t.Fatalf("%s= is not set", tc.key)
			}
			if got := values[len(values)-1]; got != tc.want {
				t.Errorf("%s=%q, want %q", tc.key, got, tc.want)
			}
		})
	}

	absent := []string{
		// A dynamic user would change UID on every start and break the
		// falco-reporter group that readers and Falco's socket rely on.
		"DynamicUser",
		// systemd would make /etc/falco-reporter root:root.
		"ConfigurationDirectory",
		// ReadWritePaths would widen ProtectSystem=strict.
		"ReadWritePaths",
	}
	for _, key := range absent {
		t.Run("no "+key, func(t *testing.T) {
			if v, ok := svc[key]; ok {
				t.Errorf("%s=%q must not be set", key, v)
			}
		})
	}

	t.Run("system call filter", func(t *testing.T) {
		want := []string{"@system-service", "~@privileged @resources"}
		if got := svc["SystemCallFilter"]; !slices.Equal(got, want) {
			t.Errorf("SystemCallFilter=%q, want %q", got, want)
		}
	})
	t.Run("installed for multi-user", func(t *testing.T) {
		if got := strings.Join(u["Install"]["WantedBy"], " "); got != "multi-user.target" {
			t.Errorf("WantedBy=%q, want multi-user.target", got)
		}
	})
}
