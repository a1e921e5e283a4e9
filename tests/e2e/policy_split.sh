#!/usr/bin/env bash
# tests/e2e/policy_split.sh - policy banks and the recipient policy map
# through a private Postfix: one message for four recipients with four
# different policies is delivered as one reinjection per policy group
# (amavis style), so nobody gets another recipient's treatment.
#
#   normal@   the MYNETS bank (clients in mynetworks): subject tag [MYNETS]
#   lover@    bypass=yes: no X-Spam headers, Subject untouched
#   tagme@    tag2_level=3, its own subject tag (over the bank's)
#   jail@     kill_level=5 + quarantine: held, envelope = jail@ only
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
work=$(mktemp -d /tmp/filterd-e2e-pol.XXXXXX)
trap cleanup EXIT

read -r in_port fd_port re_port pl_port < <(e2e_ports 4)
cat >"$work/e2e.cf" <<'EOF2'
body     E2E_SPAM_MARK  /E2E-SPAM-MARK-7f3a/
score    E2E_SPAM_MARK  8.0
EOF2
cat >"$work/banks" <<EOF2
# bank     key = value
MYNETS     spam_subject_tag = "[MYNETS] "
MYNETS     use_dnsbl = no
port:$pl_port  spam_subject_tag = "[PORT] "
EOF2
cat >"$work/rcpts" <<'EOF2'
lover@example.test   bypass=yes
tagme@example.test   tag2_level=3 spam_subject_tag="[TAGGED] "
jail@example.test    kill_level=5 final_spam_destiny=quarantine
a-first@example.test spam_subject_tag="[FIRST] "
EOF2

# config errors name the file and line
printf 'x@example.test  tag2_level=abc\n' >"$work/bad_rcpts"
cat >"$work/t.conf" <<EOF2
rules_dir = $E2E_ROOT/rules/default
rules_local =
run_as_root = yes
recipient_policy = $work/bad_rcpts
EOF2
out=$("$FILTERD_BIN" -t -c "$work/t.conf" 2>&1)
check "bad recipient_policy value refused with file:line ($out)" \
    grep -q "bad_rcpts:1:" <<<"$out"
printf 'x@example.test  use_bayes=no\n' >"$work/bad_rcpts"
out=$("$FILTERD_BIN" -t -c "$work/t.conf" 2>&1)
check "non-action key per recipient refused" \
    grep -q "cannot be set per recipient" <<<"$out"
printf 'NOBANK tag2_level = 3\n' >"$work/bad_banks"
sed -i "s|^recipient_policy.*|policy_banks = $work/bad_banks|" "$work/t.conf"
out=$("$FILTERD_BIN" -t -c "$work/t.conf" 2>&1)
check "unknown bank refused" grep -q "bad_banks:1: unknown bank" <<<"$out"

if ! pf_start "$in_port" "$fd_port" "$re_port"; then
	not_ok "private postfix starts"
	tap_done
	exit 1
fi
if ! fd_start "$fd_port" "$re_port" "rules_local = $work/e2e.cf
use_bayes = no
tag2_level = 5.0
kill_level = 20.0
mynetworks = 127.0.0.0/8
policy_listen = 127.0.0.1:$pl_port
spam_admin = admin@example.test
policy_banks = $work/banks
recipient_policy = $work/rcpts"; then
	not_ok "filterd starts"
	tap_done
	exit 1
fi
ok "postfix and filterd with policy banks and a recipient map up"

printf '%s\r\n' "From: <sender@client.test>" "To: list@example.test" \
    "Subject: split me" "Message-Id: <split-1@e2e.test>" \
    "Date: Fri, 27 Nov 2026 12:00:00 +0000" "" \
    "E2E-SPAM-MARK-7f3a" "last line" >"$work/m.eml"
swaks -s 127.0.0.1 -p "$in_port" -f sender@client.test \
    -t normal@example.test,lover@example.test,tagme@example.test,jail@example.test \
    --data @"$work/m.eml" >"$work/swaks.log" 2>&1
check "postfix accepted the message" \
    grep -q '^<-  250 2.0.0 Ok: queued as' "$work/swaks.log"
