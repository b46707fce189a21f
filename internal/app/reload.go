package app

import (
	"reflect"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/playbookdir"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/sdnotify"
)

// watchdog returns the ping the writer's loop calls: it notifies systemd
// at half of WatchdogSec, so a wedged loop stops pinging.
func watchdog(n *sdnotify.Notifier, log zerolog.Logger) func() {
	every, ok := n.WatchdogInterval()
	if !ok {
		return func() {}
	}
	var last time.Time
	return func() {
		if time.Since(last) < every {
			return
		}
		last = time.Now()
		if err := n.Ping(); err != nil {
			log.Warn().Err(err).Msg("watchdog ping failed")
		}
	}
}

// reload re-reads the configuration and playbooks. A bad file is logged
// and the running configuration kept; a good one swaps the handler table.
func reload(path string, cur *config.Config, table *atomic.Pointer[rules.Table], n *sdnotify.Notifier, log zerolog.Logger) {
	if path == "" {
		return
	}
	_ = n.Reloading()
	defer func() { _ = n.Ready() }()
	next, err := config.Load(path)
	if err != nil {
		log.Error().Err(err).Msg("reload failed: keeping the running configuration")
		return
	}
	t, err := playbookdir.Load(rules.Default(), next.Reports.PlaybooksDir)
	if err != nil {
		log.Error().Err(err).Msg("reload failed: keeping the running configuration")
		return
	}
	table.Store(t)
	if lvl, err := zerolog.ParseLevel(next.Log.Level); err == nil {
		zerolog.SetGlobalLevel(lvl)
	}
	rest := *next
	rest.Reports.PlaybooksDir, rest.Log.Level = cur.Reports.PlaybooksDir, cur.Log.Level
	if !reflect.DeepEqual(&rest, cur) {
		log.Warn().Msg("reload applies playbooks and log.level; the other changes in the file take effect at the next restart")
	}
	log.Info().Int("handlers", len(t.Entries())).Msg("configuration and playbooks reloaded")
}
