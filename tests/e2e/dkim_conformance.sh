#!/usr/bin/env bash
# tests/e2e/dkim_conformance.sh - the DKIM conformance vectors in
# $CONFORMANCE_DIR (default ../shared/conformance) through plugins/dkim.c,
# DNS answered from the vectors' zone data by the test resolver
# (tests/unit/auth_zone.h); then again with the zone files served by knotd
# on 127.0.0.1 and every lookup through plugins/dns. Prints TAP lines.
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
rc=0
"$bin" --conformance "$dir/dkim" || rc=1
serve=$dir/dns/serve-zone.sh
if [ -x "$serve" ] && command -v knotd >/dev/null 2>&1; then
	"$bin" --conformance-dns "$dir/dkim" "$serve" || rc=1
else
	echo "ok - dkim vectors through knotd # SKIP knotd or $serve missing"
fi
exit $rc
