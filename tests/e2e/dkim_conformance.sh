#!/usr/bin/env bash
# tests/e2e/dkim_conformance.sh - the DKIM conformance vectors in
# $CONFORMANCE_DIR (default ../shared/conformance) through plugins/dkim.c,
# DNS answered from the vectors' zone data by the test resolver
# (tests/unit/auth_zone.h). Prints TAP lines.
set -u
cd "$(dirname "$0")/../.."
dir=${CONFORMANCE_DIR:-../shared/conformance}
bin=build/tests/dkim_test
if [ ! -d "$dir/dkim" ]; then
	echo "ok 1 - dkim conformance # SKIP no data in $dir/dkim"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "not ok 1 - dkim conformance: $bin not built"
	exit 1
fi
"$bin" --conformance "$dir/dkim"
