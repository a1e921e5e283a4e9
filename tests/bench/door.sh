#!/usr/bin/env bash
# tests/bench/door.sh - the whole daemon's CPU per message, through the
# SMTP front door (what a Postfix content_filter costs), in one run:
#   1. filterd with Debian's stock SpamAssassin rules (the Hyperscan cache
#      built first, as filterctl compile does): the brief's goal is at
#      least 1000 messages per CPU-second with that ruleset loaded
#   2. filterd with rules/default, against rspamd 3.4 with its default
#      rules through its own door (rspamc -n 1, the normal worker's CPU;
#      network modules, Redis and Bayes off): the brief's "more messages
#      per CPU-second than rspamd"
# filterd runs with one worker, every network check and Bayes off, and
# smtp-sink downstream; the client is tests/e2e/lib_smtpload.py, which
# pipelines MAIL/RCPT/DATA (RFC 2920) and keeps a connection for 100
# messages, as Postfix's smtp client does with PIPELINING and its
# connection cache. The CPU counted is filterd's (master and worker:
# utime + stime from /proc) over BENCH_PASSES passes (default 3; rules/
# default 3 times as many) of the same BENCH_N (default 300) messages
# of the 2002 sets that tests/bench/rules.sh scans (bench_mix), after a
# warm-up pass. The engine alone on the same messages is in rules.sh;
# the difference is the door: sockets, spooling, reinjection, headers.
# Exit status 1 when a goal is missed. BENCH_SKIP_RSPAMD=1 skips rspamd.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tests/e2e" || exit 1
. ./lib_filterd.sh
. "$root/tests/bench/lib_bench.sh"
N=${BENCH_N:-300}
PASSES=${BENCH_PASSES:-3}
SA_RULES=/usr/share/spamassassin
t=$(mktemp -d /tmp/door-bench.XXXXXX)
chmod 755 "$t"
cleanup()
{
	fd_cleanup
	e2e_sink_stop
	rspamd_stop
	rm -rf "$t"
}
trap cleanup EXIT

data=$("$root/corpus/fetch.sh" 2>/dev/null | tail -n 1)
[ -d "$data" ] || data=$root/corpus/data
bench_mix "$N" "$data" >"$t/list"
N=$(wc -l <"$t/list")
[ "$N" -gt 0 ] || { echo "bench door: no corpus (corpus/fetch.sh)"; exit 1; }
e2e_sink || { echo "bench door: smtp-sink did not start"; exit 1; }
hz=$(getconf CLK_TCK)

# door NAME PASSES EXTRA - start filterd with EXTRA config lines, send the
# list once to warm up, then PASSES times; prints NAME and msg/CPU-s and
# leaves the rate in $rate
door()
{
	local name=$1 passes=$2 extra=$3 c0 c1 out
	FD_WORKERS=1 fd_start "$(e2e_ports 1)" "$SINK_PORT" "$extra
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
use_bayes = no" || { echo "bench door: filterd did not start ($name)"; return 1; }
	python3 lib_smtpload.py send --port "$FD_PORT" --files "$t/list" \
	    --count "$N" --conc 1 --per-conn 100 --pipelining >/dev/null ||
	    { echo "bench door: warm-up failed ($name)"; return 1; }
	c0=$(cpu_ticks "$FD_PID")
	out=$(python3 lib_smtpload.py send --port "$FD_PORT" \
	    --files "$t/list" --count $((N * passes)) --conc 1 \
	    --per-conn 100 --pipelining) ||
	    { echo "bench door: not every message got a 250 ($name): $out"; return 1; }
	c1=$(cpu_ticks "$FD_PID")
	fd_cleanup
	rate=$(echo "$N * $passes / (($c1 - $c0) / $hz)" | bc -l)
	printf "%-44s %7.1f msg/CPU-s  (%d messages, client: %s)\n" "$name" \
	    "$rate" $((N * passes)) "$(sed 's/.*rate=\([^ ]*\).*/\1/' <<<"$out")"
}

fail=0
echo "== filterd through the SMTP door, 1 worker, $N messages of the 2002 sets"
printf 'rules_dir = %s\nrules_local = /etc/spamassassin/local.cf\nrules_cache_dir = %s\n' \
    "$SA_RULES" "$t/hscache" >"$t/compile.conf"
"$root/build/filterctl" -c "$t/compile.conf" compile -q ||
    { echo "bench door: filterctl compile failed"; exit 1; }
door "stock SpamAssassin rules (Hyperscan cache)" "$PASSES" \
    "rules_dir = $SA_RULES
rules_local = /etc/spamassassin/local.cf
rules_cache_dir = $t/hscache" || exit 1
sa=$rate
if [ "$(echo "$sa >= 1000" | bc)" = 1 ]; then
	echo "   goal >= 1000 msg/CPU-s with the stock rules: met"
else
	printf "   goal >= 1000 msg/CPU-s with the stock rules: MISSED (%.0f%%)\n" \
	    "$(echo "$sa / 10" | bc -l)"
	fail=1
fi
door "rules/default" $((PASSES * 3)) "rules_cache_dir = none" || exit 1
fd=$rate

if [ "${BENCH_SKIP_RSPAMD:-0}" != 1 ] && command -v rspamd >/dev/null; then
	rspamd_start "$t/rspamd" || { echo "bench door: rspamd did not start"; exit 1; }
	bench_copy "$t/list" "$t/msgs"
	rspamc -h "127.0.0.1:$RSPAMD_PORT" -n 1 -t 60 "$t"/msgs/* >/dev/null 2>&1
	w0=$(cpu_ticks "$RSPAMD_WORKER")
	rspamc -h "127.0.0.1:$RSPAMD_PORT" -n 1 -t 60 "$t"/msgs/* >"$t/rs.txt" 2>&1
	w1=$(cpu_ticks "$RSPAMD_WORKER")
	rspamd_stop
	done_n=$(grep -c '^Action' "$t/rs.txt")
	if [ "$done_n" -gt 0 ] && [ "$w1" -gt "$w0" ]; then
		rs=$(echo "$done_n / (($w1 - $w0) / $hz)" | bc -l)
		printf "%-44s %7.1f msg/CPU-s  (%d messages, rspamc -n 1)\n" \
		    "rspamd 3.4, its default rules, normal worker" "$rs" "$done_n"
		printf "   filterd rules/default / rspamd: %.1fx (goal > 1x): %s\n" \
		    "$(echo "$fd / $rs" | bc -l)" \
		    "$([ "$(echo "$fd > $rs" | bc)" = 1 ] && echo met || echo MISSED)"
		[ "$(echo "$fd > $rs" | bc)" = 1 ] || fail=1
	else
		echo "bench door: rspamd answered nothing"
		fail=1
	fi
fi
exit "$fail"
