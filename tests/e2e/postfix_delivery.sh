#!/usr/bin/env bash
# tests/e2e/postfix_delivery.sh - swaks -> Postfix -> filterd -> Postfix ->
# maildir, with a private Postfix instance and filterd on free loopback
# ports.
#
# Checks: each recipient gets the message exactly once, with the X-Spam
# headers; the envelope (sender, two recipients that differ from the To:
# header) survives; the body comes back byte for byte (dot-stuffing, 8-bit);
# the reinjection smtpd logs the original queue id and client it got by
# XFORWARD; filterd logs one line for the message under the inbound queue
# id.
#
# Where XFORWARD shows: Postfix's smtpd writes its own Received header from
# the connection it sees (filterd's EHLO, 127.0.0.1); the XFORWARD data goes
# to its log ("orig_queue_id=, orig_client=") and the queue file. The
# original client's Received header (HELO orig-client.test) is the one the
# inbound smtpd wrote, carried through filterd unchanged.
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
work=$(mktemp -d /tmp/filterd-e2e-dlv.XXXXXX)
trap cleanup EXIT

read -r in_port fd_port re_port < <(e2e_ports 3)
if ! pf_start "$in_port" "$fd_port" "$re_port"; then
	not_ok "private postfix starts"
	tap_done
	exit 1
fi
# Two rules of this test's own on top of the shipped set: one scores as
# spam (tag2_level), one reaches kill_level (quarantine).
cat >"$work/e2e.cf" <<'EOF'
body     E2E_SPAM_MARK  /E2E-SPAM-MARK-7f3a/
describe E2E_SPAM_MARK  e2e test marker: spam
score    E2E_SPAM_MARK  8.0
body     E2E_KILL_MARK  /E2E-KILL-MARK-7f3a/
describe E2E_KILL_MARK  e2e test marker: above kill_level
score    E2E_KILL_MARK  25.0
EOF
if ! fd_start "$fd_port" "$re_port" "rules_local = $work/e2e.cf
tag2_level = 5.0
kill_level = 20.0
final_spam_destiny = quarantine"; then
	not_ok "filterd starts on 127.0.0.1:$fd_port"
	tap_done
	exit 1
fi
ok "postfix (in $in_port, reinject $re_port) and filterd ($fd_port) up"

# --- 1. a message for two recipients; To: header names neither ------------
printf '%s\r\n' \
    "From: Header Sender <header-from@elsewhere.test>" \
    "To: undisclosed-recipients:;" \
    "Subject: e2e delivery" \
    "Message-Id: <dlv-1@e2e.test>" \
    "Date: Fri, 27 Nov 2026 12:00:00 +0000" \
    "MIME-Version: 1.0" \
    "Content-Type: text/plain; charset=iso-8859-1" \
    "Content-Transfer-Encoding: 8bit" \
    "" \
    "first line" \
    ".a line that starts with a dot" \
    ".." \
    "8-bit: $(printf '\xe9\xe8\xfc')" \
    "last line" >"$work/msg1.eml"
sed -n '/^\r$/,$p' "$work/msg1.eml" | tail -n +2 >"$work/body1"

swaks -s 127.0.0.1 -p "$in_port" --helo orig-client.test \
    -f env-sender@client.test -t u1@example.test,u2@example.test \
    --data @"$work/msg1.eml" >"$work/swaks1.log" 2>&1
check "postfix inbound accepted the message" \
    grep -q '^<-  250 2.0.0 Ok: queued as' "$work/swaks1.log"
qid1=$(sed -n 's/^<-  250 2.0.0 Ok: queued as \([0-9A-F]*\).*/\1/p' \
    "$work/swaks1.log")

