#!/usr/bin/env bash
# tests/e2e/production.sh - day-two features through a private Postfix:
# quarantine release round trip (envelope kept, X-Filterd-Released added,
# delivered to the original recipients), quarantine list/show/delete/
# expire, the Prometheus endpoint scraped and parsed, filterctl status.
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_postfix.sh
. ./lib_filterd.sh
CTL=${FILTERCTL_BIN:-$E2E_ROOT/build/filterctl}

cleanup()
{
	fd_cleanup
	pf_stop
	if [ -n "${E2E_KEEP:-}" ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
work=$(mktemp -d /tmp/filterd-e2e-prod.XXXXXX)
trap cleanup EXIT

read -r in_port fd_port re_port m_port < <(e2e_ports 4)
if ! pf_start "$in_port" "$fd_port" "$re_port"; then
	not_ok "private postfix starts"
	tap_done
	exit 1
fi
cat >"$work/e2e.cf" <<'EOF2'
body     E2E_KILL_MARK  /E2E-KILL-MARK-7f3a/
describe E2E_KILL_MARK  e2e test marker: above kill_level
score    E2E_KILL_MARK  25.0
welcomelist_from       *@friend.test
welcomelist_from_rcvd  *@partner.test localhost
EOF2
if ! fd_start "$fd_port" "$re_port" "rules_local = $work/e2e.cf
use_bayes = no
kill_level = 20.0
final_spam_destiny = quarantine
metrics_listen = 127.0.0.1:$m_port"; then
	not_ok "filterd starts"
	tap_done
	exit 1
fi
ok "postfix and filterd up (metrics on $m_port)"
export FILTERD_CONF=$FD_CONF

# --- quarantine: two recipients, envelope differs from the headers --------
mkmsg() # ID MARK
{
	printf '%s\r\n' "From: Spammer <spam@spam.test>" \
	    "To: someone-else@elsewhere.test" "Subject: prod $1" \
	    "Message-Id: <$1@e2e.test>" \
	    "Date: Fri, 27 Nov 2026 12:00:00 +0000" "" "body $2" "bye"
}
mkmsg q1 E2E-KILL-MARK-7f3a >"$work/q1.eml"
swaks -s 127.0.0.1 -p "$in_port" -f env-from@spam.test \
    -t r1@example.test,r2@example.test --data @"$work/q1.eml" \
    >"$work/swaks1.log" 2>&1
for i in $(seq 100); do
	ls "$FD_DIR"/quarantine/new/ 2>/dev/null | grep -q . && break
	sleep 0.2
done
qfile=$(ls "$FD_DIR"/quarantine/new/ 2>/dev/null | head -1)
check "message quarantined" [ -n "$qfile" ]
check "quarantined file starts with the envelope block" \
    grep -q '^X-Filterd-Envelope: v=1; rcpts=2; .*from=<env-from@spam.test>$' \
    "$FD_DIR/quarantine/new/$qfile"
"$CTL" quarantine list >"$work/list" 2>&1
diag "$(cat "$work/list")"
check "quarantine list shows it (score, sender, 2 rcpts, subject)" \
    grep -Eq "^$qfile .* held  score=2[0-9.]+  from=<env-from@spam.test>  rcpts=2  subject=.*prod q1" \
    "$work/list"
"$CTL" quarantine show "$qfile" >"$work/show"
check "quarantine show prints the message" grep -q 'body E2E-KILL' \
    "$work/show"
check "nothing delivered while quarantined" [ "$(pf_delivered)" -eq 0 ]

SUDO_USER=e2e-admin "$CTL" quarantine release "$qfile" >"$work/rel" 2>&1
rc=$?
diag "$(cat "$work/rel")"
check "release exits 0" [ "$rc" -eq 0 ]
pf_wait_delivered 2 30
f1=$(grep -l '^Delivered-To: r1@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
f2=$(grep -l '^Delivered-To: r2@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
check "released copy delivered to r1 and r2 (original envelope)" \
    [ -n "$f1" -a -n "$f2" ]
[ -n "$f1" ] || f1=/dev/null
check "envelope sender kept (Return-Path)" \
    grep -q '^Return-Path: <env-from@spam.test>$' "$f1"
check "X-Filterd-Released names who released it" \
    grep -q '^X-Filterd-Released: by e2e-admin via filterctl' "$f1"
check "envelope block not delivered" \
    sh -c "! grep -q '^X-Filterd-Envelope' '$f1'"
check "body intact" grep -q '^body E2E-KILL-MARK-7f3a' "$f1"
check "released message marked (cur/, flag P)" \
    [ -f "$FD_DIR/quarantine/cur/$qfile:2,P" ]
"$CTL" quarantine list >"$work/list2" 2>&1
check "list says released" grep -q "^$qfile .* released " "$work/list2"

# release --to, delete, expire
mkmsg q2 E2E-KILL-MARK-7f3a >"$work/q2.eml"
swaks -s 127.0.0.1 -p "$in_port" -f env-from@spam.test -t r3@example.test \
    --data @"$work/q2.eml" >/dev/null 2>&1
for i in $(seq 100); do
	q2=$(ls "$FD_DIR"/quarantine/new/ 2>/dev/null | head -1)
	[ -n "$q2" ] && break
	sleep 0.2
done
"$CTL" quarantine release "$q2" --to admin@example.test >/dev/null 2>&1
check "release --to sends to the given address" \
    pf_wait_delivered 3 30
check "...and not to the original recipient" \
    sh -c "! grep -lq '^Delivered-To: r3@example.test' $PF_MAILDIR/new/*"
check "release of an unknown id fails" \
    sh -c "! '$CTL' quarantine release no-such-id 2>/dev/null"
check "bad id (path) refused" \
    sh -c "! '$CTL' quarantine show ../filterd.conf 2>/dev/null"
"$CTL" quarantine expire --older-than 30d >"$work/exp1"
check "expire --older-than 30d keeps fresh ones" \
    grep -q '^expired 0 messages, 2 kept' "$work/exp1"
touch -d '40 days ago' "$FD_DIR/quarantine/cur/$qfile:2,P"
"$CTL" quarantine expire --older-than 30d >"$work/exp2"
check "expire removes the 40-day-old one" \
    sh -c "grep -q '^expired 1 message, 1 kept' '$work/exp2' && [ ! -e '$FD_DIR/quarantine/cur/$qfile:2,P' ]"
"$CTL" quarantine delete "$q2" >/dev/null
check "delete removes it" sh -c "! ls $FD_DIR/quarantine/cur $FD_DIR/quarantine/new | grep -q '$q2'"

# --- metrics ---------------------------------------------------------------
mkmsg h1 clean >"$work/h1.eml"
swaks -s 127.0.0.1 -p "$in_port" -f a@client.test -t r4@example.test \
    --data @"$work/h1.eml" >/dev/null 2>&1
pf_wait_delivered 4 30
curl -s "http://127.0.0.1:$m_port/metrics" >"$work/metrics"
diag "$(grep -v '^#' "$work/metrics" | head -30)"
check "metrics: every sample line parses (name{labels} number)" \
    sh -c "grep -v '^#' '$work/metrics' | grep -Evq '^[a-z_]+(\{[a-z]+=\"[^\"]*\"(,[a-z]+=\"[^\"]*\")*\})? [0-9.e+-]+$' && exit 1 || exit 0"
val() { awk -v k="$1" '$1 == k { print $2 }' "$work/metrics"; }
check "metrics: 2 quarantined" [ "$(val 'filterd_messages_total{action="quarantine"}')" = 2 ]
check "metrics: 1 passed" [ "$(val 'filterd_messages_total{action="pass"}')" = 1 ]
check "metrics: histogram count 3 = +Inf bucket" \
    [ "$(val filterd_scan_seconds_count)" = 3 -a "$(val 'filterd_scan_seconds_bucket{le="+Inf"}')" = 3 ]
check "metrics: rule hit counter E2E_KILL_MARK = 2" \
    [ "$(val 'filterd_rule_hits_total{rule="E2E_KILL_MARK"}')" = 2 ]
check "metrics: nothing in flight, spool depth 0, restarts 0" \
    [ "$(val filterd_messages_in_flight)" = 0 -a "$(val filterd_spool_depth)" = 0 -a "$(val filterd_worker_restarts_total)" = 0 ]
check "metrics: per-check time for parse and rules (3 calls each)" \
    [ "$(val 'filterd_check_calls_total{check="parse"}')" = 3 -a "$(val 'filterd_check_calls_total{check="rules"}')" -ge 3 ]
check "metrics: DNS list counters exported" \
    grep -q '^filterd_dns_queries_total 0$' "$work/metrics"
check "metrics: other paths 404" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$m_port/x")" = 404 ]
# a worker killed is restarted and counted
w=$(fd_workers | head -1)
kill -9 "$w"
for i in $(seq 50); do
	curl -s "http://127.0.0.1:$m_port/metrics" >"$work/metrics"
	[ "$(val filterd_worker_restarts_total)" = 1 ] && break
	sleep 0.1
done
check "metrics: worker restart counted" \
    [ "$(val filterd_worker_restarts_total)" = 1 ]
check "metrics: counters survive the worker's death" \
    [ "$(val 'filterd_messages_total{action="quarantine"}')" = 2 ]

# --- status ------------------------------------------------------------------
"$CTL" status >"$work/status" 2>&1
diag "$(cat "$work/status")"
check "status: running with the master's pid" \
    grep -q "^filterd: running, pid $FD_PID" "$work/status"
check "status: 3 messages, 2 quarantined" \
    sh -c "grep -q '^messages: 3 ' '$work/status' && grep -Eq '^  quarantine +2$' '$work/status'"
check "status: warns that Bayes is off" \
    grep -q '^warning: Bayes off' "$work/status"
check "status: top rules lists E2E_KILL_MARK" \
    grep -Eq '^  E2E_KILL_MARK +2 ' "$work/status"
"$CTL" status --raw >"$work/raw"
check "status --raw is the Prometheus text" \
    grep -q '^filterd_messages_total{action="quarantine"} 2$' "$work/raw"

# --- welcomelists: a forged From gets nothing --------------------------------
# friend.test is on welcomelist_from, but nothing authenticates the sender
# (DNS is closed: SPF temperror, no DKIM): the kill mark still quarantines.
wl() # ID FROM
{
	printf '%s\r\n' "From: <$2>" "To: r5@example.test" "Subject: wl $1" \
	    "Message-Id: <$1@e2e.test>" \
	    "Date: Fri, 27 Nov 2026 12:00:00 +0000" "" \
	    "E2E-KILL-MARK-7f3a" >"$work/$1.eml"
	swaks -s 127.0.0.1 -p "$in_port" -f "$2" -t r5@example.test \
	    --data @"$work/$1.eml" >/dev/null 2>&1
}
wl wl1 boss@friend.test
for i in $(seq 50); do
	grep -q 'action=quarantine' <(grep 'from=<boss@friend.test>' "$FD_LOG") && break
	sleep 0.2
done
check "forged welcomelist_from sender: no USER_IN_WELCOMELIST, quarantined" \
    sh -c "grep 'from=<boss@friend.test>' '$FD_LOG' | grep 'action=quarantine' | grep -vq USER_IN_WELCOMELIST"
# partner.test is welcomed when the relay is the named one (here the
# client Postfix forwarded: localhost)
wl wl2 p@partner.test
for i in $(seq 50); do
	grep -q 'from=<p@partner.test>.*action=' "$FD_LOG" && break
	sleep 0.2
done
check "welcomelist_from_rcvd with the matching relay: USER_IN_WELCOMELIST, passed" \
    sh -c "grep 'from=<p@partner.test>' '$FD_LOG' | grep USER_IN_WELCOMELIST | grep -q 'action=pass '"

# send_held FILE RCPT - send FILE from env-from@spam.test to RCPT and print
# the id of the quarantined copy held for RCPT (empty after 10 s)
send_held()
{
	swaks -s 127.0.0.1 -p "$in_port" -f env-from@spam.test -t "$2" \
	    --data @"$1" >/dev/null 2>&1
	for i in $(seq 50); do
		grep -lq "Envelope-To: <$2>" "$FD_DIR"/quarantine/new/* 2>/dev/null && break
		sleep 0.2
	done
	grep -l "Envelope-To: <$2>" "$FD_DIR"/quarantine/new/* 2>/dev/null |
	    head -1 | xargs -r basename
}

# --- digest of held mail per recipient (notify_recipient) -------------------
mkmsg d1 E2E-KILL-MARK-7f3a >"$work/d1.eml"
d1=$(send_held "$work/d1.eml" r9@example.test)
"$CTL" quarantine digest >"$work/dg0" 2>&1
check "digest off by default (notify_recipient = no)" \
    grep -q '^notify_recipient = no: no digest sent' "$work/dg0"
"$CTL" quarantine digest --dry-run >"$work/dg1" 2>&1
check "digest --dry-run lists d1 for r9" \
    sh -c "grep -q '^To: <r9@example.test>' '$work/dg1' && grep -q 'id: $d1' '$work/dg1'"
echo "notify_recipient = yes" >>"$FD_CONF"
n0=$(pf_delivered)
"$CTL" quarantine digest >"$work/dg2" 2>&1
diag "$(cat "$work/dg2")"
check "digest: one mail per recipient with held mail (r5, r9)" \
    grep -q '^digest: 2 sent, 0 failed' "$work/dg2"
pf_wait_delivered $((n0 + 2)) 30
g=$(grep -l '^Delivered-To: r9@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | xargs grep -l '^Subject: \[filterd\] 1 message held for you' 2>/dev/null | head -1)
check "r9 got its digest naming the held message" \
    sh -c "[ -n '$g' ] && grep -q 'id: $d1' '$g' && grep -q '^Return-Path: <>' '$g'"
# --- release of a message whose header section is over 64 KiB ---------------
# (release used to copy the header into a 64 KiB buffer and, when that was
# full, send the message on without any of its header fields)
{
	printf '%s\r\n' "From: Spammer <spam@spam.test>" "To: r10@example.test" \
	    "Subject: prod big-header" "Message-Id: <bh@e2e.test>" \
	    "Date: Fri, 27 Nov 2026 12:00:00 +0000"
	for i in $(seq -w 3000); do
		printf 'X-Filler-%s: %s\r\n' "$i" ffffffffffffffffffffffffffffff
	done
	printf '\r\nbody E2E-KILL-MARK-7f3a\r\nbye\r\n'
} >"$work/bh.eml"
bh=$(send_held "$work/bh.eml" r10@example.test)
check "big-header message quarantined" [ -n "$bh" ]
n0=$(pf_delivered)
"$CTL" quarantine release "$bh" >"$work/relbh" 2>&1
check "big-header release exits 0" [ $? -eq 0 ]
pf_wait_delivered $((n0 + 1)) 30
f=$(grep -l '^Delivered-To: r10@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
check "big-header release delivered with its header fields and body" \
    sh -c "[ -n '$f' ] && grep -q '^Subject: .*prod big-header' '$f' && grep -q '^X-Filler-3000: f' '$f' && grep -q '^X-Filterd-Released: ' '$f' && grep -q '^body E2E-KILL' '$f'"
tap_done
