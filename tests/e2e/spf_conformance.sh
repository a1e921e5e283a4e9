#!/usr/bin/env bash
# tests/e2e/spf_conformance.sh - the SPF conformance vectors in
# $CONFORMANCE_DIR (default ../shared/conformance) through plugins/spf.c,
# DNS answered from the vectors' zone data by the test resolver
# (tests/unit/auth_zone.h). Prints TAP lines.
set -u
cd "$(dirname "$0")/../.."
dir=${CONFORMANCE_DIR:-../shared/conformance}
bin=build/tests/spf_test
if [ ! -d "$dir/spf" ]; then
	echo "ok 1 - spf conformance # SKIP no data in $dir/spf"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "not ok 1 - spf conformance: $bin not built"
	exit 1
fi
"$bin" --suite "$dir/spf/rfc7208-tests.json"