pf_wait_delivered 2 30
# the maildir holds one file per recipient
files=$(grep -l '^Message-Id: <dlv-1@e2e.test>' "$PF_MAILDIR"/new/* \
    2>/dev/null)
n=$(echo "$files" | grep -c .)
check "two copies delivered (one per recipient), got $n" [ "$n" -eq 2 ]
f1=$(grep -l '^Delivered-To: u1@example.test' $files 2>/dev/null)
f2=$(grep -l '^Delivered-To: u2@example.test' $files 2>/dev/null)
check "u1@example.test got it exactly once" [ "$(echo "$f1" | grep -c .)" -eq 1 ]
check "u2@example.test got it exactly once" [ "$(echo "$f2" | grep -c .)" -eq 1 ]
f1=$(echo "$f1" | head -1)
[ -n "$f1" ] || f1=/dev/null

# wait_grep SECONDS ERE FILE - filterd logs after its reply: wait for it
wait_grep()
{
	local i
	for i in $(seq $(($1 * 10))); do
		grep -Eq "$2" "$3" && return 0
		sleep 0.1
	done
	return 1
}
swaks_qid() # FILE: the queue id from a swaks transcript
{
	sed -n 's/^<-  250 2.0.0 Ok: queued as \([0-9A-F]*\).*/\1/p' "$1"
}
hdr() # FILE: the header section, unfolded
{
	sed '/^$/q' "$1" | sed ':a;N;$!ba;s/\n[ \t]\+/ /g'
}
hdr "$f1" >"$work/h1"
diag "delivered header:" "$(cat "$work/h1")"
check "envelope sender kept (Return-Path)" \
    grep -q '^Return-Path: <env-sender@client.test>$' "$work/h1"
# (SpamAssassin folds the tests= list after a comma, so unfolded it may
# hold "A,B, C")
check "X-Spam-Status in SpamAssassin format" \
    grep -Eq '^X-Spam-Status: (Yes|No), score=-?[0-9]+\.[0-9] required=-?[0-9]+\.[0-9] tests=(none|[A-Z0-9_]+(,[[:space:]]*[A-Z0-9_]+)*)( autolearn=[a-z]+)?( version=[^ ]+)?$' \
    "$work/h1"
check "X-Spam-Score present" \
    grep -Eq '^X-Spam-Score: -?[0-9]+\.[0-9]$' "$work/h1"
check "X-Spam-Level present" grep -q '^X-Spam-Level: \**$' "$work/h1"
check "X-Spam-Status exactly once" \
    [ "$(grep -c '^X-Spam-Status:' "$work/h1")" -eq 1 ]
# score in X-Spam-Status and X-Spam-Score agree
s1=$(sed -n 's/^X-Spam-Status: [A-Za-z]*, score=\([-0-9.]*\) .*/\1/p' \
    "$work/h1")
s2=$(sed -n 's/^X-Spam-Score: //p' "$work/h1")
check "X-Spam-Score ($s2) = X-Spam-Status score ($s1)" \
    [ -n "$s1" -a "$s1" = "$s2" ]

# Received chain: reinjection on top, then the inbound one with the client's
# HELO and the first queue id.
rcvd=$(grep '^Received:' "$work/h1")
qid2=$(echo "$rcvd" | sed -n '1s/.* with E\?SMTP id \([0-9A-F]*\)[; ].*/\1/p')
check "top Received is the reinjection smtpd (id $qid2 != $qid1)" \
    [ -n "$qid2" -a "$qid2" != "$qid1" ]
check "inbound Received with the client's HELO and queue id $qid1 kept" \
    grep -Eq "^Received: from orig-client.test \(localhost \[127.0.0.1\]\) by pf-e2e.test \(Postfix\) with ESMTP id $qid1[; ]" \
    "$work/h1"
check "reinjection smtpd logged the XFORWARD client and queue id" \
    grep -Eq "postfix/reinject/smtpd\[[0-9]+\]: $qid2: client=localhost\[127.0.0.1\], orig_queue_id=$qid1, orig_client=localhost\[127.0.0.1\]" \
    "$PF_LOG"
check "smtp-filterd delivered both recipients via filterd" \
    [ "$(grep -Ec "postfix/smtp-filterd/smtp\[[0-9]+\]: $qid1: to=<u[12]@example.test>, relay=127.0.0.1\[127.0.0.1\]:$fd_port, .*status=sent" "$PF_LOG")" -eq 2 ]

