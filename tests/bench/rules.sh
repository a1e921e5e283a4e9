#!/usr/bin/env bash
# tests/bench/rules.sh - rule-engine speed, in one run on the same machine:
#   1. filterd's engine with Debian's stock SpamAssassin rules (read from
#      /usr/share/spamassassin, never copied) on one core: load+compile
#      time, messages/s, p50/p99 per message, RSS (build/bench/rules),
#      with the Hyperscan cache filterctl compile writes (its one-time
#      compile reported first) and without it
# Ratios are given twice: by wall time and by CPU time of the process that
# does the scanning (our bench thread, the spamd child, the rspamd normal
# worker, read from /proc), which stays meaningful on a busy shared host.
#   2. spamd 4.0 -L (no network, no Bayes) with the same rules and one
#      child, fed the same messages by spamc one after another: messages/s
#   3. the ratio, and filterd's engine with rules/default
#   4. rspamd 3.4 (its own default rules, network modules, Redis and Bayes
#      off, one normal worker) fed the same messages by rspamc -n 1,
#      against filterd's engine (parse + rules/default)
# The messages: BENCH_N (default 300) from the 2002 training sets.
# BENCH_SKIP_SA=1 skips spamd, BENCH_SKIP_RSPAMD=1 rspamd.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/e2e/lib_spamd.sh
. tests/bench/lib_bench.sh
data=$(corpus/fetch.sh 2>/dev/null | tail -n 1)
[ -d "$data" ] || data=corpus/data
N=${BENCH_N:-300}
bench=${RULES_BENCH:-build/bench/rules}
t=$(mktemp -d /tmp/rules-bench.XXXXXX)
spamd_pid=
cleanup() {
	[ -n "$spamd_pid" ] && kill "$spamd_pid" 2>/dev/null
	rspamd_stop
	rm -rf "$t"
}
trap cleanup EXIT
now() { date +%s.%N; }

# the same mix every run: every k-th message of each 2002 group
bench_mix "$N" "$data" >"$t/list"
bench_copy "$t/list" "$t/msgs"

echo "== filterd rule engine, stock SpamAssassin rules, 1 core, $N messages"
echo "-- Hyperscan cache, built once as filterctl compile does (like sa-compile)"
mkdir -p "$t/hscache"
"$bench" -B -C "$t/hscache" -r /usr/share/spamassassin \
    -r /etc/spamassassin/local.cf
echo "-- with the cache (what filterd runs after filterctl compile)"
"$bench" -C "$t/hscache" -r /usr/share/spamassassin \
    -r /etc/spamassassin/local.cf "$t/msgs" | tee "$t/fd.txt"
echo "-- without it (budget compile at load: after a rule change, before the next filterctl compile)"
"$bench" -r /usr/share/spamassassin -r /etc/spamassassin/local.cf \
    "$t/msgs" | tee "$t/fd_nocache.txt"
echo "== filterd rule engine, rules/default"
"$bench" -r rules/default "$t/msgs" | tee "$t/fd_default.txt"

hz=$(getconf CLK_TCK)
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "${BENCH_SKIP_RSPAMD:-0}" != 1 ] && command -v rspamd >/dev/null; then
	rspamd_start "$t/rspamd" || { echo "rspamd did not start"; exit 1; }
	r=$t/rspamd rport=$RSPAMD_PORT worker=$RSPAMD_WORKER
	w0=$(cpu_ticks "$worker")
	a=$(now)
	rspamc -h "127.0.0.1:$rport" -n 1 -t 60 "$t"/msgs/* >"$r/result.txt" 2>&1
	b=$(now)
	w1=$(cpu_ticks "$worker")
	done_n=$(grep -c '^Action' "$r/result.txt")
	[ "$done_n" -gt 0 ] || { echo "rspamd answered nothing"; exit 1; }
	rs_rate=$(echo "$done_n / ($b - $a)" | bc -l)
	fd2=$(sed -n 's/.*(parse+rules \([0-9.]*\) msg\/s).*/\1/p' "$t/fd_default.txt")
	fd2c=$(sed -n 's/^cpu: rules [0-9.]* msg\/s, parse+rules \([0-9.]*\) msg\/s/\1/p' "$t/fd_default.txt")
	printf "rspamd 3.4 (1 worker, rspamc -n 1): %.1f msg/s over %s messages; filterd parse+rules/default: %s msg/s; ratio %.0fx (wall)\n" \
	    "$rs_rate" "$done_n" "$fd2" "$(echo "$fd2 / $rs_rate" | bc -l)"
	if [ -n "$worker" ] && [ "$w1" -gt "$w0" ]; then
		rs_cpu=$(echo "$done_n / (($w1 - $w0) / $hz)" | bc -l)
		printf "rspamd worker CPU: %.1f msg/s; filterd parse+rules/default CPU: %s msg/s; ratio %.0fx (cpu)\n" \
		    "$rs_cpu" "$fd2c" "$(echo "$fd2c / $rs_cpu" | bc -l)"
	fi
	rspamd_stop
