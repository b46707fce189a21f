package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query"
)

// Environment variables of the fleet flags. The password has no flag: a
// flag's value is in the process list for every user of the machine.
const (
	envFleet         = "FALCO_REPORTER_FLEET"
	envFleetUser     = "FALCO_REPORTER_FLEET_USER"
	envFleetPassword = "FALCO_REPORTER_FLEET_PASSWORD"
	envFleetPassFile = "FALCO_REPORTER_FLEET_PASSWORD_FILE"
	envFleetCA       = "FALCO_REPORTER_FLEET_CA"
	envFleetCert     = "FALCO_REPORTER_FLEET_CERT"
	envFleetKey      = "FALCO_REPORTER_FLEET_KEY"
	envFleetTenant   = "FALCO_REPORTER_FLEET_TENANT"
	envFleetFilter   = "FALCO_REPORTER_FLEET_FILTER"
)

// fleetFlags say where the fleet's VictoriaLogs is and how to reach it;
// each defaults to its environment variable.
type fleetFlags struct {
	url, user, passwordFile, ca, cert, key, tenant, filter *string
	timeout                                                *time.Duration
}

func fleetFlagSet(fs *flag.FlagSet) *fleetFlags {
	env := os.Getenv
	return &fleetFlags{
		url:          fs.String("fleet", env(envFleet), "read the reports of every host from the VictoriaLogs at this URL (docs/fleet.md); $"+envFleet),
		user:         fs.String("fleet-user", env(envFleetUser), "user for HTTP basic authentication; the password is in $"+envFleetPassword+" or --fleet-password-file; $"+envFleetUser),
		passwordFile: fs.String("fleet-password-file", env(envFleetPassFile), "file holding the basic authentication password; $"+envFleetPassFile),
		ca:           fs.String("fleet-ca", env(envFleetCA), "PEM file of the CAs to trust for https (default: the system's); $"+envFleetCA),
		cert:         fs.String("fleet-cert", env(envFleetCert), "client certificate (PEM) for mutual TLS; $"+envFleetCert),
		key:          fs.String("fleet-key", env(envFleetKey), "its key; $"+envFleetKey),
		tenant:       fs.String("fleet-tenant", env(envFleetTenant), "VictoriaLogs tenant, AccountID:ProjectID (default 0:0); $"+envFleetTenant),
		filter:       fs.String("fleet-filter", env(envFleetFilter), "LogsQL filter that only falco-reporter's own entries pass (default "+query.DefaultFleetFilter+"); $"+envFleetFilter),
		timeout:      fs.Duration("fleet-timeout", time.Minute, "how long a query may take"),
	}
}

// backend opens the fleet's store.
func (f *fleetFlags) backend() (*query.Fleet, error) {
	o := query.FleetOptions{URL: *f.url, User: *f.user, CA: *f.ca, Cert: *f.cert, Key: *f.key,
		Tenant: *f.tenant, Filter: *f.filter, Timeout: *f.timeout}
	if o.User != "" {
		switch {
		case *f.passwordFile != "":
			b, err := os.ReadFile(*f.passwordFile)
			if err != nil {
				return nil, fmt.Errorf("fleet password: %w", err)
			}
			o.Password = strings.TrimRight(string(b), "\r\n")
		case os.Getenv(envFleetPassword) != "":
			o.Password = os.Getenv(envFleetPassword)
		default:
			return nil, errors.New("--fleet-user without a password: put it in $" + envFleetPassword + " or in a file named by --fleet-password-file")
		}
	}
	return query.NewFleet(o)
}
