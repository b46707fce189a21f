package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/pathcheck"
	"github.com/falco-reporter/falco-reporter/internal/runas"
)

// asStateOwner runs `run` and `ingest` started as root as the owner of the
// state directory (the service's user once the package is installed), so
// that every file they create belongs to that user. A spool or position
// file made by root would stop the service at its next start (issue 17).
// Refusing instead would break the common setup step of `sudo
// falco-reporter ingest FILE`; dropping root also means the run sees exactly
// the permissions the service will see. It does nothing when not root or
// when the state belongs to root (no package installed, custom paths).
func asStateOwner(cfg *config.Config) (runas.User, string, error) {
	if os.Geteuid() != 0 {
		return runas.User{}, "", nil
	}
	u, path, found, err := runas.Owner(cfg.StateDir, cfg.Reports.Dir)
	if err != nil || !found || u.UID == 0 {
		return runas.User{}, "", err
	}
	if err := runas.Switch(u); err != nil {
		return runas.User{}, "", fmt.Errorf("started as root; switching to %s, the owner of %s: %w", u, path, err)
	}
	return u, path, nil
}

// prepareState switches away from root (see asStateOwner) and checks that
// the state can be used, before anything is opened.
func prepareState(cfg *config.Config, log zerolog.Logger) error {
	u, path, err := asStateOwner(cfg)
	if err != nil {
		return err
	}
	if path != "" {
		log.Info().Str("user", u.Name).Int("uid", u.UID).Str("state_dir", path).
			Msgf("started as root: running as %s, the owner of %s, so that the service can use every file this run creates", u, path)
	}
	return pathcheck.Usable(pathcheck.Check(pathcheck.State(cfg)))
}

// explain adds what the state checks find to an error about a path the
// daemon was not allowed to use (state changed after prepareState, or a
// path it does not know).
func explain(cfg *config.Config, err error) error {
	if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EROFS) {
		return err
	}
	if perr := pathcheck.Usable(pathcheck.Check(pathcheck.State(cfg))); perr != nil {
		return fmt.Errorf("%w; %w", err, perr)
	}
	return err
}

// logStopped logs why the daemon stopped, with the unusable path and its
// repair as their own fields when that is the reason.
func logStopped(log zerolog.Logger, err error) {
	e := log.Error().Err(err)
	var perr *pathcheck.Error
	if errors.As(err, &perr) {
		e = e.Str("unusable_path", perr.Failed[0].Path).Str("repair", strings.Join(perr.Fixes(), " ; "))
	}
	e.Msg("falco-reporter stopped")
}

// failed prints an error that comes before the logger exists. Under
// systemd, stderr is the journal, and the "<3>" prefix files the line at
// priority err, as `journalctl -p err` expects.
func failed(stderr io.Writer, err error) {
	fmt.Fprintf(stderr, "%sfalco-reporter: %v\n", journal.ErrorPrefix(stderr), err)
}