# swaks ends the data with one more CRLF: compare without trailing blanks
sed -n '/^$/,$p' "$f1" | tail -n +2 | python3 -c \
    'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().rstrip(b"\n"))' \
    >"$work/body1.out"
tr -d '\r' <"$work/body1" | python3 -c \
    'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().rstrip(b"\n"))' \
    >"$work/body1.lf"
check "body unchanged (dot lines, 8-bit kept: no 8BITMIME downgrade)" \
    cmp -s "$work/body1.lf" "$work/body1.out"

# filterd's one log line, under the inbound queue id (XFORWARD IDENT)
wait_grep 10 "filterd\[[0-9]+\]: $qid1: client=" "$FD_LOG"
line=$(grep -E "filterd\[[0-9]+\]: $qid1: client=" "$FD_LOG")
diag "filterd: $line"
check "filterd logged one line for $qid1" \
    [ "$(echo "$line" | grep -c .)" -eq 1 ]
check "log line has client, from, rcpts, score, tests, action, time" \
    grep -Eq "$qid1: client=localhost\[127.0.0.1\] from=<env-sender@client.test> rcpts=2 score=-?[0-9]+\.[0-9]/-?[0-9]+\.[0-9] tests=[^ ]+ action=pass size=[0-9]+ time=[0-9]+ms" \
    <<<"$line"

# --- 2. twelve recipients: more than fit one pipelined burst -------------
rcpts=$(seq -f 'm%g@example.test' 12 | paste -sd,)
swaks -s 127.0.0.1 -p "$in_port" --helo orig-client.test \
    -f many@client.test -t "$rcpts" \
    --header 'Message-Id: <dlv-many@e2e.test>' >"$work/swaks2.log" 2>&1
