#!/usr/bin/env bash
# tests/e2e/notify.sh - notifications through a private Postfix:
# spam_admin gets a short report per killed message, at most
# spam_admin_max_per_hour; final_spam_destiny = bounce sends a DSN
# (multipart/report, null sender) only to an authenticated sender
# (XFORWARD PROTO=ESMTPA), never to an unauthenticated one (no
# backscatter); the bounced message itself is not delivered.
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_postfix.sh
. ./lib_filterd.sh

cleanup()
{
	fd_cleanup
	pf_stop
	if [ -n "${E2E_KEEP:-}" ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
work=$(mktemp -d /tmp/filterd-e2e-ntf.XXXXXX)
trap cleanup EXIT

read -r in_port fd_port re_port < <(e2e_ports 3)
if ! pf_start "$in_port" "$fd_port" "$re_port"; then
	not_ok "private postfix starts"
	tap_done
	exit 1
fi
cat >"$work/e2e.cf" <<'EOF2'
body     E2E_KILL_MARK  /E2E-KILL-MARK-7f3a/
score    E2E_KILL_MARK  25.0
EOF2
if ! fd_start "$fd_port" "$re_port" "rules_local = $work/e2e.cf
use_bayes = no
kill_level = 20.0
final_spam_destiny = bounce
spam_admin = admin@example.test
spam_admin_max_per_hour = 2"; then
	not_ok "filterd starts"
	tap_done
	exit 1
fi
ok "postfix and filterd (destiny bounce, spam_admin) up"

msg() # ID
{
	printf '%s\r\n' "From: <bob@example.test>" "To: <rcpt@example.test>" \
	    "Subject: ntf $1" "Message-Id: <$1@e2e.test>" \
	    "Date: Fri, 27 Nov 2026 12:00:00 +0000" "" "E2E-KILL-MARK-7f3a"
}
# three unauthenticated killed messages through Postfix
for i in 1 2 3; do
	msg "u$i" >"$work/u$i.eml"
	swaks -s 127.0.0.1 -p "$in_port" -f bob@example.test \
	    -t rcpt@example.test --data @"$work/u$i.eml" >/dev/null 2>&1
done
# one from an authenticated sender: straight to filterd with XFORWARD
msg a1 >"$work/a1.eml"
/usr/bin/python3 - "$fd_port" "$work/a1.eml" <<'EOF2'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("e2e.test")
code, _ = s.docmd("XFORWARD", "NAME=mua.example.test ADDR=192.0.2.9 PROTO=ESMTPA")
assert code == 250, code
s.sendmail("carol@example.test", ["rcpt@example.test"], open(sys.argv[2], "rb").read())
s.quit()
EOF2
check "authenticated sender's message accepted (250)" [ $? -eq 0 ]
pf_wait_delivered 3 30
sleep 1
admin=$(grep -l '^Delivered-To: admin@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | wc -l)
check "spam_admin got 2 reports (4 killed, max 2 per hour), got $admin" \
    [ "$admin" -eq 2 ]
r=$(grep -l '^Delivered-To: admin@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
: "${r:=/dev/null}"
check "report: null sender, auto-generated, names score and tests" \
    sh -c "grep -q '^Return-Path: <>' '$r' && grep -q '^Auto-Submitted: auto-generated' '$r' && grep -q '^Tests: .*E2E_KILL_MARK' '$r' && grep -q '^Subject: \[filterd\] spam, score 25' '$r'"
check "no bounced message was delivered" \
    sh -c "! grep -lq '^Delivered-To: rcpt@example.test' $PF_MAILDIR/new/*"
check "no DSN to the unauthenticated sender (no backscatter)" \
    sh -c "! grep -lq '^Delivered-To: bob@example.test' $PF_MAILDIR/new/*"
d=$(grep -l '^Delivered-To: carol@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
check "the authenticated sender got a DSN" [ -n "$d" ]
: "${d:=/dev/null}"
check "DSN: multipart/report, delivery-status, null sender" \
    sh -c "grep -q '^Return-Path: <>' '$d' && grep -q 'report-type=delivery-status' '$d' && grep -q '^Content-Type: message/delivery-status' '$d'"
check "DSN: Final-Recipient, Action failed, Status 5.7.1" \
    sh -c "grep -q '^Final-Recipient: rfc822; rcpt@example.test' '$d' && grep -q '^Action: failed' '$d' && grep -q '^Status: 5.7.1' '$d'"
check "DSN: carries the original headers" \
    grep -q '^Message-Id: <a1@e2e.test>' "$d"
check "log: 4 discards" [ "$(grep -c 'action=discard' "$FD_LOG")" -eq 4 ]
tap_done
