#!/usr/bin/env bash
# tests/bench/spamc.sh - messages/s through Debian's spamc: filterd's spamd
# front door vs SpamAssassin's spamd 4.0, side by side, same rules
#
# Both load Debian's stock SpamAssassin rules (/usr/share/spamassassin
# plus /etc/spamassassin/local.cf, read at run time, never copied) with
# no network tests and no Bayes: spamd -L, 2 children; filterd with
# 2 workers, use_dnsbl/spf/dkim/dmarc/bayes = no. The same BENCH_COUNT
# (default 300) messages from the SpamAssassin corpus (2002 sets, every
# group; corpus/fetch.sh) go through `spamc -c` with BENCH_CONC (default
# 4) clients in parallel (spamc posix_spawn'ed by build/bench/spamcdrive),
# after a warm-up of 10. Server CPU per message is measured from /proc for both.
# Prints per server messages/s, the mean ms per message, and the ratio
# (goal >= 50x); the clients' ceiling (the same spamc processes sending
# PING, which scans nothing: no server can be faster through spamc on
# this machine); spamc's own CPU per message and the CPU ratio with it;
# and how many CHECK verdicts (spam/ham) agree. BENCH_ROUNDS (default 3)
# rounds of filterd then spamd, medians and per-round ratios printed.
set -u
cd "$(dirname "$0")/../e2e"
. ./lib_filterd.sh
. ./lib_milter.sh
. ./lib_spamd.sh

