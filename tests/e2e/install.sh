#!/usr/bin/env bash
# tests/e2e/install.sh - make install into a DESTDIR, then run from there:
# the files (binaries, rules, config, unit, man pages from the code's
# tables), the man pages render cleanly, the unit passes systemd-analyze,
# filterd started as root binds, drops to `user` (every process: uid,
# gid, no supplementary root group, root not regained) and still scans,
# serves metrics and reloads; a missing user refuses to start.
# (The Debian package: make deb-test, not part of make check.)
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_filterd.sh

D=$(mktemp -d /tmp/filterd-e2e-inst.XXXXXX)
chmod 755 "$D" # the dropped daemon reads its rules from here
cleanup()
{
	fd_cleanup
	e2e_sink_stop
	if [ -n "${E2E_KEEP:-}" ]; then echo "# kept $D" >&2; else rm -rf "$D"; fi
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (privilege drop)"
	exit 0
fi
( cd "$E2E_ROOT" && make --no-print-directory man install-files \
    DESTDIR="$D/root" PREFIX=/usr ) >"$D/install.log" 2>&1
check "make install DESTDIR=... PREFIX=/usr" [ $? -eq 0 ]
R=$D/root
for f in usr/sbin/filterd usr/bin/filterctl etc/filterd/filterd.conf \
    usr/share/filterd/rules/10_structure.cf usr/share/filterd/dnsbl.cf \
    lib/systemd/system/filterd.service usr/share/man/man8/filterd.8 \
    lib/systemd/system/filterd-digest.service \
    lib/systemd/system/filterd-digest.timer \
    usr/share/man/man1/filterctl.1 usr/share/man/man5/filterd.conf.5; do
	[ -f "$R/$f" ] || { not_ok "installed: $f"; continue; }
done
ok "all files installed"
check "filterd executable" [ -x "$R/usr/sbin/filterd" ]
check "config not world-readable (640)" \
    [ "$(stat -c %a "$R/etc/filterd/filterd.conf")" = 640 ]
check "installed config names the installed rules and user = filterd" \
    sh -c "grep -q '^rules_dir = /usr/share/filterd/rules' '$R/etc/filterd/filterd.conf' && grep -q '^user = filterd' '$R/etc/filterd/filterd.conf'"
# a second install keeps the admin's config
echo "# admin edit" >>"$R/etc/filterd/filterd.conf"
( cd "$E2E_ROOT" && make --no-print-directory install-files \
    DESTDIR="$D/root" PREFIX=/usr ) >/dev/null 2>&1
check "reinstall keeps an edited config (new one as .dist)" \
    sh -c "grep -q '# admin edit' '$R/etc/filterd/filterd.conf' && [ -f '$R/etc/filterd/filterd.conf.dist' ]"

# man pages: generated from the key table, render without warnings
for m in man8/filterd.8 man1/filterctl.1 man5/filterd.conf.5; do
	w=$(groff -man -Tutf8 -ww -z "$R/usr/share/man/$m" 2>&1)
	check "man $m renders without warnings" [ -z "$w" ]
done
nkeys=$("$R/usr/sbin/filterd" -h | sed -n '/^CONFIGURATION KEYS/,/^$/p' | grep -c '^    [a-z]')
nman=$(grep -c '^\.TP' "$R/usr/share/man/man5/filterd.conf.5")
check "filterd.conf(5) documents every key ($nman entries for $nkeys keys)" \
    [ "$nman" -ge "$nkeys" -a "$nkeys" -gt 50 ]
check "filterctl(1) lists the quarantine and status commands" \
    sh -c "man -l '$R/usr/share/man/man1/filterctl.1' 2>/dev/null | grep -q 'status \[--raw\]'"
check "filterctl --help from the DESTDIR" \
    sh -c "'$R/usr/bin/filterctl' --help | grep -q quarantine"
check "filterd -h from the DESTDIR" \
    sh -c "'$R/usr/sbin/filterd' -h | grep -q '^    user '"
if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/sbin/filterd|$R/usr/sbin/filterd|g" \
	    "$R/lib/systemd/system/filterd.service" >"$D/filterd.service"
	out=$(systemd-analyze verify "$D/filterd.service" 2>&1 | grep -v 'Failed to \|Command .man \|ReadWritePaths\|/var/\|bpf\|cgroup' )
	check "systemd-analyze verify: unit clean" [ -z "$out" ]
	[ -z "$out" ] || diag "$out"
fi

# --- run from the DESTDIR as root, dropping to nobody ----------------------
e2e_sink || { not_ok "smtp-sink"; tap_done; exit 1; }
read -r port mport < <(e2e_ports 2)
# a stand-in for systemd's notify socket (Type=notify): every datagram
# the daemon sends goes to $D/notify.log
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".up", "w").close()
while True:
    d = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f:
        f.write(d.replace("\n", " ") + "\n")
