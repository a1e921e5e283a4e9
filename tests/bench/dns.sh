#!/usr/bin/env bash
# tests/bench/dns.sh - run build/bench/dns against knotd on 127.0.0.1
# (the bench makes its own silent "slow server").
# Usage: tests/bench/dns.sh [N]   (make bench; no packet leaves 127.0.0.1)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
serve=$root/../shared/conformance/dns/serve-zone.sh
. "$root/tests/e2e/lib_filterd.sh"
read -r kport < <(e2e_ports 1)
knot=$("$serve" -p "$kport" "$root/tests/e2e/zones/dnsbl.zone" 2>/dev/null) || {
	echo "dns bench: knotd did not start" >&2; exit 1; }
"${DNS_BENCH_BIN:-$root/build/bench/dns}" "127.0.0.1:$kport" "${1:-2000}"
rc=$?
"$serve" stop "$knot" >/dev/null 2>&1
exit $rc