N=${BENCH_COUNT:-300}
CONC=${BENCH_CONC:-4}
SA_RULES=/usr/share/spamassassin
work=$(mktemp -d /tmp/filterd-bench-spamc.XXXXXX)
chmod 755 "$work"
spamd_pid=
cleanup()
{
	[ -n "$spamd_pid" ] && kill "$spamd_pid" 2>/dev/null
	sleep 0.3
	[ -f "$work/spamd.pid" ] && kill "$(cat "$work/spamd.pid")" 2>/dev/null
	fd_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

for c in spamc spamd; do
	command -v $c >/dev/null || { echo "bench spamc: $c missing (make deps)"; exit 1; }
done
data=$("$E2E_ROOT/corpus/fetch.sh" 2>/dev/null | tail -n 1)
[ -d "$data" ] || data=$E2E_ROOT/corpus/data
: >"$work/list"
per=$(( (N + 2) / 3 ))
for g in easy-ham-1 hard-ham-1 spam-1; do
	[ -d "$data/$g" ] || continue
	total=$(ls "$data/$g" | wc -l)
	step=$(( total / per )); [ "$step" -lt 1 ] && step=1
	ls "$data/$g" | sort | awk -v s="$step" -v n="$per" \
	    'NR % s == 1 && c < n { print; c++ }' | sed "s|^|$data/$g/|" >>"$work/list"
done
if [ ! -s "$work/list" ]; then
	echo "bench spamc: no corpus (corpus/fetch.sh)"
	exit 1
fi
head -n "$N" "$work/list" >"$work/sample"
N=$(wc -l <"$work/sample")
bytes=$(cat $(cat "$work/sample") | wc -c)

fe_private_bins "$work"
read -r fd_port re_port fsp_port sa_port < <(e2e_ports 4)
# the Hyperscan cache, as an admin builds it once with filterctl compile
# (SpamAssassin's sa-compile); the compile time is printed, not counted
printf 'rules_dir = %s\nrules_local = /etc/spamassassin/local.cf\nrules_cache_dir = %s\n' \
    "$SA_RULES" "$work/hscache" >"$work/compile.conf"
"$E2E_ROOT/build/filterctl" -c "$work/compile.conf" compile -q ||
    { echo "bench spamc: filterctl compile failed"; exit 1; }
FD_WORKERS=2 fd_start "$fd_port" "$re_port" "rules_dir = $SA_RULES
rules_cache_dir = $work/hscache
rules_local = /etc/spamassassin/local.cf
dnsbl_config = $E2E_ROOT/etc/dnsbl.cf
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
use_bayes = no
spamd_listen = 127.0.0.1:$fsp_port
milter_socket = none
log = stderr" || { echo "bench spamc: filterd did not start"; exit 1; }
grep -q "Hyperscan databases for" "$FD_LOG" ||
    echo "bench spamc: warning: filterd did not load the Hyperscan cache"

spamd -L -x -s stderr -i 127.0.0.1 -p "$sa_port" -m 2 --min-children=2 \
    --max-conn-per-child=100000 \
    -u nobody -C "$SA_RULES" --siteconfigpath=/etc/spamassassin \
    -r "$work/spamd.pid" >"$work/spamd.log" 2>&1 &
spamd_pid=$!
spamd_up "$work/spamd.log" ||
    { echo "bench spamc: spamd did not start"; tail -5 "$work/spamd.log"; exit 1; }

# cpu_ms ROOT - CPU time (user+sys, ms) of a process tree: every live
# process's own time plus what the root reaped from exited children
cpu_ms()
{
	python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
hz = os.sysconf("SC_CLK_TCK")
kids, stat = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        f = open("/proc/%s/stat" % p).read()
    except OSError:
        continue
    v = f[f.rfind(")") + 2:].split()
    stat[int(p)] = v
    kids.setdefault(int(v[1]), []).append(int(p))
tot, todo = 0, [root]
while todo:
    p = todo.pop()
    if p not in stat:
        continue
    v = stat[p]
    tot += int(v[11]) + int(v[12])
    if p == root:
        tot += int(v[13]) + int(v[14])
    todo += kids.get(p, [])
print(tot * 1000 // hz)
PY
}

# run PORT PID OUT - every sample message through spamc -c, CONC at a
# time; prints "wall_ms server_cpu_ms client_cpu_ms"; OUT gets
# "file<TAB>score/threshold"
run() # PORT PID OUT PASSES [SPAMC-MODE]
{
	local port=$1 pid=$2 out=$3 passes=$4 mode=${5:--c} t0 t1 c0 c1
	head -n 10 "$work/sample" | while read -r f; do
		spamc -d 127.0.0.1 -p "$port" -c -s 5000000 -t 300 <"$f" >/dev/null
	done
	c0=$(cpu_ms "$pid")
	# the clients: spamc posix_spawn'ed from one C loop (spamcdrive;
	# a script's pool cost as much CPU as spamc itself); its own output
	# line is "wall_ms client_cpu_ms"
	t0=$(date +%s%N)
	read -r _ cl < <("$E2E_ROOT/build/bench/spamcdrive" -p "$port" \
	    -c "$CONC" -m "$mode" -n "$passes" -o "$out" "$work/sample")
	t1=$(date +%s%N)
	c1=$(cpu_ms "$pid")
	echo "$(( (t1 - t0) / 1000000 )) $((c1 - c0)) ${cl:-0}"
}

# filterd's side runs the sample FD_PASSES times (default 3): one pass is
# about a second of its CPU, read in clock ticks, too coarse alone
FD_PASSES=${FD_PASSES:-3}
# BENCH_ROUNDS (default 3) rounds, each filterd's passes then spamd's one,
# so that a change in the machine's load between the two servers' runs
# shows as a spread between rounds instead of going into one ratio
ROUNDS=${BENCH_ROUNDS:-3}
fd_ms= fd_cpu= fd_cl= sa_ms= sa_cpu= sa_cl=
for r in $(seq "$ROUNDS"); do
	read -r a b c < <(run "$fsp_port" "$FD_PID" "$work/fd.out" "$FD_PASSES")
	fd_ms+="$a," fd_cpu+="$b," fd_cl+="$c,"
	read -r a b c < <(run "$sa_port" "$(cat "$work/spamd.pid")" "$work/sa.out" 1)
	sa_ms+="$a," sa_cpu+="$b," sa_cl+="$c,"
done
# the clients' own ceiling on this machine: the same spamc processes from
# the same pool, sending PING (-K, no message, no scan) to filterd
read -r ping_ms _ ping_cl < <(run "$fsp_port" "$FD_PID" "$work/ping.out" "$FD_PASSES" -K)
python3 - "$N" "$bytes" "$CONC" "$fd_ms" "$sa_ms" "$work/fd.out" "$work/sa.out" \
    "$fd_cpu" "$sa_cpu" "$(cut -d' ' -f1-3 /proc/loadavg)" "$FD_PASSES" \
    "$ping_ms" "$fd_cl" "$sa_cl" "$ping_cl" <<'PY'
import statistics
import sys
def ints(v):
    return [int(x) for x in v.split(",") if x]
n, nbytes, conc = map(int, sys.argv[1:4])
passes = int(sys.argv[11])
# per round, per pass of n messages (filterd runs `passes` of them)
fd_ms = [x / passes for x in ints(sys.argv[4])]
sa_ms = ints(sys.argv[5])
fd_cpu = [x / passes for x in ints(sys.argv[8])]
sa_cpu = ints(sys.argv[9])
fd_cl = [x / passes / n for x in ints(sys.argv[13])]
sa_cl = [x / n for x in ints(sys.argv[14])]
ping_ms = int(sys.argv[12]) / passes
ping_cl = int(sys.argv[15]) / passes / n
rounds = len(fd_ms)
def load(p):
    d = {}
    for l in open(p):
        f, _, v = l.rstrip("\n").partition("\t")
        s, _, t = v.partition("/")
        try:
            d[f] = float(s) >= float(t)
        except ValueError:
            d[f] = None
    return d
fd, sa = load(sys.argv[6]), load(sys.argv[7])
agree = sum(1 for f in fd if fd[f] is not None and fd[f] == sa.get(f))
med = statistics.median
fd_rate = [n * 1000.0 / max(x, 1e-3) for x in fd_ms]
sa_rate = [n * 1000.0 / max(x, 1) for x in sa_ms]
wall = [a / b for a, b in zip(fd_rate, sa_rate)]
cpu = [b / max(a, 1) for a, b in zip(fd_cpu, sa_cpu)]
print("spamc -c, %d messages (%.1f KB avg; filterd %d passes a round), "
      "%d clients, SA stock rules, no network, no Bayes; %d rounds, "
      "medians" % (n, nbytes / n / 1024.0, passes, conc, rounds))
print("  filterd spamd door  %8.1f msg/s  %7.1f ms/msg wall" % (
      med(fd_rate), 1000.0 / med(fd_rate)))
print("  spamd 4.0 (-m 2)    %8.1f msg/s  %7.1f ms/msg wall" % (
      med(sa_rate), 1000.0 / med(sa_rate)))
print("  ratio               %8.1fx (goal >= 50x); per round %s" % (
      med(wall), " ".join("%.1fx" % x for x in wall)))
ping_rate = n * 1000.0 / max(ping_ms, 1e-3)
print("  client ceiling      %8.1f msg/s  spamc -K (PING, no scan) from the "
      "same pool: at most %.1fx spamd here" % (ping_rate,
      ping_rate / med(sa_rate)))
print("  server CPU per message: filterd %.2f ms, spamd %.1f ms: %.1fx "
      "(what the ratio becomes when the clients and other load do not "
      "share the CPUs); per round %s" % (med(fd_cpu) / n, med(sa_cpu) / n,
      med(cpu), " ".join("%.1fx" % x for x in cpu)))
# spamc's own CPU (its rusage, reaped by spamcdrive): a process start
# that links libssl/libcrypto; every message through spamc pays it on
# the same CPUs as the server, so CPU-bound throughput goes as
# 1 / (server + spamc) and no server beats (spamd + spamc) / spamc
fcl, scl = med(fd_cl), med(sa_cl)
sa_per = med(sa_cpu) / n + scl
print("  spamc's own CPU per message: %.2f ms (PING %.2f ms)" % (fcl,
      ping_cl))
print("  server + spamc CPU per message: filterd %.2f ms, spamd %.1f ms: "
      "%.1fx; a server that cost nothing would reach %.1fx" % (
      med(fd_cpu) / n + fcl, sa_per, sa_per / max(med(fd_cpu) / n + fcl,
      1e-3), sa_per / max(fcl, 1e-3)))
print("  load average at the end: %s" % sys.argv[10])
print("  spam/ham verdicts agree on %d/%d messages" % (agree, n))
PY
