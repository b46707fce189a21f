# Makefile for falco-reporter: build, test, install and the .deb package.
#
#   make build                     -> dist/falco-reporter
#   make test                      -> go test -race ./...
#   make bench                     -> the benchmark table of README "Performance"
#                                     (BENCH_FLAGS="--dir /mnt/x --only grpc,http" to vary it)
#   make install DESTDIR=/tmp/root PREFIX=/usr
#   make deb                       -> dist/falco-reporter_<version>_<arch>.deb
#   make deb-test                  -> builds the .deb, installs and purges it (root)
#   make sandbox-test              -> boots the package under systemd-nspawn (root)
#
# VERSION comes from the newest vX.Y.Z tag: v1.2.3 gives 1.2.3, three commits
# later 1.2.3+git3.gabc1234; with no tag 0.0.0+git<hash>, with no commit 0.0.0.
# Override with `make VERSION=1.4.0 deb`.

SHELL := /bin/sh

GO      ?= go
NFPM    ?= $(shell command -v nfpm 2>/dev/null || echo $$($(GO) env GOPATH)/bin/nfpm)
# NFPM_VERSION is the nfpm release `make nfpm` installs through the Go proxy.
NFPM_VERSION ?= v2.45.2

ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null \
	| sed -e 's/^v//' -e 's/-\([0-9][0-9]*\)-g/+git\1.g/')
ifeq ($(VERSION),)
VERSION := $(shell h=$$(git rev-parse --short HEAD 2>/dev/null) && echo 0.0.0+git$$h || echo 0.0.0)
endif
endif
ARCH ?= $(shell $(GO) env GOARCH)

# Install layout. The unit, sysusers and tmpfiles paths are Debian's.
DESTDIR     ?=
PREFIX      ?= /usr
BINDIR      ?= $(PREFIX)/bin
SYSCONFDIR  ?= /etc
UNITDIR     ?= /lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DOCDIR      ?= $(PREFIX)/share/doc/falco-reporter

# Sources that are installed; each can be overridden for a test build.
# Everything built lands in dist/ (git-ignored).
BIN        ?= dist/falco-reporter
# The evidence collector (opt-in: see README "Evidence at alert time").
EVIDENCE_BIN ?= dist/falco-reporter-evidence
CONFIG_SRC ?= configs/falco-reporter.yaml
README_SRC ?= README.md

# STAGE is the tree `make deb` packs: a `make install` into it, so the
# package and a manual install can never differ. packaging/nfpm.yaml names
# the same directory (nfpm does not expand variables in source paths).
STAGE := dist/stage

GOFLAGS_BUILD ?= -trimpath
LDFLAGS ?= -s -w -X main.version=$(VERSION)

.PHONY: all build test vet bench install deb deb-test sandbox-test nfpm clean version

all: build

version:
	@echo $(VERSION)

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags '$(LDFLAGS)' -o dist/falco-reporter ./cmd/falco-reporter
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o dist/falco-reporter-evidence ./cmd/falco-reporter-evidence

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

# bench runs the daemon built here against its references, side by side on
# this machine, and prints the table with ratios (see README "Performance").
# It takes a few minutes and needs a few GiB free under $$TMPDIR.
BENCH_FLAGS ?=
bench: build
	dist/falco-reporter bench $(BENCH_FLAGS)

# install copies everything into $(DESTDIR). The config is installed only
# when absent, so a reinstall never overwrites local settings. Ownership
# (root:falco-reporter on /etc/falco-reporter) is not set here, since the
# group may not exist yet: systemd-sysusers and systemd-tmpfiles --create on
# the installed files do it (the .deb's postinstall runs both).
install: $(if $(filter dist/falco-reporter dist/falco-reporter-evidence,$(BIN) $(EVIDENCE_BIN)),build)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/falco-reporter/tls
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/falco-reporter
	sed -e 's|/usr/bin/falco-reporter|$(BINDIR)/falco-reporter|g' systemd/falco-reporter.service \
		> $(DESTDIR)$(UNITDIR)/falco-reporter.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/falco-reporter.service
	install -m 0755 $(EVIDENCE_BIN) $(DESTDIR)$(BINDIR)/falco-reporter-evidence
	sed -e 's|/usr/bin/falco-reporter-evidence|$(BINDIR)/falco-reporter-evidence|g' systemd/falco-reporter-evidence.service \
		> $(DESTDIR)$(UNITDIR)/falco-reporter-evidence.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/falco-reporter-evidence.service
	install -m 0644 systemd/falco-reporter-evidence.socket $(DESTDIR)$(UNITDIR)/falco-reporter-evidence.socket
	install -m 0644 systemd/falco-reporter.sysusers $(DESTDIR)$(SYSUSERSDIR)/falco-reporter.conf
	install -m 0644 systemd/falco-reporter.tmpfiles $(DESTDIR)$(TMPFILESDIR)/falco-reporter.conf
	install -m 0644 systemd/falco-socket-access.conf $(DESTDIR)$(DOCDIR)/falco-socket-access.conf
	install -m 0644 $(README_SRC) $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 docs/systemd.md $(DESTDIR)$(DOCDIR)/systemd.md
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/falco-reporter/falco-reporter.yaml ]; then \
		install -m 0640 $(CONFIG_SRC) $(DESTDIR)$(SYSCONFDIR)/falco-reporter/falco-reporter.yaml; \
	fi

# nfpm installs the packager through the Go module proxy when it is missing.
nfpm:
	@test -x "$(NFPM)" || GOBIN="$(dir $(NFPM))" $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

deb: nfpm $(if $(filter dist/falco-reporter,$(BIN)),build)
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(STAGE) PREFIX=/usr BIN=$(BIN) \
		CONFIG_SRC=$(CONFIG_SRC) README_SRC=$(README_SRC) VERSION=$(VERSION)
	mkdir -p dist
	VERSION=$(VERSION) ARCH=$(ARCH) "$(NFPM)" package \
		--config packaging/nfpm.yaml --packager deb --target dist/

# deb-test builds the package and checks install, remove and purge with apt.
# Needs root; see packaging/test-deb.sh.
deb-test:
	packaging/test-deb.sh

# sandbox-test runs the packaged service with its whole sandbox under a real
# systemd in a throw-away copy of this machine. Needs root; see
# packaging/test-sandbox.sh.
sandbox-test:
	packaging/test-sandbox.sh

clean:
	rm -rf dist
