# virtdev — build, test and install.
#
#   make                 build every program into ./bin
#   make test            fast tests: unit and CLI contract tests (seconds)
#   make e2e             the real-guest suite (needs QEMU, a systemd user
#                        manager and a user bus; see README.md), and the
#                        installer machine on tiny real media; E2E_RUN=regexp
#                        runs only the tests it matches
#   make check           go vet, the man pages (scdoc) and the fast tests
#   make test-all        the fast tests, then the real-guest suite
#   make install         PREFIX=/usr/local DESTDIR= : programs, man pages,
#                        shell completions (make uninstall removes them)
#   make dist-check      the packaging checks: install layout, man pages,
#                        Nix flake (offline), AUR package (makepkg, as an
#                        unprivileged user)
#   make demo            from nothing to a command run in a new VM

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

GO       ?= go
# Reproducible across checkouts and commits (no paths, no VCS stamp): the
# e2e suite keys its cached base on the virtdev-bootstrap binary. (Not
# GOFLAGS: the go command reads that variable from the environment itself.)
BUILDFLAGS ?= -trimpath -buildvcs=false
# Static programs: none needs C, and one that uses the network and is
# linked against libc takes about a millisecond longer to start, as long
# as virtdev-status's own work (bench/access.sh).
export CGO_ENABLED ?= 0
E2E_TIMEOUT ?= 80m
# E2E_RUN narrows the real-guest suite to the tests matching a regular
# expression, e.g. make e2e E2E_RUN=TestNetworkZones
E2E_RUN ?=

PROGRAMS := $(notdir $(wildcard tools/virtdev tools/virtdev-*))
MANPAGES := $(patsubst %.scd,%,$(wildcard man/*.scd))

.PHONY: all build test e2e check test-all install uninstall man docs clean demo bench \
	dist-check install-check man-check flake-check aur-check

all: build

build:
	@mkdir -p bin
	$(GO) build $(BUILDFLAGS) -o bin/ $(addprefix ./tools/,$(PROGRAMS))

test:
	cd lib && $(GO) test ./...
	cd tools && $(GO) test ./...

# The e2e test binaries are built by the caller and run as-is, so the suite
# can run as an unprivileged user who has no Go module cache of their own.
# lib/qemu's real-QEMU tests boot the installer machine on tiny media of
# their own (no base, no user manager).
e2e: build
	cd tests && $(GO) test -tags e2e -c -o ../bin/e2e.test ./e2e
	cd lib && $(GO) test -tags e2e -c -o ../bin/qemu-e2e.test ./qemu
	cd lib/qemu && ../../bin/qemu-e2e.test -test.v -test.timeout $(E2E_TIMEOUT) -test.run '$(or $(E2E_RUN),Real)'
	VIRTDEV_BIN=$(CURDIR)/bin ./bin/e2e.test -test.v -test.timeout $(E2E_TIMEOUT) $(if $(E2E_RUN),-test.run '$(E2E_RUN)')

# The man pages are built too: a page scdoc rejects fails the check.
check:
	cd lib && $(GO) vet ./...
	cd tools && $(GO) vet ./...
	cd tests && $(GO) vet -tags e2e ./...
	$(MAKE) man
	$(MAKE) test

test-all: check e2e

man: $(MANPAGES)

# Rewrites what the programs' declarations decide in the man pages (SYNOPSIS,
# OPTIONS, EXIT STATUS) and the completion scripts (one block per program);
# the tests fail until this has been run after a declaration changed.
docs:
	cd tools && VIRTDEV_UPDATE_DOCS=1 $(GO) test -count=1 -run 'TestScripts/docs|TestSharedCodesDocumented' ./...

# Written to a temporary file first: a page scdoc rejects must not be left
# behind, half written, as an up-to-date target.
man/%: man/%.scd
	scdoc < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# Installs what `make` built, without building: `sudo make install` must not
# run the Go toolchain as root.
install: man
	@for p in $(PROGRAMS); do [ -x bin/$$p ] || { echo "bin/$$p is missing: run make first" >&2; exit 1; }; done
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(addprefix bin/,$(PROGRAMS)) $(DESTDIR)$(BINDIR)/
	for page in $(MANPAGES); do \
		section=$${page##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$section; \
		install -m 644 $$page $(DESTDIR)$(MANDIR)/man$$section/; \
	done
	if [ -f completions/virtdev.bash ]; then \
		install -d $(DESTDIR)$(BASHCOMPDIR); \
		install -m 644 completions/virtdev.bash $(DESTDIR)$(BASHCOMPDIR)/virtdev; \
		for p in $(PROGRAMS); do [ $$p = virtdev ] || ln -sf virtdev $(DESTDIR)$(BASHCOMPDIR)/$$p; done; \
	fi
	if [ -f completions/virtdev.zsh ]; then \
		install -d $(DESTDIR)$(ZSHCOMPDIR); \
		install -m 644 completions/virtdev.zsh $(DESTDIR)$(ZSHCOMPDIR)/_virtdev; \
	fi
	if [ -f completions/virtdev.fish ]; then \
		install -d $(DESTDIR)$(FISHCOMPDIR); \
		install -m 644 completions/virtdev.fish $(DESTDIR)$(FISHCOMPDIR)/virtdev.fish; \
		for p in $(PROGRAMS); do [ $$p = virtdev ] || ln -sf virtdev.fish $(DESTDIR)$(FISHCOMPDIR)/$$p.fish; done; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS))
	for page in $(MANPAGES); do \
		section=$${page##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$section/$$(basename $$page); \
	done
	rm -f $(DESTDIR)$(BASHCOMPDIR)/virtdev $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(PROGRAMS))
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_virtdev $(addprefix $(DESTDIR)$(FISHCOMPDIR)/,$(addsuffix .fish,$(PROGRAMS)))

# The packaging checks, one script each in packaging/checks (which says what
# each verifies and needs).
dist-check: install-check man-check flake-check aur-check

install-check: build man
	packaging/checks/install

man-check: man
	packaging/checks/man

flake-check:
	packaging/checks/flake

aur-check:
	packaging/checks/aur

demo:
	./scripts/demo

bench: build
	./bench/cli.sh
	./bench/create.sh
	./bench/lifecycle.sh
	./bench/access.sh

clean:
	rm -rf bin $(MANPAGES)