' "$D/notify.sock" "$D/notify.log" &
npid=$!
for i in $(seq 50); do [ -e "$D/notify.sock.up" ] && break; sleep 0.1; done
chmod 777 "$D/notify.sock" # the master sends after dropping to nobody
export NOTIFY_SOCKET=$D/notify.sock
FILTERD_BIN=$R/usr/sbin/filterd
cp "$R/etc/filterd/filterd.conf" "$D/filterd.conf"
fd_start "$port" "$SINK_PORT" "user = nobody
rules_dir = $R/usr/share/filterd/rules
dnsbl_config = $R/usr/share/filterd/dnsbl.cf
metrics_listen = 127.0.0.1:$mport"
rc=$?
check "installed filterd starts with user = nobody" [ $rc -eq 0 ]
chmod 644 "$FD_CONF" # readable after the drop, for SIGHUP
uid_of() { awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$1/status"; }
gid_of() { awk '/^Gid:/ { print $2 $3 $4 $5 }' "/proc/$1/status"; }
nob=$(id -u nobody) nog=$(id -g nobody)
check "master runs as nobody (real, effective, saved, fs uid)" \
    [ "$(uid_of "$FD_PID")" = "$nob$nob$nob$nob" ]
check "master's gid is nobody's" \
    [ "$(gid_of "$FD_PID")" = "$nog$nog$nog$nog" ]
check "no supplementary root group" \
    sh -c "! awk '/^Groups:/' /proc/$FD_PID/status | grep -qw 0"
ws=$(fd_workers)
allw=yes
for w in $ws; do [ "$(uid_of "$w")" = "$nob$nob$nob$nob" ] || allw=no; done
check "every worker runs as nobody ($(echo $ws | wc -w) workers)" \
    [ -n "$ws" -a "$allw" = yes ]
check "no capabilities left (CapEff 0)" \
    [ "$(awk '/^CapEff:/ { print $2 }' /proc/$FD_PID/status)" = 0000000000000000 ]
check "spool and state handed to nobody" \
    [ "$(stat -c %U "$FD_DIR/spool")" = nobody -a "$(stat -c %U "$FD_DIR/state")" = nobody ]
check "a message passes through the unprivileged daemon" fd_answers "$port"
check "metrics served after the drop" \
    sh -c "curl -s http://127.0.0.1:$mport/metrics | grep -q '^filterd_messages_total{action=\"pass\"} 1$'"
kill -HUP "$FD_PID"
for i in $(seq 50); do grep -q 'reloaded' "$FD_LOG" && break; sleep 0.1; done
check "SIGHUP reload works without root" grep -q 'reloaded' "$FD_LOG"
check "still answers after the reload" fd_answers "$port"
check "no 'running as root' warning" sh -c "! grep -q 'running as root' '$FD_LOG'"
check "sd_notify: READY=1 with the master's MAINPID" \
    grep -q "^READY=1 STATUS=accepting mail MAINPID=$FD_PID" "$D/notify.log"
check "sd_notify: STATUS=reloaded after SIGHUP" \
    grep -q "^STATUS=reloaded MAINPID=$FD_PID" "$D/notify.log"
mpid=$FD_PID
fd_cleanup
check "sd_notify: STOPPING=1 on SIGTERM" \
    grep -q "^STOPPING=1 MAINPID=$mpid" "$D/notify.log"
kill "$npid" 2>/dev/null
wait "$npid" 2>/dev/null
unset NOTIFY_SOCKET

# --- refusals and the root start -------------------------------------------
cat >"$D/t.conf" <<EOF2
rules_dir = $R/usr/share/filterd/rules
rules_local =
dnsbl_config =
user = no-such-user-e2e
EOF2
out=$("$R/usr/sbin/filterd" -t -c "$D/t.conf" 2>&1)
check "-t: a missing user is a config error" \
    grep -q 'user = no-such-user-e2e: no such user' <<<"$out"
# issue 12: root without user is refused (start and -t alike) unless the
# config says run_as_root = yes (what lib_filterd.sh's config does)
sed -i '/^user = /d' "$D/t.conf"
out=$("$R/usr/sbin/filterd" -t -c "$D/t.conf" 2>&1)
check "-t: root without user is refused, naming the fix" \
    grep -q 'refusing to run as root without user: set user = filterd, or run_as_root = yes' <<<"$out"
timeout 20 "$R/usr/sbin/filterd" -f -c "$D/t.conf" >"$D/root.out" 2>&1
rc=$?
check "start: root without user exits 1 before listening" \
    sh -c "[ $rc -eq 1 ] && grep -q 'refusing to run as root' '$D/root.out' && ! grep -q 'ready pid=' '$D/root.out'"
echo "run_as_root = yes" >>"$D/t.conf"
check "-t: run_as_root = yes accepts it" \
    "$R/usr/sbin/filterd" -t -c "$D/t.conf"
# -t says why a check cannot start (the reason used to go to syslog only)
sed "s|^rules_dir = .*|rules_dir = $D/no-such-rules|" "$D/t.conf" >"$D/t2.conf"
"$R/usr/sbin/filterd" -t -c "$D/t2.conf" >"$D/t2.out" 2>&1
rc=$?
check "-t: a missing rules_dir is named with its reason, exit 1" \
    sh -c "[ $rc -eq 1 ] && grep -q 'no-such-rules: No such file or directory' '$D/t2.out'"
printf 'tag2_level = 8\nkill_level = 6\n' >>"$D/t.conf"
"$R/usr/sbin/filterd" -t -c "$D/t.conf" >"$D/t3.out" 2>&1
rc=$?
check "-t: kill_level below tag2_level is accepted with a warning" \
    sh -c "[ $rc -eq 0 ] && grep -q 'warning: .*kill_level 6.0 is below tag2_level 8.0' '$D/t3.out'"
sed -i '/^tag2_level = 8$/d; /^kill_level = 6$/d' "$D/t.conf"
fd_start "$port" "$SINK_PORT" "rules_dir = $R/usr/share/filterd/rules
dnsbl_config = $R/usr/share/filterd/dnsbl.cf"
check "run_as_root = yes: root start logs it" \
    grep -q 'running as root (run_as_root = yes)' "$FD_LOG"
tap_done
