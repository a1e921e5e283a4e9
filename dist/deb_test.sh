#!/usr/bin/env bash
# dist/deb_test.sh DIR - the Debian package from DIR (make deb-test):
# installs, creates the user, runs as that user from the installed files,
# passes a message, then purges without leftovers. Changes the system
# (/usr, /etc/filterd, the filterd user): not part of make check.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/e2e/lib_filterd.sh
deb=$(ls "${1:-build/deb}"/filterd_*.deb 2>/dev/null | tail -1)
[ -n "$deb" ] || { echo "no .deb in ${1:-build/deb}: make deb"; exit 1; }
if dpkg -s filterd >/dev/null 2>&1; then
	echo "filterd is installed on this system already; not touching it"
	exit 1
fi
t0=$(date +%s)
work=$(mktemp -d /tmp/filterd-deb.XXXXXX)
chmod 755 "$work"
cleanup()
{
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	e2e_sink_stop
	dpkg -s filterd >/dev/null 2>&1 && dpkg --purge filterd >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

dpkg -i "$deb" >"$work/install.log" 2>&1
check "dpkg -i $(basename "$deb")" [ $? -eq 0 ]
check "package installed" sh -c "dpkg -s filterd | grep -q 'Status: install ok installed'"
check "filterd user created" sh -c "getent passwd filterd >/dev/null"
check "/etc/filterd/filterd.conf root:filterd 640" \
    [ "$(stat -c '%U:%G %a' /etc/filterd/filterd.conf)" = "root:filterd 640" ]
check "state and spool dirs owned by filterd" \
    [ "$(stat -c %U /var/lib/filterd)" = filterd -a "$(stat -c %U /var/spool/filterd)" = filterd ]
check "installed config passes filterd -t" \
    sh -c "/usr/sbin/filterd -t -c /etc/filterd/filterd.conf >/dev/null"
check "man filterd.conf works" sh -c "man 5 filterd.conf 2>/dev/null | grep -q metrics_listen"

e2e_sink || { not_ok "smtp-sink"; tap_done; exit 1; }
read -r port mport < <(e2e_ports 2)
: >"$work/log"
/usr/sbin/filterd -f -c /etc/filterd/filterd.conf \
    -k listen=127.0.0.1:$port -k reinject=127.0.0.1:$SINK_PORT \
    -k metrics_listen=127.0.0.1:$mport -k workers=1 -k use_dnsbl=no \
    -k dns_servers=127.0.0.1:$(e2e_ports 1) >"$work/log" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q 'ready' "$work/log" && break; sleep 0.1; done
check "packaged daemon starts" grep -q 'ready' "$work/log"
check "runs as filterd" \
    [ "$(awk '/^Uid:/ { print $3 }' /proc/$pid/status)" = "$(id -u filterd)" ]
check "passes a message" fd_answers "$port"
check "status from the packaged filterctl" \
    sh -c "/usr/bin/filterctl -c /etc/filterd/filterd.conf status | grep -q '^messages: 1 '"
kill "$pid"; wait "$pid" 2>/dev/null; pid=

dpkg --purge filterd >"$work/purge.log" 2>&1
check "dpkg --purge" [ $? -eq 0 ]
left=""
for f in /usr/sbin/filterd /usr/bin/filterctl /etc/filterd /var/lib/filterd \
    /var/spool/filterd /lib/systemd/system/filterd.service \
    /usr/share/filterd /usr/share/man/man8/filterd.8.gz; do
	[ -e "$f" ] && left="$left $f"
done
check "nothing left after purge${left:+:$left}" [ -z "$left" ]
check "package gone" sh -c "! dpkg -s filterd >/dev/null 2>&1"
diag "deb test took $(( $(date +%s) - t0 )) s (the filterd system user stays, as Debian does)"
tap_done
