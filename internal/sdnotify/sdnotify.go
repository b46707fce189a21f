// Package sdnotify tells systemd about the daemon's state over the
// sd_notify protocol: readiness, reloads, shutdown, status text and
// watchdog pings. Without NOTIFY_SOCKET (not run by systemd, or not
// Type=notify) every call is a no-op.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Notifier sends sd_notify messages to one socket. The zero value and a
// nil *Notifier do nothing. It is safe for concurrent use.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET with the watchdog timeout
// of $WATCHDOG_USEC (ignored when $WATCHDOG_PID names another process). It
// fails only on a malformed WATCHDOG_USEC or WATCHDOG_PID.
func FromEnv() (*Notifier, error) {
	watchdog, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return nil, fmt.Errorf("systemd watchdog: %w", err)
	}
	return New(os.Getenv("NOTIFY_SOCKET"), watchdog), nil
}

// New returns a Notifier for socket (a path, or "@name" for an abstract
// socket; "" disables it) whose service has the given watchdog timeout
// (0 for none).
func New(socket string, watchdog time.Duration) *Notifier {
	return &Notifier{socket: socket, watchdog: watchdog}
}

// Enabled reports whether messages are sent anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// Ready tells systemd that start-up, or a reload, has finished.
func (n *Notifier) Ready() error { return n.Notify(daemon.SdNotifyReady) }

// Reloading tells systemd that the configuration is being reloaded; call
// Ready when done. It carries MONOTONIC_USEC, as Type=notify-reload needs.
func (n *Notifier) Reloading() error {
	return n.Notify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Stopping tells systemd that shutdown has begun.
func (n *Notifier) Stopping() error { return n.Notify(daemon.SdNotifyStopping) }

// Status sets the free-form status line shown by systemctl status. s is
// escaped with safe.Line: a newline would start a new assignment.
func (n *Notifier) Status(s string) error {
	return n.Notify("STATUS=" + safe.Line(s))
}

// Ping resets systemd's watchdog timer; call it every WatchdogInterval.
func (n *Notifier) Ping() error { return n.Notify(daemon.SdNotifyWatchdog) }

// WatchdogInterval returns how often to Ping: half the service's
// WatchdogSec, as sd_watchdog_enabled(3) advises. ok is false when systemd
// expects no pings.
func (n *Notifier) WatchdogInterval() (time.Duration, bool) {
	if !n.Enabled() || n.watchdog <= 0 {
		return 0, false
	}
	return n.watchdog / 2, true
}

// Notify sends state, one or more newline-separated VAR=value
// assignments, in a single datagram.
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}
