#!/usr/bin/env bash
# tests/e2e/miltertest.sh - Debian's miltertest against filterd's milter
# front door (milter_socket = inet:PORT@127.0.0.1): the Lua scripts
# miltertest_headers.lua (X-Spam-* added/deleted, Subject tagged, body in
# chunks, two messages per connection), miltertest_abort.lua (the MTA
# disconnecting mid-message, abort, no body), miltertest_quarantine.lua
# (final_spam_destiny = quarantine -> smfi_quarantine) and
# miltertest_reject.lua (reject -> 550 5.7.1, discard -> SMFIR_DISCARD),
# each with filterd restarted for its policy; then the log line per
# message with the macros' queue id, client and sender.
set -u
cd "$(dirname "$0")"
. ./lib_filterd.sh
. ./lib_milter.sh

work=$(mktemp -d /tmp/filterd-e2e-mt.XXXXXX)
cleanup()
{
	fd_cleanup
	if [ -n "${E2E_KEEP:-}" ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if ! command -v miltertest >/dev/null; then
	not_ok "miltertest installed (make deps)"
	tap_done
	exit 1
fi
fe_private_bins "$work"
read -r fd_port re_port mi_port < <(e2e_ports 3)

# run_lua SCRIPT [-D k=v]... - one TAP line per "ok - "/"not ok - " echo
run_lua()
{
	local s=$1 out rc
	shift
	out=$(timeout 120 miltertest -D sock="inet:$mi_port@127.0.0.1" \
	    -D dir="$PWD" "$@" -s "$s" 2>&1)
	rc=$?
	while IFS= read -r l; do
		case $l in
		"ok - "*) ok "${s%.lua}: ${l#ok - }" ;;
		"not ok - "*) not_ok "${s%.lua}: ${l#not ok - }" ;;
		*) [ -n "$l" ] && diag "$l" ;;
		esac
	done <<<"$out"
	check "$s ran to the end (exit $rc)" [ $rc -eq 0 ]
}

# start DESTINY - filterd with the milter and final_spam_destiny
start()
{
	fd_stop
	if [ -z "${FD_CONF:-}" ]; then
		fd_start "$fd_port" "$re_port" \
		    "$(fe_extra "$work" none "$mi_port")
final_spam_destiny = $1" || return 1
	else
		sed -i "s/^final_spam_destiny = .*/final_spam_destiny = $1/" \
		    "$FD_CONF"
		fd_restart || return 1
	fi
	fe_wait_port "$mi_port"
}

if ! start pass; then
	not_ok "filterd starts with milter_socket = inet:$mi_port@127.0.0.1"
	tap_done
	exit 1
fi
ok "filterd up, milter on inet:$mi_port@127.0.0.1"
run_lua miltertest_headers.lua
check "log: one line per message with queue id, client and sender" \
    grep -q 'QIDTAG1: milter client=mx.sender.test\[192.0.2.10\] from=<sender@sender.test> rcpts=1 score=[0-9.]*/5.0 tests=.*T_FD_TAGTOKEN.* action=pass-spam' "$FD_LOG"

run_lua miltertest_abort.lua
check "log: no line for the cut or aborted transactions" \
    [ -z "$(grep -E 'QIDAB[123]: milter' "$FD_LOG")" ]

# 8 MTA connections at once: libmilter threads, one scan thread
for i in $(seq 8); do
	timeout 120 miltertest -D sock="inet:$mi_port@127.0.0.1" -D dir="$PWD" \
	    -s miltertest_headers.lua >"$work/par.$i" 2>&1 &
	pids="${pids:-} $!"
done
wait $pids   # not a bare wait: filterd is a child of this shell too
npass=$(cat "$work"/par.* | grep -c '^ok - ')
nfail=$(cat "$work"/par.* | grep -c '^not ok - ')
want=$((8 * $(grep -c '^tap(' miltertest_headers.lua)))
check "8 parallel miltertest runs: $npass of $want checks passed, $nfail failed" \
    [ "$npass" -eq "$want" -a "$nfail" -eq 0 ]

# SIGHUP: the milter process stops cleanly and comes back with the config
kill -HUP "$FD_PID"
for i in $(seq 150); do
	[ "$(grep -c 'milter: listening' "$FD_LOG")" -ge 2 ] && break
	sleep 0.1
done
check "SIGHUP: milter process stopped cleanly and restarted" \
    grep -q 'milter: stopped' "$FD_LOG"
run_lua miltertest_headers.lua

start quarantine && run_lua miltertest_quarantine.lua
check "log: quarantine action logged" \
    grep -q 'QIDQ1: milter .* action=quarantine' "$FD_LOG"
start reject && run_lua miltertest_reject.lua
check "log: reject action logged" grep -q 'QIDR1: milter .* action=reject' "$FD_LOG"
start discard && run_lua miltertest_reject.lua -D destiny=discard
check "log: discard action logged" grep -q 'QIDR1: milter .* action=discard' "$FD_LOG"

# the milter process is a child of the master; SIGTERM stops it too
mpid=$(pgrep -P "$FD_PID" | while read -r p; do
	ss -ltnp 2>/dev/null | grep -q ":$mi_port .*pid=$p," && echo "$p"; done)
fd_stop
sleep 0.3
gone() { [ -n "$mpid" ] && [ ! -d "/proc/$mpid" ] &&
    ! ss -ltn | grep -q ":$mi_port "; }
check "filterd stop: milter process ${mpid:-?} gone, port closed" gone
tap_done