pf_wait_delivered 4 30
sleep 0.5
get() # RCPT: the delivered file
{
	grep -l "^Delivered-To: $1@example.test" "$PF_MAILDIR"/new/* \
	    2>/dev/null | head -1
}
fn=$(get normal) fl=$(get lover) ft=$(get tagme) fj=$(get jail)
check "normal, lover and tagme got it" [ -n "$fn" -a -n "$fl" -a -n "$ft" ]
check "jail got nothing delivered" [ -z "$fj" ]
check "exactly 4 deliveries (3 groups + the spam_admin report)" \
    [ "$(pf_delivered)" -eq 4 ]
check "spam_admin report only for the killed group (jail@, 1 rcpt)" \
    sh -c "grep -l '^Delivered-To: admin@example.test' $PF_MAILDIR/new/* | xargs grep -l '^Recipients: 1' | xargs grep -q '<jail@example.test>'"
: "${fn:=/dev/null}" "${fl:=/dev/null}" "${ft:=/dev/null}"
hdr() { sed '/^$/q' "$1"; }
check "normal: bank MYNETS subject tag" \
    grep -q '^Subject: \[MYNETS\] split me' <(hdr "$fn")
check "normal: X-Spam-Flag YES" grep -q '^X-Spam-Flag: YES' <(hdr "$fn")
check "lover (bypass): Subject untouched" \
    grep -q '^Subject: split me' <(hdr "$fl")
check "lover (bypass): no X-Spam-Flag / X-Spam-Status" \
    sh -c "! grep -q '^X-Spam-\(Flag\|Status\)' '$fl'"
check "tagme: its own tag wins over the bank's" \
    grep -q '^Subject: \[TAGGED\] split me' <(hdr "$ft")
check "no copy carries another recipient's tag" \
    sh -c "[ \$(grep -l 'TAGGED' $PF_MAILDIR/new/* | wc -l) -eq 1 ] && [ \$(grep -l '^Subject: \[MYNETS\]' $PF_MAILDIR/new/* | wc -l) -eq 1 ]"
# each group is its own downstream transaction: 3 reinjections
n=$(grep -c 'orig_queue_id=' "$PF_LOG" 2>/dev/null || echo 0)
check "3 downstream transactions (one per delivered group), got $n" \
    [ "$n" -eq 3 ]
q=$(ls "$FD_DIR/quarantine/new/" 2>/dev/null | head -1)
check "jail: quarantined" [ -n "$q" ]
check "jail: its quarantined envelope has only jail@" \
    grep -q '^X-Filterd-Envelope: v=1; rcpts=1; ' "$FD_DIR/quarantine/new/$q"
check "jail: envelope To is jail@" \
    grep -q '^X-Filterd-Envelope-To: <jail@example.test>' "$FD_DIR/quarantine/new/$q"
check "filterd logs 4 policy groups" \
    [ "$(grep -c 'policy group [0-9]/4' "$FD_LOG")" -eq 4 ]
check "summary line: action=quarantine (most severe group)" \
    grep -q 'rcpts=4 score=.* action=quarantine' "$FD_LOG"
diag "$(grep -E 'policy group|rcpts=4' "$FD_LOG")"

# one recipient: no split, normal path with the bank
swaks -s 127.0.0.1 -p "$in_port" -f sender@client.test \
    -t tagme@example.test --data @"$work/m.eml" >/dev/null 2>&1
pf_wait_delivered 5 30
check "single recipient: map applies without a split" \
    [ "$(grep -l '^Subject: \[TAGGED\]' "$PF_MAILDIR"/new/* | wc -l)" -eq 2 ]
check "no policy group lines for it" \
    [ "$(grep -c 'policy group' "$FD_LOG")" -eq 4 ]

# the second listener (policy_listen) selects bank port:N over MYNETS
swaks -s 127.0.0.1 -p "$pl_port" -f sender@client.test \
    -t normal@example.test --data @"$work/m.eml" >"$work/swaks2.log" 2>&1
check "policy_listen port accepts" \
    grep -q '^<-  250 2.0.0 Ok: queued as' "$work/swaks2.log"
pf_wait_delivered 6 30
check "bank port:$pl_port applied (its subject tag)" \
    grep -lq '^Subject: \[PORT\] split me' "$PF_MAILDIR"/new/*

# a recipient deferred downstream (lib_postfix.sh's reinject listener
# defers deferred-downstream@) in the second of three groups (Postfix
# sorts the recipients: a-first@, deferred-downstream@, tagme@): 451 for
# the message, and no group gets a copy per attempt: the first group's
# transaction was held at its 354 and dropped, the third never started.
# And a group deferred after its final dot (the listener's end-of-data
# restriction defers a-a-eod-deferred@, the first of three groups): its
# commit fails, so the two held after it are not committed (before,
# they were, and each upstream retry gave them another copy). Released,
# each group of both messages gets exactly one.
printf '%s\r\n' "From: <sender@client.test>" "To: list@example.test" \
    "Subject: split deferred" "Message-Id: <split-def@e2e.test>" \
    "Date: Fri, 27 Nov 2026 12:00:00 +0000" "" "hello" >"$work/d.eml"
sed 's/split-def@/split-eod@/; s/split deferred/split eod/' "$work/d.eml" >"$work/e.eml"
swaks -s 127.0.0.1 -p "$in_port" -f sender@client.test \
    -t a-first@example.test,deferred-downstream@example.test,tagme@example.test \
    --data @"$work/d.eml" >"$work/swaks3.log" 2>&1
swaks -s 127.0.0.1 -p "$in_port" -f sender@client.test \
    -t a-a-eod-deferred@example.test,a-first@example.test,tagme@example.test \
    --data @"$work/e.eml" >"$work/swaks4.log" 2>&1
ndef()
{
	grep -c 'reinject <deferred-downstream@example.test>: 450 ' "$FD_LOG"
}
neod()
{
	grep -c 'reinject <a-a-eod-deferred@example.test>: 4[0-9][0-9] ' "$FD_LOG"
}
copies() # MSGID-PART RCPT
{
	grep -l "^Message-Id: <split-$1@e2e.test>" "$PF_MAILDIR"/new/* \
	    2>/dev/null | xargs -r grep -l "^Delivered-To: $2@example.test" |
	    wc -l
}
# counts TAG RCPT... - "n, n, ...": the copies each RCPT got
counts()
{
	local t=$1 r out=
	shift
	for r; do out="$out${out:+, }$(copies "$t" "$r")"; done
	echo "$out"
}
# all_got N TAG RCPT... - every RCPT got exactly N copies
all_got()
{
	local n=$1 t=$2 r
	shift 2
	for r; do [ "$(copies "$t" "$r")" -eq "$n" ] || return 1; done
}
# tried_none TRIES MIN TAG RCPT... - the deferred group was tried at least
# MIN times (TRIES, a counter) and none of RCPT got a copy
tried_none()
{
	[ "$($1)" -ge "$2" ] && all_got 0 "${@:3}"
}
for i in $(seq 150); do
	[ "$(ndef)" -ge 3 ] && [ "$(neod)" -ge 2 ] && break
	[ $((i % 10)) = 0 ] && pf_flush
	sleep 0.2
done
check "deferred group: 3 tries ($(ndef)), the groups before and after it got nothing ($(counts def a-first tagme))" \
    tried_none ndef 3 def a-first tagme
check "group deferred at its final dot: $(neod) tries, the held groups after it got nothing ($(counts eod a-first tagme))" \
    tried_none neod 2 eod a-first tagme
pf_release_deferred
for i in $(seq 300); do
	[ $((i % 5)) = 1 ] && pf_flush
	n6=0
	for m in "def a-first" "def deferred-downstream" "def tagme" \
	    "eod a-a-eod-deferred" "eod a-first" "eod tagme"; do
		[ "$(copies $m)" -ge 1 ] && n6=$((n6 + 1))
	done
	[ "$n6" = 6 ] && break
	sleep 0.2
done
check "released: every group got it once ($(counts def a-first deferred-downstream tagme))" \
    all_got 1 def a-first deferred-downstream tagme
check "released: every group of the end-of-data one got it once ($(counts eod a-a-eod-deferred a-first tagme))" \
    all_got 1 eod a-a-eod-deferred a-first tagme
tap_done
