#!/usr/bin/env bash
# tests/e2e/postfix_faults.sh - filterd faults behind a real Postfix: no
# message may be lost, none may be duplicated by filterd.
#
#   A. 200 messages in flight through Postfix -> filterd: kill -9 one
#      worker, then kill -9 the master and every worker; restart filterd;
#      Postfix retries (backoff shrunk to 1-2 s by lib_postfix.sh). Every
#      message ends in the maildir, or is still queued: none lost. Exactly
#      once holds except where the kill fell between filterd's dot and the
#      reinjection's 250, which no SMTP relay can tell apart (RFC 1047;
#      Postfix logs "message may be sent more than once"); a duplicate of
#      any other kind fails the test.
#  A2. kill -9 the master alone: its workers notice, finish and exit by
#      themselves; a new filterd binds the port; nothing lost.
#   B. the reinjection smtpd is down: filterd answers 451 4.x.x, Postfix
#      keeps the message in its deferred queue, delivers it once the
#      listener is back.
#   C. the spool file system (a 1 MiB tmpfs) is full: 452 upstream, the
#      message stays queued, and arrives once space is free again.
#
# FAULT_COUNT (default 200) and FAULT_ROUNDS (default 1) make it longer;
# tests/soak/run.sh uses them.
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_postfix.sh
. ./lib_filterd.sh

COUNT=${FAULT_COUNT:-200}
ROUNDS=${FAULT_ROUNDS:-1}

