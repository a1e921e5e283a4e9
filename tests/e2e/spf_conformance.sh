#!/usr/bin/env bash
# tests/e2e/spf_conformance.sh - the SPF conformance vectors in
# $CONFORMANCE_DIR (default ../shared/conformance) through plugins/spf.c,
# DNS answered from the vectors' zone data by the test resolver
# (tests/unit/auth_zone.h); then once more with each scenario's zone file
# served by knotd on 127.0.0.1 (serve-zone.sh) and every lookup going
# through plugins/dns (c-ares). Prints TAP lines.
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
rc=0
"$bin" --suite "$dir/spf/rfc7208-tests.json" || rc=1
serve=$dir/dns/serve-zone.sh
if [ -x "$serve" ] && command -v knotd >/dev/null 2>&1; then
	"$bin" --suite-dns "$dir/spf/rfc7208-tests.json" \
	    "$dir/spf/zones/rfc7208" "$serve" || rc=1
else
	echo "ok - spf suite through knotd # SKIP knotd or $serve missing"
fi
exit $rc
