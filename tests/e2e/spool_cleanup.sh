#!/usr/bin/env bash
# tests/e2e/spool_cleanup.sh - a worker that dies with messages in flight:
# the master removes that worker's spool files when it reaps it (they
# used to stay until the next start of filterd), leaves the files of the
# live worker alone, and the client, which never got a 250, has the
# message to retry. The downstream takes the connection and never
# answers, so the messages stay in flight.
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_filterd.sh
e2e_require swaks
e2e_workdir spoolclean

read -r fd_port stall_port < <(e2e_ports 2)
cat >"$work/stall.py" <<'PY'
import socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(64)
print("ready", flush=True)
held = []
while True:
    c, _ = srv.accept()
    c.sendall(b"220 stall.test ESMTP never answers\r\n")
    held.append(c)
PY
python3 "$work/stall.py" "$stall_port" >"$work/stall.log" 2>&1 &
stall=$!
trap 'kill $stall 2>/dev/null; e2e_workdir_cleanup' EXIT
for i in $(seq 50); do grep -q ready "$work/stall.log" && break; sleep 0.1; done

# spool_memory_max = 0: these small messages get files too (by default
# they would be held in the worker's memory and go with it)
if ! FD_WORKERS=2 fd_start "$fd_port" "$stall_port" "reinject_timeout = 120s
spool_memory_max = 0"; then
	not_ok "filterd starts"
	tap_done
	exit 1
fi
for i in 1 2 3 4 5 6; do
	swaks -s 127.0.0.1 -p "$fd_port" -f a@client.test -t b@dest.test \
	    --header "Subject: in flight $i" --timeout 60 \
	    >"$work/swaks$i.log" 2>&1 &
	eval "sw$i=\$!"
done
# every message spooled and waiting on the downstream
for i in $(seq 100); do
	[ "$(ls "$FD_DIR/spool" | wc -l)" -ge 6 ] && break
	sleep 0.1
done
files=$(ls "$FD_DIR/spool")
check "6 messages in flight, spooled ($(echo "$files" | wc -l) files)" \
    [ "$(echo "$files" | wc -l)" -eq 6 ]
# the id's pid field (characters 14-19, 6 hex digits) names the worker
pid_of() { printf '%d' "0x${1:13:6}"; }
victim=$(pid_of "$(echo "$files" | head -1)")
mine=0 others=0
for f in $files; do
	if [ "$(pid_of "$f")" = "$victim" ]; then mine=$((mine + 1)); else others=$((others + 1)); fi
done
check "the ids name live workers of this filterd (victim $victim: $mine files, other: $others)" \
    sh -c "fd_workers() { pgrep -P $FD_PID; }; fd_workers | grep -qx $victim"
inflight() { "$E2E_ROOT/build/filterctl" -c "$FD_CONF" status 2>/dev/null |
    sed -n 's/^in flight: \([0-9]*\) messages.*/\1/p'; }
check "filterctl status: 6 messages in flight ($(inflight))" [ "$(inflight)" = 6 ]
kill -9 "$victim"
gone=no
for i in $(seq 50); do
	if grep -q "worker $victim: removed $mine spool file" "$FD_LOG"; then gone=yes; break; fi
	sleep 0.1
done
check "the master removed the $mine spool file(s) of the killed worker at once" \
    [ "$gone" = yes ]
left=0
for f in $(ls "$FD_DIR/spool"); do
	[ "$(pid_of "$f")" = "$victim" ] && left=$((left + 1))
done
check "none of the killed worker's files is left ($left)" [ "$left" -eq 0 ]
check "the live worker's $others file(s) are still there" \
    [ "$(ls "$FD_DIR/spool" | wc -l)" -eq "$others" ]
check "filterctl status: the killed worker's messages are not in flight any more ($(inflight), want $others)" \
    [ "$(inflight)" = "$others" ]
# the clients of the killed worker lost the connection without a 250
nok=0
for i in 1 2 3 4 5 6; do
	eval "p=\$sw$i"
	if ! kill -0 "$p" 2>/dev/null; then
		wait "$p"
		grep -q '^<-  250 .*queued' "$work/swaks$i.log" || nok=$((nok + 1))
	fi
done
check "$nok client(s) ended without a 250 (the MTA keeps those messages)" \
    [ "$nok" -eq "$mine" ]
check "filterd still serves: a new worker took the dead one's place" \
    sh -c "sleep 1.5; [ \$(pgrep -P $FD_PID | wc -l) -ge 2 ]"
tap_done
