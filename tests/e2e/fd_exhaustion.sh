#!/usr/bin/env bash
# tests/e2e/fd_exhaustion.sh - filterd out of file descriptors: a worker
# started with a 64-descriptor limit gets more connections than it can
# accept on its spamd and SMTP doors. It must not spin on the readable
# listening socket (the spamd door did, at 100% CPU, writing libevent's
# "Error from accept() call" 97 MB in 8 s) nor crash: it pauses accepting
# for a second with one warning per door, and serves again (spamc PING,
# an SMTP banner) once the connections are gone. The milter process
# too: libmilter's own listener retried EMFILE at once (100% CPU); filterd's
# accept() (filterd/milter.c) pauses it.
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_filterd.sh

e2e_workdir fdx

if ! e2e_sink; then
	not_ok "smtp-sink starts"
	tap_done
	exit 1
fi
read -r fd_port sp_port mi_port < <(e2e_ports 3)
# the limit applies to the master and so to its workers (filterd raises
# its soft limit only up to the hard one)
real_bin=$FILTERD_BIN
FILTERD_BIN=$work/filterd-limited
printf '#!/bin/sh\nexec prlimit --nofile=64:64 %s "$@"\n' "$real_bin" \
    >"$FILTERD_BIN"
chmod 755 "$FILTERD_BIN"
if ! FD_WORKERS=1 fd_start "$fd_port" "$SINK_PORT" \
    "spamd_listen = 127.0.0.1:$sp_port
milter_socket = inet:$mi_port@127.0.0.1"; then
	not_ok "filterd starts with 64 descriptors"
	tap_done
	exit 1
fi
check "filterd up, normal transaction passes" fd_answers "$fd_port"
# the milter process is the child listening on the milter port
milter=$(ss -Hltnp "( sport = :$mi_port )" | grep -o 'pid=[0-9]*' | head -1)
milter=${milter#pid=}
worker=$(fd_workers | grep -vx "$milter" | head -1)
cpu() # ticks of user + system time of process $1 (all its threads)
{
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# flood.py PORT[,PORT] SECONDS [N]: N (60) connections to each port, held
cat >"$work/flood.py" <<'PY'
import socket, sys, time
held = []
for port in map(int, sys.argv[1].split(",")):
    for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 60):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), 2))
        except OSError:
            break
print(len(held), flush=True)
time.sleep(float(sys.argv[2]))
PY
# flood_idle WHAT PID PORTS [N] - hold N connections to each of PORTS
# for 6 s (their count in $work/flood.out); PID, out of descriptors
# meanwhile, must stay idle
flood_idle()
{
	python3 "$work/flood.py" "$3" 6 ${4:-} >"$work/flood.out" &
	local flood=$! t0 t1
	sleep 2.5 # the connections are in; the process is out of descriptors
	t0=$(cpu "$2")
	sleep 3
	t1=$(cpu "$2")
	check "$1 idles while out of descriptors ($((t1 - t0)) ticks in 3 s)" \
	    [ $((t1 - t0)) -lt 60 ]
	wait "$flood"
}
flood_idle worker "$worker" "$sp_port,$fd_port"
check "120 connections were held ($(cat "$work/flood.out"))" \
    [ "$(cat "$work/flood.out")" -eq 120 ]
n=$(grep -c 'accept: Too many open files; pausing for 1s' "$FD_LOG")
check "a paused warning about once a second per door ($n)" \
    [ "$n" -ge 1 -a "$n" -le 30 ]
check "no libevent accept() flood" \
    [ "$(grep -c 'Error from accept() call' "$FD_LOG")" -eq 0 ]
sleep 1.5 # the next resume
check "spamd answers PING again" \
    sh -c "spamc -d 127.0.0.1 -p $sp_port -K 2>&1 | grep -qF 'SPAMD/1.5 0'"
check "SMTP transaction passes again" fd_answers "$fd_port"
# the milter door: 70 connections against 64 descriptors
cat >"$work/optneg.py" <<'PY'
import socket, struct, sys
# one SMFIC_OPTNEG (version 6, all actions, no protocol steps off): the
# reply's command byte, 'O' from a live milter
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(5)
body = b"O" + struct.pack(">III", 6, 0x1FF, 0)
s.sendall(struct.pack(">I", len(body)) + body)
print(s.recv(5)[4:5].decode())
PY
check "milter process found (pid $milter), answers OPTNEG" \
    sh -c "[ -n '$milter' ] && [ \"\$(python3 '$work/optneg.py' $mi_port)\" = O ]"
flood_idle "milter process" "$milter" "$mi_port" 70
check "70 milter connections were made ($(cat "$work/flood.out"))" \
    [ "$(cat "$work/flood.out")" -eq 70 ]
n=$(grep -c 'milter: accept: Too many open files; pausing for 1s' "$FD_LOG")
check "the milter warned, at most every 10 s ($n)" [ "$n" -ge 1 -a "$n" -le 2 ]
sleep 1.5
check "the milter answers OPTNEG again" \
    sh -c "[ \"\$(python3 '$work/optneg.py' $mi_port)\" = O ]"
check "no worker died" \
    [ "$(grep -Ec 'killed by signal|exited with' "$FD_LOG")" -eq 0 ]
tap_done
