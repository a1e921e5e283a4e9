# tests/bench/lib_bench.sh - what several benches share (sourced)
#
#   bench_mix N DATA   print the paths of N messages of the 2002 sets under
#                      DATA (corpus/fetch.sh), evenly spaced over easy-ham-1,
#                      hard-ham-1 and spam-1 in name order: the same mix
#                      every run
#   bench_copy LIST DIR
#                      copy the files LIST names into DIR as 00000, 00001 ...
#                      (for clients that take a directory: rspamc, the
#                      rules bench)
#   cpu_ticks PID      utime + stime, in clock ticks, of PID and its
#                      children (from /proc; 0 for a process that is gone)
#   rspamd_start DIR   start rspamd -f with a private config under DIR:
#                      its default rules; network modules, Redis, Bayes,
#                      the controller and the proxy off; one normal worker
#                      on a free loopback port. Waits until it answers
#                      (it compiles its TLD and regex databases first,
#                      tens of seconds). Sets RSPAMD_PID, RSPAMD_PORT and
#                      RSPAMD_WORKER (the normal worker's pid); 1 when it
#                      did not come up
#   rspamd_stop        stop it
# Nothing leaves 127.0.0.1: every module that would look something up is
# off and DNS gives up after 0.1 s.
bench_mix()
{
	local g
	for g in easy-ham-1 hard-ham-1 spam-1; do
		ls "$2/$g" | sort | sed "s|^|$2/$g/|"
	done | awk -v n="$1" 'BEGIN { srand(1) } { a[NR] = $0 }
	    END { s = NR / n; for (i = 0; i < n; i++) print a[int(i * s) + 1] }'
}

bench_copy()
{
	local f i=0
	mkdir -p "$2"
	while IFS= read -r f; do
		cp "$f" "$2/$(printf %05d $i)"
		i=$((i + 1))
	done <"$1"
}

cpu_ticks()
{
	local p s=0
	[ -n "$1" ] || { echo 0; return; }
	for p in "$1" $(pgrep -P "$1"); do
		s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat" \
		    2>/dev/null || echo 0)))
	done
	echo "$s"
}

RSPAMD_PID=
rspamd_start()
{
	local r=$1 m p _
	mkdir -p "$r/run" "$r/db" "$r/log" "$r/local.d"
	RSPAMD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	for m in rbl spf dkim dmarc arc asn fuzzy_check mx_check dcc greylist \
	    ratelimit neural reputation history_redis url_redirector replies \
	    dkim_signing antivirus external_services clickhouse elastic \
	    metadata_exporter metric_exporter p0f spamtrap bimi; do
		echo "enabled = false;" >"$r/local.d/$m.conf"
	done
	echo "enabled = false;" >"$r/local.d/classifier-bayes.conf"
	echo "enabled = false;" >"$r/local.d/worker-controller.inc"
	echo "enabled = false;" >"$r/local.d/worker-proxy.inc"
	printf 'bind_socket = "127.0.0.1:%s";\ncount = 1;\n' "$RSPAMD_PORT" \
	    >"$r/local.d/worker-normal.inc"
	printf 'type = "file";\nfilename = "%s";\nlevel = "error";\n' \
	    "$r/log/rspamd.log" >"$r/local.d/logging.inc"
	echo 'dns { timeout = 0.1s; retransmits = 0; }' >"$r/local.d/options.inc"
	rspamd -f -i -c /etc/rspamd/rspamd.conf --var LOCAL_CONFDIR="$r" \
	    --var RUNDIR="$r/run" --var DBDIR="$r/db" --var LOGDIR="$r/log" \
	    >"$r/out.log" 2>&1 &
	RSPAMD_PID=$!
	printf 'Subject: ping\r\n\r\nping\r\n' >"$r/ping.eml"
	for _ in $(seq 1 300); do
		rspamc -h "127.0.0.1:$RSPAMD_PORT" -t 5 "$r/ping.eml" \
		    >/dev/null 2>&1 && break
		kill -0 "$RSPAMD_PID" 2>/dev/null || return 1
		sleep 1
	done
	RSPAMD_WORKER=
	for p in $(pgrep -P "$RSPAMD_PID"); do
		grep -q normal "/proc/$p/cmdline" 2>/dev/null && RSPAMD_WORKER=$p
	done
	[ -n "$RSPAMD_WORKER" ]
}

rspamd_stop()
{
	[ -n "$RSPAMD_PID" ] && kill "$RSPAMD_PID" 2>/dev/null
	RSPAMD_PID=
}
