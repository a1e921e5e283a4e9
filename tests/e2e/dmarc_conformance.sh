#!/usr/bin/env bash
# tests/e2e/dmarc_conformance.sh - the DMARC conformance vectors in
# $CONFORMANCE_DIR (default ../shared/conformance) through plugins/dmarc.c,
# DNS answered from the vectors' zone data by the test resolver
# (tests/unit/auth_zone.h). Prints TAP lines.
set -u
cd "$(dirname "$0")/../.."
dir=${CONFORMANCE_DIR:-../shared/conformance}
bin=build/tests/dmarc_test
if [ ! -d "$dir/dmarc" ]; then
	echo "ok 1 - dmarc conformance # SKIP no data in $dir/dmarc"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "not ok 1 - dmarc conformance: $bin not built"
	exit 1
fi
"$bin" --conformance "$dir/dmarc"