cleanup()
{
	[ -n "${inj:-}" ] && kill "$inj" 2>/dev/null
	fd_cleanup
	pf_stop
	if [ -n "${E2E_KEEP:-}" ]; then
		echo "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
work=$(mktemp -d /tmp/filterd-e2e-flt.XXXXXX)
trap cleanup EXIT

# wait_for SECONDS CMD... - poll CMD every 50 ms
wait_for()
{
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
fd_lines() # number of per-message log lines so far
{
	grep -c ' action=' "$FD_LOG" 2>/dev/null
}
lines_ge()
{
	[ "$(fd_lines)" -ge "$1" ]
}
two_new_workers() # OLDPID: two workers, OLDPID not among them
{
	local w
	w=$(fd_workers)
	[ "$(echo "$w" | grep -c .)" -eq "${FD_WORKERS:-2}" ] &&
	    ! echo "$w" | grep -qx "$1"
}
# msgids PREFIX - "count id" for every delivered Message-Id <PREFIX-n@...>
msgids()
{
	find "$PF_MAILDIR/new" "$PF_MAILDIR/cur" -type f -print0 2>/dev/null |
	    xargs -0 -r grep -h -o "^Message-Id: <$1-[0-9]*@" |
	    sort | uniq -c
}
# queued_ids PREFIX - Message-Ids of messages still in Postfix's queue.
# While Postfix retries, queue files move between deferred/ and active/, so
# one scan can miss a file in transit: take the union of five scans a
# moment apart (a message seen queued once was not lost then; the
# delivered set is read after this, so nothing falls between the two).
queued_ids()
{
	local f n
	for n in 1 2 3 4 5; do
		find "$PF_QUEUE/incoming" "$PF_QUEUE/active" \
		    "$PF_QUEUE/deferred" "$PF_QUEUE/hold" -type f 2>/dev/null |
		    while read -r f; do
			postcat -c "$PF_CONF" -h "$f" 2>/dev/null |
			    grep -o "^Message-Id: <$1-[0-9]*@"
		done
		[ "$(pf_queued)" -eq 0 ] && break
		sleep 0.3
	done | sort -u
}
# swaks_qid FILE - the queue id from a swaks transcript
swaks_qid()
{
	sed -n 's/^<-  250 2.0.0 Ok: queued as \([0-9A-F]*\).*/\1/p' "$1"
}

read -r in_port fd_port re_port < <(e2e_ports 3)
if ! pf_start "$in_port" "$fd_port" "$re_port"; then
	not_ok "private postfix starts"
	tap_done
	exit 1
fi
# spool_memory_max 32k: the kill rounds below alternate between messages
# held in memory (20 KB, odd rounds) and messages spooled to disk (40 KB)
if ! fd_start "$fd_port" "$re_port" "spool_memory_max = 32k"; then
	not_ok "filterd starts on 127.0.0.1:$fd_port"
	tap_done
	exit 1
fi
ok "postfix (in $in_port, reinject $re_port) and filterd ($fd_port) up"

# account NAME PREFIX [nodefer] - after a fault: wait for the injector and
# the queue (Postfix log lines after line $mark belong to this fault);
# nodefer: a clean drain may leave Postfix nothing to retry
# then check that no message PREFIX-1..COUNT was lost or duplicated by
# filterd (see the duplicate rules below)
account()
{
	local name=$1 pfx=$2 nodefer=${3:-}
	local uniq_n dup_n q_n lost deferred own unflagged mid f uq np bounced
	wait "$inj"
	inj=
	check "$name: postfix accepted all $COUNT messages" \
	    grep -q "ok=$COUNT " "$work/inject-$pfx.log"
	pf_wait_queue_empty 120
	queued_ids "$pfx" >"$work/queued-$pfx"
	msgids "$pfx" >"$work/ids-$pfx"
	uniq_n=$(wc -l <"$work/ids-$pfx")
	dup_n=$(awk '$1 > 1' "$work/ids-$pfx" | wc -l)
	q_n=$(wc -l <"$work/queued-$pfx")
	lost=$(comm -23 \
	    <(for i in $(seq "$COUNT"); do echo "Message-Id: <$pfx-$i@"; done |
	    sort) \
	    <({ sed 's/^ *[0-9]* //' "$work/ids-$pfx"; \
	    cat "$work/queued-$pfx"; } | sort -u) | wc -l)
	deferred=$(tail -n +"$((mark + 1))" "$PF_LOG" |
	    grep -c "postfix/smtp-filterd/smtp.*status=deferred")
	diag "$name: delivered $uniq_n, duplicates $dup_n, queued $q_n, lost $lost, deferrals $deferred"
	[ "$dup_n" -gt 0 ] && diag "duplicates:" "$(awk '$1 > 1' "$work/ids-$pfx" | head)"
	[ -z "$nodefer" ] &&
	    check "$name: Postfix deferred and retried (the kills hit in-flight mail)" \
	    [ "$deferred" -gt 0 ]
	# a 5xx from filterd makes Postfix bounce: for a test message that
	# is a loss too (the bounce itself waits in the queue, undeliverable)
	bounced=$(tail -n +"$((mark + 1))" "$PF_LOG" |
	    grep "postfix/smtp-filterd/smtp.*status=bounced")
	[ -n "$bounced" ] && diag "bounced:" "$(head -5 <<<"$bounced")"
	check "$name: filterd bounced none ($(grep -c . <<<"$bounced"))" \
	    [ -z "$bounced" ]
	[ "$lost" -gt 0 ] && diag "lost:" "$(comm -23 \
	    <(for i in $(seq "$COUNT"); do echo "Message-Id: <$pfx-$i@"; done |
	    sort) \
	    <({ sed 's/^ *[0-9]* //' "$work/ids-$pfx"; \
	    cat "$work/queued-$pfx"; } | sort -u) | head -5)"
	check "$name: none lost ($lost)" [ "$lost" -eq 0 ]
	# A duplicate has two causes. (1) filterd got the downstream 250 but
	# died before its own 250 reached Postfix: filterd logged action=pass
	# for both attempts of the same upstream queue id. That window is
	# filterd's to close (answer upstream first, then clean up), so it
	# must never show. (2) filterd died after sending the dot downstream
	# and before reading the 250: no SMTP relay can know whether the
	# message was taken (RFC 1047); Postfix logs "message may be sent
	# more than once" for it. Any duplicate must be of that kind.
	own=0 unflagged=0
	for mid in $(awk '$1 > 1 { print $3 }' "$work/ids-$pfx"); do
		f=$(grep -l "^Message-Id: $mid" "$PF_MAILDIR"/new/* | head -1)
		uq=$(sed '/^$/q' "$f" | sed ':a;N;$!ba;s/\n[ \t]\+/ /g' |
		    sed -n 's/^Received: from loadgen.client.test .* with ESMTP id \([0-9A-F]*\)[; ].*/\1/p')
		np=$(grep -c "filterd\[[0-9]*\]: $uq: client=.* action=pass " \
		    "$FD_LOG")
		[ "$np" -gt 1 ] && own=$((own + 1))
		[ -n "$uq" ] && grep -q "$uq: to=.*message may be sent more than once" \
		    "$PF_LOG" || unflagged=$((unflagged + 1))
		diag "duplicate $mid (queue id $uq): filterd passed it $np times"
	done
	check "$name: no message passed twice by filterd (its 250 got lost $own times)" \
	    [ "$own" -eq 0 ]
	check "$name: every duplicate ($dup_n) is one Postfix flagged 'may be sent more than once' ($unflagged not)" \
	    [ "$unflagged" -eq 0 ]
	check "$name: all $COUNT delivered after restart ($uniq_n)" \
	    [ "$uniq_n" -eq "$COUNT" ]
}

# --- A. kill -9 with messages in flight ------------------------------------
for round in $(seq "$ROUNDS"); do
	pfx=flt$round
	base=$(fd_lines)
	mark=$(wc -l <"$PF_LOG")
	$E2E_SMTP send --port "$in_port" --count "$COUNT" --conc 8 \
	    --prefix "$pfx" --rcpt "f$round@example.test" \
	    --size $((round % 2 ? 20000 : 40000)) \
	    >"$work/inject-$pfx.log" 2>&1 &
	inj=$!

	# one worker, as soon as filterd has passed the first message
	wait_for 60 lines_ge $((base + 1))
	victim=$(fd_workers | head -1)
	q=$(pf_queued)
	d=$(msgids "$pfx" | wc -l)
	kill -9 "$victim" 2>/dev/null
	check "round $round: kill -9 worker $victim in flight ($d delivered, $q queued)" \
	    [ -n "$victim" -a "$q" -gt 0 ]
	check "round $round: master replaced the dead worker" \
	    wait_for 10 two_new_workers "$victim"

	# then the whole daemon, a little later
	wait_for 20 lines_ge $((base + COUNT / 4))
	q=$(pf_queued)
	d=$(msgids "$pfx" | wc -l)
	fd_kill9_all
	check "round $round: kill -9 master and workers in flight ($d delivered, $q queued)" \
	    [ "$q" -gt 0 ]
	sleep 1 # Postfix meets a closed port and defers
	check "round $round: filterd restarts" fd_restart

	account "round $round" "$pfx"
done

# --- A2. kill -9 the master alone: its workers must notice and go --------
pfx=fltm
base=$(fd_lines)
mark=$(wc -l <"$PF_LOG")
$E2E_SMTP send --port "$in_port" --count $((COUNT / 2)) --conc 8 \
    --prefix "$pfx" --rcpt fm@example.test --size 20000 \
    >"$work/inject-$pfx.log" 2>&1 &
inj=$!
wait_for 60 lines_ge $((base + 5))
orphans=$(fd_workers)
q=$(pf_queued)
kill -9 "$FD_PID"
wait "$FD_PID" 2>/dev/null
check "master: kill -9 master alone in flight ($q queued)" [ "$q" -gt 0 ]
gone() # PIDS...: none of them alive
{
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
# shellcheck disable=SC2086
check "master: its workers ($(echo $orphans)) exit by themselves" \
    wait_for 30 gone $orphans
# shellcheck disable=SC2086
kill -9 $orphans 2>/dev/null
check "master: filterd restarts on the same port" fd_restart
COUNT=$((COUNT / 2)) account master "$pfx" nodefer

# --- B. reinjection port down -----------------------------------------------
check "reinjection listener removed" pf_reinject_down
swaks -s 127.0.0.1 -p "$in_port" -f s@client.test -t rdown@example.test \
    --header 'Message-Id: <rdown-1@e2e.test>' >"$work/rdown.log" 2>&1
qid=$(swaks_qid "$work/rdown.log")
said451()
{
	grep -Eq "postfix/smtp-filterd/smtp\[[0-9]+\]: $qid: to=<rdown@example.test>, relay=127.0.0.1\[127.0.0.1\]:$fd_port, .*status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 451 4\.[0-9]+\.[0-9]+ " \
	    "$PF_LOG"
}
check "reinject down: filterd answered 451 4.x.x ($qid deferred)" \
    wait_for 30 said451
grep "$qid: to=" "$PF_LOG" | tail -1 | sed 's/^/# /'
sleep 3 # several retries come and go
# postqueue -p lists a deferred message with the last reason under it
# (not while a retry has it in the active queue: the checks poll)
pq_reason() # QID ERE: postqueue -p shows QID with that reason
{
	postqueue -c "$PF_CONF" -p | grep -A1 -E "^$1[*!]? " | grep -Eq "$2"
}
check "reinject down: postqueue -p lists $qid with the 451 reason" \
    wait_for 20 pq_reason "$qid" 'said: 451 4\.[0-9]+\.[0-9]+ '
# polled too: a retry renames the file between active/ and deferred/,
# and one find can walk past both while it moves (the soak hit that once)
check "reinject down: its queue file is in deferred/ (or active/ for a retry)" \
    wait_for 10 bash -c "find '$PF_QUEUE/deferred' '$PF_QUEUE/active' -name '$qid' | grep -q ."
check "reinject down: not delivered" \
    [ "$(msgids rdown | wc -l)" -eq 0 ]
check "reinject down: filterd logged action=tempfail" \
    grep -Eq "$qid: client=.* action=tempfail " "$FD_LOG"
check "reinjection listener back" pf_reinject_up
pf_wait_queue_empty 30
check "reinject back: delivered exactly once" \
    [ "$(msgids rdown | awk '{print $1}')" = 1 ]

# --- C. spool disk full ------------------------------------------------------
# messages over spool_memory_max (32k here) need the disk; smaller ones
# never touch it
fd_cleanup
if ! FD_SPOOL_TMPFS=1m fd_start "$fd_port" "$re_port" \
    "spool_memory_max = 32k"; then
	not_ok "filterd starts with a 1 MiB tmpfs spool"
	tap_done
	exit 1
fi
ok "filterd restarted with a 1 MiB tmpfs spool"
dd if=/dev/zero of="$FD_DIR/spool/filler" bs=4k >/dev/null 2>&1
diag "$(df -k "$FD_DIR/spool" | tail -1)"
swaks -s 127.0.0.1 -p "$in_port" -f s@client.test -t full@example.test \
    --header 'Message-Id: <full-1@e2e.test>' --body "$(head -c 60000 \
    /dev/zero | tr '\0' 'x' | fold -w 70)" >"$work/full.log" 2>&1
qid=$(swaks_qid "$work/full.log")
said452()
{
	grep -Eq "postfix/smtp-filterd/smtp\[[0-9]+\]: $qid: to=<full@example.test>, relay=127.0.0.1\[127.0.0.1\]:$fd_port, .*status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 452 4\.[0-9]+\.[0-9]+ " \
	    "$PF_LOG"
}
check "disk full: filterd answered 452 4.x.x ($qid deferred)" \
    wait_for 30 said452
grep "$qid: to=" "$PF_LOG" | tail -1 | sed 's/^/# /'
check "disk full: postqueue -p lists $qid with the 452 reason" \
    wait_for 20 pq_reason "$qid" 'said: 452 4\.[0-9]+\.[0-9]+ '

check "disk full: not delivered" [ "$(msgids full | wc -l)" -eq 0 ]
$E2E_SMTP send --port "$fd_port" --count 1 --prefix probe --timeout 20 \
    --size 40000 --out "$work/probe" >/dev/null 2>&1
check "disk full: a direct transaction over spool_memory_max gets 452 ($(cat "$work/probe"))" \
    grep -q '^probe-1 452 ' "$work/probe"
$E2E_SMTP send --port "$fd_port" --count 1 --prefix small --timeout 20 \
    --size 2000 --out "$work/small" >/dev/null 2>&1
check "disk full: one under spool_memory_max passes, spooled in memory ($(cat "$work/small"))" \
    grep -q '^small-1 250 ' "$work/small"
rm -f "$FD_DIR/spool/filler"
pf_wait_queue_empty 30
check "space back: delivered exactly once" \
    [ "$(msgids full | awk '{print $1}')" = 1 ]
check "space back: direct transactions pass again" fd_answers "$fd_port"
left=$(find "$FD_DIR/spool" -type f | wc -l)
check "spool holds no files after the queue drained ($left)" [ "$left" -eq 0 ]

tap_done
