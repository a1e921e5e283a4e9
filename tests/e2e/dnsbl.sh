#!/usr/bin/env bash
# tests/e2e/dnsbl.sh - DNSBL/URIBL through the daemon, against a real
# authoritative DNS server on 127.0.0.1 (knotd via
# ../shared/conformance/dns/serve-zone.sh, tests/e2e/zones/dnsbl.zone)
# behind a proxy that drops or delays chosen queries.
#
# Checked: the last external relay (XFORWARD ADDR) is looked up and an
# older relay in Received is not; the right hits appear in X-Spam-Status;
# DNSWL scores negative; URIBL via the PSL-reduced domain; a refused code
# (127.255.255.254) is no hit and is logged once; SERVFAIL is no hit; a
# dropped query costs at most dns_timeout; an answer after the deadline
# is not counted. No packet leaves 127.0.0.1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_filterd.sh"
root=$E2E_ROOT
serve=$root/../shared/conformance/dns/serve-zone.sh
helper="python3 $here/dnsbl_helper.py"
work=$(mktemp -d /tmp/filterd-e2e-dnsbl.XXXXXX)
knot= proxy= sink=

cleanup()
{
	fd_cleanup
	[ -n "$proxy" ] && kill "$proxy" 2>/dev/null
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	[ -n "$knot" ] && "$serve" stop "$knot" >/dev/null 2>&1
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$serve" ] || ! command -v knotd >/dev/null 2>&1 &&
    [ ! -x /usr/sbin/knotd ]; then
	not_ok "knotd and $serve available"
	tap_done
	exit 1
fi
read -r knot_port proxy_port fd_port sink_port m_port < <(e2e_ports 5)
knot=$("$serve" -p "$knot_port" -S servfail.test "$root/tests/e2e/zones/dnsbl.zone" 2>"$work/knot.err") ||
	{ not_ok "knotd started"; cat "$work/knot.err" | sed 's/^/# /'; tap_done; exit 1; }
ok "knotd serves the fake lists on 127.0.0.1:$knot_port"

$helper proxy --port "$proxy_port" --upstream "$knot_port" \
    --drop 30.2.0.198. --slow 31.2.0.198. --delay 4 >"$work/proxy.out" 2>&1 &
proxy=$!
e2e_msg_sink "$sink_port" "$work/out"
sink=$MSINK_PID
for i in $(seq 50); do
	grep -q ready "$work/proxy.out" 2>/dev/null && break
	sleep 0.1
done

cat >"$work/dnsbl.cf" <<'CF'
header RCVD_IN_T_ZEN eval:check_rbl('zen', 'zen.dnsbl.test.')
header RCVD_IN_T_SBL eval:check_rbl_sub('zen', '127.0.0.2')
header RCVD_IN_T_XBL eval:check_rbl_sub('zen', '127.0.0.4-127.0.0.7')
score RCVD_IN_T_ZEN 0.1
score RCVD_IN_T_SBL 3.5
score RCVD_IN_T_XBL 1.5
dnsbl RCVD_IN_T_DNSWL list.dnswl.test 127.0.15.0/255.255.255.0 -3
header RCVD_IN_T_SF eval:check_rbl('sf', 'x.servfail.test.')
score RCVD_IN_T_SF 1
urirhssub URIBL_T_BLACK multi.uribl.test. A 2
score URIBL_T_BLACK 1.7
CF

# an SA-style list rule in local.cf (rules_local) works too
cat >"$work/local.cf" <<'CF'
header RCVD_IN_T_LOCAL eval:check_rbl('zenlocal-lastexternal', 'zen.dnsbl.test.', '127.0.0.2')
describe RCVD_IN_T_LOCAL Listed in the test list (from local.cf)
tflags RCVD_IN_T_LOCAL net
score RCVD_IN_T_LOCAL 0.5
CF

if ! fd_start "$fd_port" "$sink_port" "use_dnsbl = yes
rules_local = $work/local.cf
dns_servers = 127.0.0.1:$proxy_port
dns_timeout = 1s
dns_query_timeout = 5s
dns_tries = 1
dnsbl_config = $work/dnsbl.cf
msg_deadline = 20s
metrics_listen = 127.0.0.1:$m_port
spamd_listen = none"; then
	not_ok "filterd started with the DNSBL config"
	tap_done
	exit 1
fi
ok "filterd started with the DNSBL config"

# msg NAME [extra header lines] [body]
msg()
{
	{
		printf 'Received: from old.relay.test (old.relay.test [198.0.2.14])\n'
		printf '\tby relay.test with ESMTP id ABC; Thu, 26 Nov 2026 10:00:00 +0000\n'
		printf 'From: Sender <sender@e2e.test>\nTo: rcpt@e2e.test\n'
		printf 'Subject: dnsbl %s\nDate: Thu, 26 Nov 2026 10:00:01 +0000\n' "$1"
		printf 'Message-ID: <%s@e2e.test>\n\n' "$1"
		printf '%s\n' "${2:-hello}"
	} >"$work/$1.eml"
}

# send NAME ADDR -> "CODE SECONDS", the delivered copy in $work/got-NAME
send()
{
	local before after
	before=$(ls "$work/out" | wc -l)
	$helper send --port "$fd_port" --addr "$2" --file "$work/$1.eml" >"$work/$1.res" 2>&1
	for i in $(seq 50); do
		after=$(ls "$work/out" | wc -l)
		[ "$after" -gt "$before" ] && break
		sleep 0.1
	done
	cp "$work/out/$after.eml" "$work/got-$1" 2>/dev/null || : >"$work/got-$1"
}
status() # NAME -> the X-Spam-Status value, unfolded
{
	tr -d '\r' <"$work/got-$1" | sed -n '/^X-Spam-Status:/,/^[^ \t]/p' |
	    sed ':a;$!N;s/,\n[ \t]\+/,/;s/\n[ \t]\+/ /;ta;P;D' |
	    grep '^X-Spam-Status:' | head -n1
}
has_test() { status "$1" | grep -Eq "tests=([^ ]*,)?$2(,| |$)"; }
lacks() # NAME RE: delivered with an X-Spam-Status that has no test RE
{
	local st
	st=$(status "$1")
	[ -n "$st" ] && ! grep -Eq "tests=[^ ]*($2)" <<<"$st"
}
score_like() { status "$1" | grep -Eq "score=$2"; }

msg listed
send listed 198.0.2.10
check "listed relay: message delivered (250)" grep -q '^250 ' "$work/listed.res"
check "listed relay: RCVD_IN_T_SBL in X-Spam-Status" has_test listed RCVD_IN_T_SBL
check "listed relay: RCVD_IN_T_ZEN in X-Spam-Status" has_test listed RCVD_IN_T_ZEN
check "older relay in Received (XBL-listed) is not looked up" \
    lacks listed RCVD_IN_T_XBL
check "SERVFAIL list is no hit" lacks listed RCVD_IN_T_SF
check "SA list rule from rules_local: RCVD_IN_T_LOCAL" has_test listed RCVD_IN_T_LOCAL
check "score includes the list scores (3.5 + 0.1 + 0.5)" score_like listed '4\.1 '
check "SERVFAIL logged as a failed lookup" \
    grep -q 'dnsbl: lookups failed=[1-9]' "$FD_LOG"
diag "$(status listed)"

msg refused
send refused 198.0.2.12
cp "$work/refused.eml" "$work/refused2.eml"
send refused2 198.0.2.12
check "refused code 127.255.255.254: no hit" lacks refused 'RCVD_IN_T_'
check "refused code: second message no hit either" lacks refused2 'RCVD_IN_T_'
check "refused code: message delivered" grep -q '^250 ' "$work/refused2.res"
n=$(grep -c 'answered 127.255.255.254' "$FD_LOG")
# once per list (zone) per worker process, however many rules ask it
check "refused code logged as a config error, once per worker ($n)" \
    test "$n" -ge 1 -a "$n" -le 2

msg dropped
send dropped 198.0.2.30
secs=$(awk '{print $2}' "$work/dropped.res")
check "dropped query: delivered (250)" grep -q '^250 ' "$work/dropped.res"
check "dropped query costs at most the 1 s deadline (+2 s slack under load): ${secs}s" \
    awk -v s="$secs" 'BEGIN { exit !(s < 3.0) }'
check "dropped query: no hit" lacks dropped RCVD_IN_T_ZEN
check "late lookups logged" grep -q 'dnsbl: lookups failed=[0-9]* late=[1-9]' "$FD_LOG"

msg slow
send slow 198.0.2.31
secs=$(awk '{print $2}' "$work/slow.res")
check "slow answer (4 s) does not hold the message: ${secs}s" \
    awk -v s="$secs" 'BEGIN { exit !(s < 3.0) }'
check "answer after the deadline is not counted" lacks slow RCVD_IN_T_ZEN

msg uri "Visit http://www.evil-site.test/offer and http://www.google.com/ now"
send uri 198.0.2.20
check "DNSWL listed relay: RCVD_IN_T_DNSWL" has_test uri RCVD_IN_T_DNSWL
check "URI registered domain listed: URIBL_T_BLACK" has_test uri URIBL_T_BLACK
check "DNSWL score is negative in the total (-3 + 1.7)" score_like uri '-1\.3 '
diag "$(status uri)"

msg clean
send clean 198.0.2.99
check "unlisted relay: no list hits" lacks clean 'RCVD_IN_T_|URIBL_T_'

# per-zone DNS figures in the metrics (issue 12): the lookups above, the
# SERVFAIL list, the dropped/slow queries and the refused code, per zone
curl -s "http://127.0.0.1:$m_port/metrics" >"$work/metrics"
diag "$(grep '^filterd_dns' "$work/metrics")"
val() { awk -v k="$1" '$1 == k { print $2 }' "$work/metrics"; }
zq() { val "filterd_dns_zone_queries_total{zone=\"$1\"}"; }
zf() { val "filterd_dns_zone_failures_total{zone=\"$1\",why=\"$2\"}"; }
# 7 messages; zen.dnsbl.test is asked by two sets (zen, zenlocal)
check "metrics: zen.dnsbl.test queried twice per message (14)" \
    [ "$(zq zen.dnsbl.test)" = 14 ]
check "metrics: x.servfail.test once per message: 5 failed, 2 timeouts" \
    [ "$(zq x.servfail.test)" = 7 -a "$(zf x.servfail.test failed)" = 5 -a "$(zf x.servfail.test timeout)" = 2 ]
check "metrics: zen.dnsbl.test timeouts (dropped, slow: 2 x 2), no failures" \
    [ "$(zf zen.dnsbl.test timeout)" = 4 -a "$(zf zen.dnsbl.test failed)" = 0 ]
check "metrics: zen.dnsbl.test blocked = 1 per worker (refused code)" \
    [ "$(val 'filterd_dns_blocked_total{zone="zen.dnsbl.test"}')" -ge 1 ]
check "metrics: multi.uribl.test queried" [ "$(zq multi.uribl.test)" -ge 1 ]
check "metrics: per-zone queries add up to at most the total" \
    [ "$(awk '/^filterd_dns_zone_queries_total/ { n += $2 } END { print n }' "$work/metrics")" -le "$(val filterd_dns_queries_total)" ]
${FILTERCTL_BIN:-$root/build/filterctl} -c "$FD_CONF" status >"$work/status" 2>&1
diag "$(grep -A5 '^dns list' "$work/status")"
check "filterctl status: a line per zone (x.servfail.test: 7, failed 5, timed out 2)" \
    grep -Eq '^  x\.servfail\.test +7, failed 5, timed out 2, blocked 0$' "$work/status"

tap_done