pf_wait_delivered 14 20
got=0
for i in $(seq 12); do
	n=$(grep -l '^Message-Id: <dlv-many@e2e.test>' "$PF_MAILDIR"/new/* \
	    2>/dev/null | xargs -r grep -l "^Delivered-To: m$i@example.test" |
	    wc -l)
	[ "$n" -eq 1 ] && got=$((got + 1))
done
check "12 recipients: each got the message exactly once ($got/12)" \
    [ "$got" -eq 12 ]
qidm=$(sed -n 's/^<-  250 2.0.0 Ok: queued as \([0-9A-F]*\).*/\1/p' \
    "$work/swaks2.log")
grep "$qidm: to=<m1@" "$PF_LOG" | tail -1 | sed 's/^/# /'
check "12 recipients: filterd logged rcpts=12" \
    wait_grep 10 "$qidm: client=.* rcpts=12 .* action=pass " "$FD_LOG"

# --- 3. spam: tagged and passed; above kill_level: quarantined ------------
swaks -s 127.0.0.1 -p "$in_port" -f spammer@client.test -t s1@example.test \
    --header 'Message-Id: <dlv-spam@e2e.test>' \
    --header 'Subject: cheap offer' \
    --body 'buy now E2E-SPAM-MARK-7f3a' >"$work/swaks3.log" 2>&1
swaks -s 127.0.0.1 -p "$in_port" -f spammer@client.test -t s2@example.test \
    --header 'Message-Id: <dlv-kill@e2e.test>' \
    --body 'E2E-KILL-MARK-7f3a' >"$work/swaks4.log" 2>&1
qids=$(swaks_qid "$work/swaks3.log") qidk=$(swaks_qid "$work/swaks4.log")
pf_wait_delivered 15 20
fs=$(grep -l '^Message-Id: <dlv-spam@e2e.test>' "$PF_MAILDIR"/new/* \
    2>/dev/null | head -1)
[ -n "$fs" ] || fs=/dev/null
hdr "$fs" >"$work/h3"
check "spam: delivered, X-Spam-Flag: YES" grep -q '^X-Spam-Flag: YES$' "$work/h3"
check "spam: X-Spam-Status: Yes with E2E_SPAM_MARK" \
    grep -Eq '^X-Spam-Status: Yes, score=[0-9]+\.[0-9] required=5\.0 tests=.*E2E_SPAM_MARK' \
    "$work/h3"
check "spam: X-Spam-Level has at least 8 stars" \
    grep -q '^X-Spam-Level: \*\*\*\*\*\*\*\*' "$work/h3"
check "spam: subject tagged" grep -q '^Subject: \*\*\*SPAM\*\*\* cheap offer$' \
    "$work/h3"
check "spam: filterd logged action=pass-spam" \
    wait_grep 10 "$qids: client=.* tests=[^ ]*E2E_SPAM_MARK[^ ]* action=pass-spam " \
    "$FD_LOG"
wait_quarantine()
{
	local i
	for i in $(seq 100); do
		grep -lq '^Message-Id: <dlv-kill@e2e.test>' \
		    "$FD_DIR"/quarantine/new/* 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
check "kill_level: message in the quarantine maildir" wait_quarantine
check "kill_level: filterd logged action=quarantine" \
    wait_grep 10 "$qidk: client=.* action=quarantine " "$FD_LOG"
check "kill_level: Postfix got 250 (sent, not deferred)" \
    grep -Eq "smtp-filterd/smtp\[[0-9]+\]: $qidk: to=<s2@example.test>, .*status=sent" \
    "$PF_LOG"
check "kill_level: not delivered to the mailbox" \
    [ -z "$(grep -l '^Message-Id: <dlv-kill@e2e.test>' "$PF_MAILDIR"/new/* 2>/dev/null)" ]

# --- 4. ten messages in a row, one connection each -------------------------
before=$(pf_delivered)
$E2E_SMTP send --port "$in_port" --count 10 --conc 2 --prefix dlv-seq \
    --rcpt u3@example.test >"$work/send2.log" 2>&1
check "postfix accepted 10 more messages" grep -q 'ok=10 ' "$work/send2.log"
pf_wait_delivered $((before + 10)) 30
dups=$(cat "$PF_MAILDIR"/new/* | grep -o '^Message-Id: <dlv-seq-[0-9]*@' |
    sort | uniq -c | awk '$1 != 1' | wc -l)
got=$(cat "$PF_MAILDIR"/new/* | grep -o '^Message-Id: <dlv-seq-[0-9]*@' |
    sort -u | wc -l)
check "10 of 10 delivered ($got), no duplicates ($dups)" \
    [ "$got" -eq 10 -a "$dups" -eq 0 ]
# --- a recipient the reinjection refuses for good (lib_postfix.sh's
# reinject listener rejects refused-downstream@): SMTP has one reply for
# all recipients, so filterd sends the DSN itself and says 250; the other
# recipient gets the message once, nothing is retried
# send_two NAME FROM TO OTHER SUBJECT MSGID BODY - one message from FROM
# to TO and OTHER through Postfix ($work/NAME.eml, swaks-NAME.log)
send_two()
{
	printf '%s\r\n' "From: Owner <$2>" "To: $3" "Subject: $5" \
	    "Message-Id: <$6>" "Date: Fri, 27 Nov 2026 12:00:00 +0000" "" \
	    "$7" >"$work/$1.eml"
	swaks -s 127.0.0.1 -p "$in_port" -f "$2" -t "$3,$4" \
	    --data @"$work/$1.eml" >"$work/swaks-$1.log" 2>&1
}
before=$(pf_delivered)
send_two ref owner@example.test u5@example.test \
    refused-downstream@example.test "e2e refused downstream" \
    dlv-refused@e2e.test hello
pf_wait_delivered $((before + 2)) 30
# (the DSN quotes the header section: count the copies delivered to u5)
nref=$(grep -l '^Message-Id: <dlv-refused@e2e.test>' "$PF_MAILDIR"/new/* 2>/dev/null |
    xargs -r grep -l '^Delivered-To: u5@example.test' | wc -l)
dsn=$(grep -l '^Delivered-To: owner@example.test' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
check "refused downstream: u5 got the message exactly once ($nref)" \
    [ "$nref" -eq 1 ]
check "refused downstream: the sender got a DSN naming the refused recipient" \
    sh -c "[ -n '$dsn' ] && grep -q '^Return-Path: <>' '$dsn' && grep -q 'report-type=delivery-status' '$dsn' && grep -q '^Final-Recipient: rfc822; refused-downstream@example.test' '$dsn' && grep -q '^Status: 5\.7\.1' '$dsn' && grep -q '^Diagnostic-Code: smtp; 554 5\.7\.1' '$dsn' && ! grep -q '^Final-Recipient: rfc822; u5@' '$dsn'"
check "refused downstream: filterd logged the DSN" \
    grep -q 'DSN for the recipients refused downstream sent to <owner@example.test>' "$FD_LOG"
# the same for spam (E2E_SPAM_MARK: score 8 >= tag2_level): its sender is
# most likely forged, so no DSN (backscatter); u6 still gets it once
before=$(pf_delivered)
send_two ref2 owner2@example.test u6@example.test \
    refused-downstream@example.test "e2e refused spam" \
    dlv-refused-spam@e2e.test E2E-SPAM-MARK-7f3a
pf_wait_delivered $((before + 1)) 30
for i in $(seq 25); do
	grep -q 'no DSN for the recipients refused downstream' "$FD_LOG" && break
	sleep 0.2
done
sleep 1 # a DSN, if one were sent, would be delivered by now
check "refused downstream, spam: u6 got it, no DSN to the sender" \
    sh -c "grep -l '^Message-Id: <dlv-refused-spam@e2e.test>' $PF_MAILDIR/new/* | xargs grep -l '^Delivered-To: u6@example.test' | grep -q . && ! grep -lq '^Delivered-To: owner2@example.test' $PF_MAILDIR/new/* && grep -q 'no DSN for the recipients refused downstream' '$FD_LOG'"
# --- a recipient the reinjection defers (lib_postfix.sh's reinject
# listener says 450 to deferred-downstream@): SMTP has one reply for all
# recipients, so filterd says 451 and nobody gets the body, or Postfix's
# retries would deliver u7 a copy each time. Released, each recipient
# gets it exactly once.
before=$(pf_delivered)
send_two def owner3@example.test u7@example.test \
    deferred-downstream@example.test "e2e deferred downstream" \
    dlv-deferred@e2e.test hello
ndef()
{
	grep -c 'reinject <deferred-downstream@example.test>: 450 ' "$FD_LOG"
}
for i in $(seq 100); do [ "$(ndef)" -ge 3 ] && break; sleep 0.2; done
ncopies()
{
	grep -l '^Message-Id: <dlv-deferred@e2e.test>' "$PF_MAILDIR"/new/* \
	    2>/dev/null | xargs -r grep -l "^Delivered-To: $1" | wc -l
}
check "deferred downstream: tried 3 times ($(ndef)), u7 got no copy ($(ncopies u7@example.test))" \
    [ "$(ndef)" -ge 3 -a "$(ncopies u7@example.test)" -eq 0 ]
check "deferred downstream: postfix keeps it (451 from filterd)" \
    sh -c "[ $(pf_queued) -eq 1 ] && grep -q 'said: 451 4.4.0 Error: some recipients deferred downstream' '$PF_LOG'"
pf_release_deferred
for i in $(seq 50); do
	pf_flush
	[ "$(ncopies deferred-downstream@example.test)" -ge 1 ] && break
	sleep 0.2
done
pf_wait_delivered $((before + 2)) 20
check "deferred downstream, released: u7 and the deferred one got it once each ($(ncopies u7@example.test), $(ncopies deferred-downstream@example.test))" \
    [ "$(ncopies u7@example.test)" -eq 1 -a "$(ncopies deferred-downstream@example.test)" -eq 1 ]
check "postfix queue empty" [ "$(pf_queued)" -eq 0 ]
check "no filterd worker died" \
    [ "$(grep -Ec 'worker [0-9]+ (killed by signal|exited with)' "$FD_LOG")" -eq 0 ]
seq_lines()
{
	[ "$(grep -Ec 'filterd\[[0-9]+\]: [0-9A-F]+: client=.*from=<sender@client.test> .* action=pass ' "$FD_LOG")" -eq 10 ]
}
for i in $(seq 50); do seq_lines && break; sleep 0.2; done
check "10 more filterd log lines" seq_lines

tap_done
