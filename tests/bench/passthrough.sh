#!/usr/bin/env bash
# tests/bench/passthrough.sh - throughput of the bare pass-through path
#
# Sends BENCH_COUNT (default 2000) messages of BENCH_SIZE (2000) bytes over
# BENCH_CONC (8) parallel SMTP connections from tests/e2e/lib_smtpload.py,
# everything on 127.0.0.1, filterd with 2 workers, and prints one line per
# setup:
#
#   postfix             client -> Postfix smtpd (no content_filter) -> maildir
#   filterd+sink        client -> filterd -> smtp-sink
#   filterd+postfix     client -> filterd -> Postfix reinjection smtpd
#   chain               client -> Postfix -> filterd -> Postfix -> maildir
#
# "bare" is the pass-through path alone: no rules (an empty rule file), no
# Bayes, SPF, DKIM or DMARC; "checks" runs the default rule set and checks
# (DNS answers fail at once: the resolver is a closed loopback port).
#
# "accept" figures are what the client sees: messages/s with a 250, and
# p50/p99 of the time from connect to the 250 after the dot (filterd only
# says 250 once the downstream said 250, so its latency includes the
# downstream's). "delivered/s" counts until the last message is in the
# maildir.
set -u
cd "$(dirname "$0")/../e2e" || exit 1
. ./lib_postfix.sh
. ./lib_filterd.sh

N=${BENCH_COUNT:-2000}
SIZE=${BENCH_SIZE:-2000}
CONC=${BENCH_CONC:-8}
export FD_WORKERS=2
cleanup()
{
	fd_cleanup
	pf_stop
	e2e_sink_stop
}
trap cleanup EXIT

# load NAME PORT - send N messages, print the summary
load()
{
	$E2E_SMTP send --port "$2" --count "$N" --conc "$CONC" \
	    --size "$SIZE" --prefix "$1" --rcpt bench@example.test
}
# delivered_rate T0 - wait for N messages in the maildir, print msgs/s
delivered_rate()
{
	pf_wait_delivered "$N" 300
	local t1
	t1=$(date +%s.%N)
	awk -v n="$N" -v d="$(pf_delivered)" -v t0="$1" -v t1="$t1" \
	    'BEGIN { printf "delivered=%d delivered_rate=%.1f/s", d, n / (t1 - t0) }'
}
report() # NAME SUMMARY [DELIVERED]
{
	printf '%-22s %s %s\n' "$1" "$2" "${3:-}"
}

printf 'pass-through bench: %d messages x %d bytes, %d connections, filterd workers=2, %d cores, load %s\n' \
    "$N" "$SIZE" "$CONC" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Postfix alone
read -r in fport re < <(e2e_ports 3)
pf_start "$in" "$fport" "$re" nofilter || exit 1
t0=$(date +%s.%N)
s=$(load pf "$in")
report postfix "$s" "$(delivered_rate "$t0")"
pf_stop

empty=$(mktemp /tmp/filterd-bench-empty.XXXXXX.cf)
trap 'cleanup; rm -f "$empty"' EXIT
BARE="rules_dir = $empty
use_bayes = no
use_spf = no
use_dkim = no
use_dmarc = no"

# 2. filterd -> smtp-sink, bare and with the checks
e2e_sink || exit 1
fport=$(e2e_ports 1)
for mode in bare checks; do
	extra=
	[ "$mode" = bare ] && extra=$BARE
	fd_start "$fport" "$SINK_PORT" "$extra" || exit 1
	load fs "$fport" >/dev/null # warm up
	s=$(load fs "$fport")
	report "filterd+sink/$mode" "$s"
	fd_cleanup
done
e2e_sink_stop

# 3. filterd -> Postfix reinjection; 4. the whole chain
read -r in fport re < <(e2e_ports 3)
pf_start "$in" "$fport" "$re" || exit 1
fd_start "$fport" "$re" "$BARE" || exit 1
t0=$(date +%s.%N)
s=$(load fp "$fport")
report filterd+postfix/bare "$s" "$(delivered_rate "$t0")"
find "$PF_MAILDIR/new" -type f -delete
t0=$(date +%s.%N)
s=$(load ch "$in")
report chain/bare "$s" "$(delivered_rate "$t0")"
