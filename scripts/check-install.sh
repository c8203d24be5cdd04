#!/bin/bash
# Verifies an installed walmgr runs on a host without a Swift toolchain: no libswift* in its
# dynamic dependencies (libc, libstdc++, libzstd, liblz4; libpq5 is loaded when a command connects),
# and it starts.
# Usage: scripts/check-install.sh /usr/local/bin/walmgr
set -euo pipefail
binary=${1:?usage: $0 PATH/TO/walmgr}
[ -x "$binary" ] || { echo "check-install: $binary is not an executable file" >&2; exit 1; }
deps=$(ldd "$binary")
if grep -q 'libswift\|libFoundation\|libdispatch\|libBlocksRuntime' <<<"$deps"; then
    echo "check-install: FAIL $binary needs Swift runtime libraries (build with --static-swift-stdlib):" >&2
    grep 'libswift\|libFoundation\|libdispatch\|libBlocksRuntime' <<<"$deps" >&2
    exit 1
fi
if grep -q 'not found' <<<"$deps"; then
    echo "check-install: FAIL missing libraries:" >&2
    grep 'not found' <<<"$deps" >&2
    exit 1
fi
version=$("$binary" --version)
echo "check-install: OK $binary ($version) needs no Swift runtime:"
awk '{print "  " $1}' <<<"$deps"