fi

[ "${BENCH_SKIP_SA:-0}" = 1 ] && exit 0
port=$(free_port)
spamd -L -x -s stderr -i 127.0.0.1 -p "$port" -m 1 --max-conn-per-child=1000000 -u nobody \
    -r "$t/spamd.pid" >"$t/spamd.log" 2>&1 &
spamd_pid=$!
spamd_up "$t/spamd.log" || { echo "spamd did not start"; exit 1; }
# warm up the child (first message compiles lazily)
spamc -d 127.0.0.1 -p "$port" -c <"$t/list" >/dev/null 2>&1
child=$(pgrep -P "$(cat "$t/spamd.pid" 2>/dev/null || echo "$spamd_pid")" | head -n 1)
c0=$(cpu_ticks "$child")
: >"$t/sa_ms"
a=$(now)
for f in "$t"/msgs/*; do
	s=$(date +%s%N)
	spamc -d 127.0.0.1 -p "$port" -y -t 60 <"$f" >/dev/null
	e=$(date +%s%N)
	echo $(( (e - s) / 1000 )) >>"$t/sa_ms"
done
b=$(now)
c1=$(cpu_ticks "$child")
sa_rate=$(echo "$N / ($b - $a)" | bc -l)
sort -n "$t/sa_ms" | awk '{ v[NR] = $1 } END {
    printf "== spamd 4.0 -L, 1 child, same rules: p50 %.1f ms, p99 %.1f ms\n",
    v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000 }'
fd_rate=$(sed -n 's/^messages: [0-9]*, rules \([0-9.]*\) msg\/s.*/\1/p' "$t/fd.txt")
fd_cpu=$(sed -n 's/^cpu: rules \([0-9.]*\) msg\/s.*/\1/p' "$t/fd.txt")
printf "spamd: %.1f msg/s; filterd engine: %s msg/s; ratio %.0fx (wall)\n" \
    "$sa_rate" "$fd_rate" "$(echo "$fd_rate / $sa_rate" | bc -l)"
if [ -n "$child" ] && [ "$c1" -gt "$c0" ]; then
	sa_cpu=$(echo "$N / (($c1 - $c0) / $hz)" | bc -l)
	printf "spamd child CPU: %.1f msg/s; filterd engine CPU: %s msg/s; ratio %.0fx (cpu)\n" \
	    "$sa_cpu" "$fd_cpu" "$(echo "$fd_cpu / $sa_cpu" | bc -l)"
	nc_rate=$(sed -n 's/^messages: [0-9]*, rules \([0-9.]*\) msg\/s.*/\1/p' "$t/fd_nocache.txt")
	nc_cpu=$(sed -n 's/^cpu: rules \([0-9.]*\) msg\/s.*/\1/p' "$t/fd_nocache.txt")
	printf "without the Hyperscan cache: %s msg/s, %s msg/CPU-s; ratio %.0fx (wall), %.0fx (cpu)\n" \
	    "$nc_rate" "$nc_cpu" "$(echo "$nc_rate / $sa_rate" | bc -l)" \
	    "$(echo "$nc_cpu / $sa_cpu" | bc -l)"
fi
